"""A person retries a change that failed for a reason now gone, on the local runtime: its new
execution starts in the stage it failed in (not at the review, not at the build), records its
run anew beside the first one's, and carries the change to the end. Refused where a retry
would do harm or nothing."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from domain.events import (
    ArtifactBuilt,
    BuildStarted,
    ChangeRetried,
    ExecutionEnded,
    OneBoxDeployed,
    ReviewPassed,
    StageFailed,
    StageLeaseAcquired,
)
from domain.identity import local_user
from domain.operations import OperatorInputError
from examples import changes as edits
from statemachines.local.runtime import LocalRuntime
from tests.e2e.conftest import SmallApp
from tests.e2e.test_fail_closed import alarm_at_gamma_one_box
from tests.e2e.test_scenarios import assert_one_holder_per_stage, events, versions

Make = Callable[..., LocalRuntime]
SPEC = SmallApp.spec()
PIPELINE = SPEC.pipeline_id
ANA = local_user("ana")
GAMMA = "us-east-1"


def _failed_at_gamma(make_runtime: Make) -> tuple[LocalRuntime, str]:
    """v1.1.0 merged over v1.0.0; the one-box alarm fires while it bakes in gamma: it rolls
    back, the stage fails, its execution ends. (The runtime, the change.)"""
    runtime = make_runtime(SmallApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    change = runtime.merge(PIPELINE, "v1.1.0")
    alarm_at_gamma_one_box(runtime, change)
    runtime.run()
    assert runtime.log.state(PIPELINE).change(change).status == "rolled-back"  # type: ignore[union-attr]
    return runtime, change


def test_a_retried_change_runs_again_from_the_stage_it_failed_in_to_the_end(
    make_runtime: Make,
) -> None:
    runtime, change = _failed_at_gamma(make_runtime)
    first_run = runtime.executions[change].arn
    with pytest.raises(OperatorInputError, match="needs a reason"):
        runtime.operations.retry(ANA, PIPELINE, change, " ")

    # the alarm's cause is gone (a dependency recovered): the alarm returns to its rule
    runtime.cloudwatch.set_state(SPEC.alarm_names.one_box_composite, GAMMA, None, "gamma")
    runtime.wait(600)
    result = runtime.operations.retry(ANA, PIPELINE, change, "the payments sandbox is back")
    assert result["from"] == "gamma"
    assert result["attempt"] == 2
    assert result["by"] == "local:ana"
    assert result["execution"].endswith(f":{change}-retry-2")
    assert runtime.log.state(PIPELINE).change(change).status == "retrying"  # type: ignore[union-attr]
    # the first run's end, told again (EventBridge delivers at least once), is not this run's
    runtime._invoke("shipwave-executions", _ended_event(runtime, first_run))
    runtime.run()

    state = runtime.log.state(PIPELINE)
    done = state.change(change)
    assert done is not None
    assert (done.status, done.attempt) == ("completed", 2)
    assert done.stages_passed == tuple(s.name for s in SPEC.stages)
    assert runtime.executions[change].status == "SUCCEEDED"
    entered = runtime.states_entered(change)
    assert {"Start", "Gamma · Enter", "Gamma · Blockers", "Wave2 · Succeeded"} <= entered
    assert not {s for s in entered if s.startswith(("Source", "Build", "Alpha", "Beta"))}

    log = events(runtime, PIPELINE)
    (retried,) = [e for e in log if isinstance(e, ChangeRetried)]
    assert (retried.by, retried.why, retried.from_stage) == (
        "local:ana",
        "the payments sandbox is back",
        "gamma",
    )
    after = [e for e in log if e.sequence > retried.sequence]
    # nothing of the review or the build again: the same artifact goes on from gamma
    assert not [e for e in after if isinstance(e, ReviewPassed | BuildStarted | ArtifactBuilt)]
    assert len([e for e in log if isinstance(e, BuildStarted)]) == 1
    # the second run's lease and one-box in gamma are recorded beside the first run's
    gamma_leases = [e for e in log if isinstance(e, StageLeaseAcquired) and e.stage == "gamma"]
    assert [e.idempotency_key for e in gamma_leases] == [
        f"{change}:gamma:lease",
        f"{change}:retry2:gamma:lease",
    ]
    one_boxes = [e for e in log if isinstance(e, OneBoxDeployed) and e.stage == "gamma"]
    assert len(one_boxes) == 2
    # one end: the first run's, once; the stale one told again after the retry recorded nothing
    assert [e.execution for e in log if isinstance(e, ExecutionEnded)] == [first_run]
    assert [e.stage for e in log if isinstance(e, StageFailed)] == ["gamma"]
    assert_one_holder_per_stage(log)
    for stage, scope in SPEC.scopes():
        environment = "production" if stage.startswith("wave") else stage
        assert versions(runtime, "create-order", environment, scope) == {"v1.1.0"}, scope

    with pytest.raises(OperatorInputError, match="completed: only a failed change is retried"):
        runtime.operations.retry(ANA, PIPELINE, change, "again")
    with pytest.raises(OperatorInputError, match="not among the changes that finished lately"):
        runtime.operations.retry(ANA, PIPELINE, "chg-nope", "why")


def test_a_retry_is_refused_once_a_newer_change_has_passed_where_it_failed(
    make_runtime: Make,
) -> None:
    runtime, old = _failed_at_gamma(make_runtime)
    runtime.cloudwatch.set_state(SPEC.alarm_names.one_box_composite, GAMMA, None, "gamma")
    newer = runtime.merge(PIPELINE, "v1.2.0")

    def newer_moving() -> bool:
        found = runtime.log.state(PIPELINE).change(newer)
        return bool(found and found.stage == "alpha")

    runtime.run(until=newer_moving, max_days=1)
    with pytest.raises(OperatorInputError, match="still moving"):
        runtime.operations.retry(ANA, PIPELINE, newer, "not failed")
    runtime.run()
    assert runtime.log.state(PIPELINE).change(newer).status == "completed"  # type: ignore[union-attr]
    before = runtime.log.state(PIPELINE).sequence

    with pytest.raises(OperatorInputError, match=f"the newer change {newer} has reached gamma"):
        runtime.operations.retry(ANA, PIPELINE, old, "the alarm cleared")
    assert runtime.log.state(PIPELINE).sequence == before  # a refusal writes nothing


def test_a_change_whose_build_failed_is_built_again_when_retried(make_runtime: Make) -> None:
    """A retry of a change whose build failed runs from the build, not the review: a new
    build of the same commit (here it fails again the same way: the bug is in the commit)."""
    runtime = make_runtime(SmallApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    change = runtime.merge(PIPELINE, "v1.1.0", files={"src/orders.py": edits.unit_price_bug()})
    runtime.run()
    failed = runtime.log.state(PIPELINE).change(change)
    assert failed is not None
    assert failed.status == "build-failed"
    result = runtime.operations.retry(ANA, PIPELINE, change, "the package index was down")
    assert result["from"] == "build"
    runtime.run()
    # the same commit fails the same way: a second build ran and failed, recorded as its own
    log = events(runtime, PIPELINE)
    assert len([e for e in log if isinstance(e, BuildStarted)]) == 2
    again = runtime.log.state(PIPELINE).change(change)
    assert again is not None
    assert (again.status, again.attempt) == ("build-failed", 2)
    assert "Source · Review" not in runtime.states_entered(change)
    assert "Build" in runtime.states_entered(change)
    # each run's end recorded once, the second keyed by its run
    ends = [e for e in log if isinstance(e, ExecutionEnded)]
    assert [e.execution.rsplit(":", 1)[-1] for e in ends] == [change, f"{change}-retry-2"]
    assert ends[-1].idempotency_key == f"{change}:retry2:execution-ended"


def _ended_event(runtime: LocalRuntime, arn: str) -> dict[str, object]:
    """The published shape of Step Functions' status change (tests/fixtures/aws)."""
    described = runtime.sfn.describe_execution(executionArn=arn)
    return {
        "version": "0",
        "id": "d2b9c1e0-0000-4000-8000-000000000001",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-11-24T08:00:00Z",
        "region": "us-east-1",
        "resources": [arn],
        "detail": {
            "executionArn": arn,
            "stateMachineArn": described["stateMachineArn"],
            "name": described["name"],
            "status": "FAILED",
            "input": described.get("input"),
            "error": described.get("error"),
            "cause": described.get("cause"),
        },
    }


def test_an_execution_started_at_no_stage_of_the_pipeline_fails_at_once(
    make_runtime: Make,
) -> None:
    """The machine's `Start` on Step Functions' interpreter: a start it does not know is
    an UnknownStart failure before any step, never a run from the review."""
    runtime = make_runtime(SmallApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    arn = runtime.sfn.start_execution(
        stateMachineArn=runtime.machines[PIPELINE],
        name="a-start-nobody-knows",
        input=json.dumps({"pipeline_id": PIPELINE, "change_id": "chg-1", "start_at": "delta"}),
    )["executionArn"]
    runtime.wait(120)
    described = runtime.sfn.describe_execution(executionArn=arn)
    assert (described["status"], described.get("error")) == ("FAILED", "UnknownStart")
    assert runtime.invocations.get("blockers", 0) == 0  # no step ran: not even the review
