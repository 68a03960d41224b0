"""The operator endpoint's function, run from its asset and layers as Lambda would, handed
the published Function URL payload of a request signed with IAM (tests/fixtures/aws): the
signer is who acts; a principal the pipeline does not list, or none, is refused, writing
nothing; its AWS calls are held to its role's policy."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.dynamodb import DynamoDBEventStore
from domain.events import (
    ArtifactBuilt,
    ChangeRetried,
    ExecutionEnded,
    PipelinePaused,
    PipelineResumed,
    ReviewPassed,
    StageFailed,
    StageLeaseAcquired,
    StageLeaseReleased,
    Stamper,
)
from examples.reference import CreateOrderConfig
from tests.aws.cfn import World
from tests.aws.conftest import HOME, client, fixture
from tests.aws.test_events import handled
from tests.builders import artifact, change_received

PIPELINE = CreateOrderConfig.pipeline_id()
ONCALL = "arn:aws:sts::111122223333:assumed-role/orders-oncall/ana"
EXECUTIONS = f"arn:aws:states:{HOME}:111122223333:execution:shipwave-{PIPELINE}"


def request(path: str, body: dict[str, Any], signer: str | None = ONCALL) -> dict[str, Any]:
    event = fixture(
        "lambda-function-url-request-iam.json", PATH=path, USER_ARN=signer or "", BODY="{}"
    )
    event["body"] = json.dumps(body)
    if signer is None:  # a URL deployed without AWS_IAM auth: Lambda names no principal
        del event["requestContext"]["authorizer"]
    return event


def world_log(endpoint: str, prefix: str) -> tuple[DynamoDBEventStore, str]:
    """The world's event table (in the app's account), with a new change of PIPELINE on it
    (written by ana): (the store, the change)."""
    store = DynamoDBEventStore("shipwave-events", region=HOME, endpoint_url=endpoint)
    store._client = client("dynamodb", endpoint)
    first = store.last_sequence(PIPELINE) + 1
    change = f"{prefix}{first}"
    store.append([change_received(PIPELINE, first, change)])
    return store, change


def answer(outcome: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    result = outcome["result"]
    return int(result["statusCode"]), json.loads(result["body"])


def test_the_signer_pauses_and_resumes_a_pipeline_and_strangers_are_refused(
    cloud_assembly: Path, world: World, moto_endpoint: str, tmp_path: Path
) -> None:
    store, _ = world_log(moto_endpoint, "c")

    def call(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return answer(
            handled(cloud_assembly, world, moto_endpoint, tmp_path, "shipwave-operator", event)
        )

    path = f"/pipelines/{PIPELINE}"
    assert call(request(f"{path}/pause", {"why": "payments incident"})) == (
        200,
        {"paused": [PIPELINE], "unchanged": [], "by": ONCALL},
    )
    last = list(store.read(PIPELINE))[-1]
    assert isinstance(last, PipelinePaused)
    assert (last.by, last.why) == (ONCALL, "payments incident")

    before = store.last_sequence(PIPELINE)
    stranger = "arn:aws:sts::111122223333:assumed-role/intern/mallory"
    status, body = call(request(f"{path}/resume", {"why": "x"}, signer=stranger))
    assert status == 403
    assert f"{stranger} may not act on pipeline" in body["error"]
    status, body = call(request(f"{path}/resume", {"why": "x"}, signer=None))
    assert status == 403
    assert "carries no IAM principal" in body["error"]
    status, body = call(request(f"{path}/pause", {"why": "again"}))
    assert status == 409
    assert "already paused" in body["error"]
    status, body = call(request(f"{path}/pause", {}))
    assert status == 400
    status, body = call(request("/pipelines/nope/pause", {"why": "x"}))
    assert status == 404
    assert store.last_sequence(PIPELINE) == before  # every refusal wrote nothing

    assert call(request(f"{path}/resume", {"why": "incident over"}))[0] == 200
    assert isinstance(list(store.read(PIPELINE))[-1], PipelineResumed)


def test_an_emergency_needs_two_distinct_signers_among_the_senior_engineers(
    cloud_assembly: Path, world: World, moto_endpoint: str, tmp_path: Path
) -> None:
    _, change = world_log(moto_endpoint, "e")
    path = f"/pipelines/{PIPELINE}/changes/{change}/emergency"
    bo = "arn:aws:sts::111122223333:assumed-role/orders-oncall/bo"
    chen = "arn:aws:sts::111122223333:assumed-role/orders-oncall/chen"

    def call(signer: str) -> tuple[int, dict[str, Any]]:
        event = request(path, {"reason": "sev1 checkout down", "bake_factor": 0.25}, signer)
        return answer(
            handled(cloud_assembly, world, moto_endpoint, tmp_path, "shipwave-operator", event)
        )

    assert call(bo) == (
        200,
        {"change": change, "by": bo, "approved": False, "approvers": [bo], "bake_factor": 0.25},
    )
    status, body = call(bo)
    assert (status, "bo already approved" in body["error"]) == (409, True)
    ana = "arn:aws:sts::111122223333:assumed-role/orders-oncall/ana"
    status, body = call(ana)
    assert (status, "ana wrote commits of" in body["error"]) == (409, True)
    status, body = call(chen)
    assert (status, body["approved"], body["approvers"]) == (200, True, [bo, chen])


def test_unblock_and_rollback_of_a_stage_that_is_not_held_are_refused_as_such(
    cloud_assembly: Path, world: World, moto_endpoint: str, tmp_path: Path
) -> None:
    store, _ = world_log(moto_endpoint, "u")
    before = store.last_sequence(PIPELINE)

    def call(path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        event = request(f"/pipelines/{PIPELINE}/stages/gamma/{path}", body)
        return answer(
            handled(cloud_assembly, world, moto_endpoint, tmp_path, "shipwave-operator", event)
        )

    status, body = call("unblock", {"why": "looks fine"})
    assert status == 409, body
    status, body = call("rollback", {"version": "v1.0.0", "why": "x"})
    assert status == 409, body
    status, body = call("rollback", {"why": "x"})  # no version
    assert status == 400
    assert store.last_sequence(PIPELINE) == before


def test_a_failed_change_is_retried_in_a_new_execution_and_that_run_can_be_aborted(
    cloud_assembly: Path, world: World, moto_endpoint: str, tmp_path: Path
) -> None:
    """A change that failed in alpha (its first execution's end recorded): the signer's retry
    starts `<change>-retry-2` on the pipeline's state machine at alpha, with the function's
    own role; an abort of the change then stops that run (not the first)."""
    store, change = world_log(moto_endpoint, "r")
    first = store.last_sequence(PIPELINE) + 1
    stamp = Stamper(PIPELINE, first, datetime.now(UTC))
    store.append(
        [
            stamp(ReviewPassed, f"{change}:review-passed", change_id=change, approvals=()),
            stamp(ArtifactBuilt, f"{change}:built", change_id=change, artifact=artifact("v2")),
            stamp(StageLeaseAcquired, f"{change}:alpha:lease", stage="alpha", change_id=change),
        ]
    )
    path = f"/pipelines/{PIPELINE}/changes/{change}"

    def call(act: str, why: str = "the alarm's dependency recovered") -> tuple[int, Any]:
        event = request(f"{path}/{act}", {"why": why})
        return answer(
            handled(cloud_assembly, world, moto_endpoint, tmp_path, "shipwave-operator", event)
        )

    status, body = call("retry")
    assert (status, "still moving (deploying at alpha)" in body["error"]) == (409, True)
    tail = store.last_sequence(PIPELINE) + 1
    stamp = Stamper(PIPELINE, tail, datetime.now(UTC))
    store.append(
        [
            stamp(
                StageFailed, f"{change}:alpha:failed", stage="alpha", change_id=change, reason="x"
            ),
            stamp(StageLeaseReleased, f"{change}:alpha:release", stage="alpha", change_id=change),
        ]
    )
    status, body = call("retry")
    assert (status, "execution's end is not recorded yet" in body["error"]) == (409, True)
    store.append(
        [
            Stamper(PIPELINE, store.last_sequence(PIPELINE) + 1, datetime.now(UTC))(
                ExecutionEnded,
                f"{change}:execution-ended",
                change_id=change,
                status="FAILED",
                cause="StageFailed",
                execution=f"{EXECUTIONS}:{change}",
            )
        ]
    )

    status, body = call("retry")
    assert status == 200, body
    run = f"{EXECUTIONS}:{change}-retry-2"
    assert body == {
        "retried": change,
        "from": "alpha",
        "attempt": 2,
        "execution": run,
        "recorded": True,
        "paused": False,
        "by": ONCALL,
    }
    sfn = client("stepfunctions", moto_endpoint)
    started = sfn.describe_execution(executionArn=run)
    assert json.loads(started["input"]) == {
        "pipeline_id": PIPELINE,
        "change_id": change,
        "start_at": "alpha",
    }
    retried = list(store.read(PIPELINE))[-1]
    assert isinstance(retried, ChangeRetried)
    assert (retried.by, retried.from_stage) == (ONCALL, "alpha")

    status, body = call("abort", "wrong fix after all")
    assert status == 200, body
    assert body["stopped"] is True
    assert sfn.describe_execution(executionArn=run)["status"] == "ABORTED"
    status, body = call("retry")
    assert status == 409
    assert "a person stopped it" in body["error"], body
