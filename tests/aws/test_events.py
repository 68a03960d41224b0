"""Published AWS sample events (tests/fixtures/aws/README.md cites each) through the
synthesized EventBridge rules, then to the function behind the rule, run from its asset and
layers as Lambda would.

Each pattern is put as a rule on the moto server (PutRule validates its syntax as
EventBridge does) and matched by moto's EventBridge matcher (`moto.events.models.
EventPattern`, the code that routes moto's PutEvents), never by a matcher of ours. moto
leaves the TestEventPattern API unimplemented (it answers no Result), so it is not used."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from adapters.dynamodb import DynamoDBEventStore
from domain.events import Artifact, ArtifactBuilt, ReviewPassed, StageLeaseAcquired
from domain.signatures import signature
from service.pipeline_log import PipelineLog
from tests.aws import iam, sandbox
from tests.aws.cfn import World
from tests.aws.conftest import (
    ACCOUNT,
    GITHUB_FIXTURES,
    HOME,
    client,
    fixture,
    github_payload,
    of_type,
    template,
)

PIPELINE = "create-order-application"
SECRET = "a shared webhook secret"  # what the world's Secrets Manager holds
MACHINE = f"arn:aws:states:{HOME}:{ACCOUNT}:stateMachine:shipwave-{PIPELINE}"


def rules(outdir: Path, stack: str, world: World) -> dict[str, tuple[dict[str, Any], str]]:
    """Each rule of `stack`: its event pattern and the logical id of its first target."""
    found = {}
    for logical_id, rule in of_type(template(outdir, stack), "AWS::Events::Rule").items():
        properties = rule["Properties"]
        target = properties["Targets"][0]["Arn"]
        found[logical_id] = (
            properties["EventPattern"],
            target["Fn::GetAtt"][0] if isinstance(target, dict) and "Fn::GetAtt" in target else "",
        )
    return found


def matching(
    endpoint: str, patterns: dict[str, tuple[dict[str, Any], str]], event: dict[str, Any]
) -> set[str]:
    events = client("events", endpoint)
    matched = set()
    for logical_id, (pattern, _) in patterns.items():
        events.put_rule(Name=logical_id, EventPattern=json.dumps(pattern))  # validated there
        if EventPattern.load(json.dumps(pattern)).matches_event(event):
            matched.add(logical_id)
    return matched


def alarm_event(name: str = "create-order-high-severity", **changes: Any) -> dict[str, Any]:
    event = fixture("cloudwatch-alarm-state-change-alarm.json")
    event["detail"]["alarmName"] = name
    event["resources"] = [f"arn:aws:cloudwatch:{event['region']}:{ACCOUNT}:alarm:{name}"]
    for key, value in changes.items():
        event[key] = value
    return event


def execution_event(status: str, change: str, machine: str = MACHINE) -> dict[str, Any]:
    event = fixture(
        f"sfn-execution-status-change-{status.lower().replace('_', '-')}.json",
        PIPELINE=PIPELINE,
        CHANGE=change,
        **{"123456789012": ACCOUNT},
    )
    event["detail"]["stateMachineArn"] = machine
    return event


def the_rule(patterns: dict[str, tuple[dict[str, Any], str]], prefix: str) -> str:
    (found,) = [logical_id for logical_id in patterns if logical_id.startswith(prefix)]
    return found


def test_published_events_match_exactly_the_rules_meant_for_them(
    cloud_assembly: Path, world: World, moto_endpoint: str
) -> None:
    patterns = rules(cloud_assembly, "shipwave-controller", world)
    alarms = the_rule(patterns, "AlarmStateChanges")
    merges = the_rule(patterns, "CodeCommitMerges")
    ends = the_rule(patterns, "ExecutionEnds")

    assert matching(moto_endpoint, patterns, alarm_event()) == {alarms}
    assert matching(moto_endpoint, patterns, alarm_event("company-deployment-freeze")) == {alarms}
    recovered = alarm_event()
    recovered["detail"]["state"]["value"] = "OK"
    assert matching(moto_endpoint, patterns, recovered) == set()
    assert matching(moto_endpoint, patterns, alarm_event("someone-elses-alarm")) == set()
    # matched by its name ending (patterns that do not grow per service): the handler ignores
    # another team's composite
    assert matching(moto_endpoint, patterns, alarm_event("payments-high-severity")) == {alarms}
    child = alarm_event("create-order-one-box-latency-p99")
    assert matching(moto_endpoint, patterns, child) == set()
    dead_letters = alarm_event("shipwave-forwarding-dead-letters", region="eu-west-1")
    assert matching(moto_endpoint, patterns, dead_letters) == {
        the_rule(patterns, "ForwardingDeadLetters")
    }

    merge = fixture("codecommit-reference-updated.json")
    assert matching(moto_endpoint, patterns, merge) == {merges}
    # any branch of any repository: which pipelines a merge starts is the intake's to say
    # from the specs (the controller's rule knows no pipeline)
    merge["detail"]["referenceName"] = "feature/x"
    assert matching(moto_endpoint, patterns, merge) == {merges}
    tag = fixture("codecommit-reference-updated.json")
    tag["detail"]["referenceType"] = "tag"
    assert matching(moto_endpoint, patterns, tag) == set()

    for status in ("FAILED", "TIMED_OUT", "ABORTED"):
        assert matching(moto_endpoint, patterns, execution_event(status, "c1")) == {ends}
    assert matching(moto_endpoint, patterns, execution_event("SUCCEEDED", "c1")) == set()
    other = f"arn:aws:states:{HOME}:{ACCOUNT}:stateMachine:not-shipwave"
    assert matching(moto_endpoint, patterns, execution_event("FAILED", "c1", other)) == set()


def test_alarm_changes_elsewhere_are_forwarded_home_by_their_region_only(
    cloud_assembly: Path, world: World, moto_endpoint: str
) -> None:
    in_ireland = alarm_event(region="eu-west-1")
    ireland = rules(cloud_assembly, "shipwave-region-eu-west-1", world)
    assert matching(moto_endpoint, ireland, in_ireland) == {the_rule(ireland, "ForwardAlarm")}
    assert matching(moto_endpoint, ireland, alarm_event("someone-elses-alarm")) == set()
    waiting = alarm_event("shipwave-forwarding-dead-letters", region="eu-west-1")
    assert matching(moto_endpoint, ireland, waiting) == {the_rule(ireland, "ForwardAlarm")}
    assert rules(cloud_assembly, f"shipwave-region-{HOME}", world) == {}  # the home bus has it


def handled(
    outdir: Path, world: World, endpoint: str, work: Path, function: str, event: dict[str, Any]
) -> dict[str, Any]:
    """`event` handled by `function` without error, every AWS call it made allowed by its
    role (and any role it assumed), as the templates grant them."""
    package = sandbox.functions(outdir)[function]
    outcome = sandbox.invoke(package, event, world=world, endpoint=endpoint, work=work)
    assert "error" not in outcome, outcome.get("traceback")
    assert iam.denied_calls(outdir, package.role, outcome["calls"], world) == []
    return outcome


#: the published CodeCommit merge's commit (tests/fixtures/aws), and the change it starts
MERGED = "7c9cfEXAMPLE0123456789abcdef0123456789ab"
MERGED_CHANGE = f"chg-{MERGED[:12]}"


def merge_event(
    commit: str = MERGED, old: str = "3e5ddEXAMPLE0123456789abcdef0123456789ab"
) -> dict[str, Any]:
    """The published `referenceUpdated` event: main of create-order moved to `commit`."""
    event = fixture("codecommit-reference-updated.json", **{"111122223333": ACCOUNT})
    event["detail"].update(commitId=commit, oldCommitId=old)
    return event


def stored_types(endpoint: str, change: str = MERGED_CHANGE) -> list[str]:
    """The types of the events the world's table holds about `change` (other modules' tests
    write their own changes to the same table)."""
    items = client("dynamodb", endpoint).scan(TableName="shipwave-events")["Items"]
    return [
        item["type"]["S"]
        for item in items
        if "type" in item and json.loads(item["body"]["S"]).get("change_id") == change
    ]


@pytest.fixture(scope="module")
def started_change(
    cloud_assembly: Path, world: World, moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, dict[str, Any]]:
    """The published CodeCommit merge to main, through the intake."""
    work = tmp_path_factory.mktemp("intake")
    outcome = handled(cloud_assembly, world, moto_endpoint, work, "shipwave-intake", merge_event())
    return MERGED_CHANGE, outcome


def test_a_published_merge_records_the_change_and_starts_its_pipeline(
    started_change: tuple[str, dict[str, Any]],
    cloud_assembly: Path,
    world: World,
    moto_endpoint: str,
    tmp_path: Path,
) -> None:
    change, outcome = started_change
    (taken,) = outcome["result"]["taken"]
    assert (taken["pipeline_id"], taken["change_id"]) == (PIPELINE, change)
    executions = client("stepfunctions", moto_endpoint).list_executions(stateMachineArn=MACHINE)
    assert [e["name"] for e in executions["executions"]] == [change]
    assert "StartExecution" in [call["operation"] for call in outcome["calls"]]
    assert stored_types(moto_endpoint).count("ChangeReceived") == 1
    assert "ArtifactBuilt" not in stored_types(moto_endpoint)  # its build comes after review
    # EventBridge delivers at least once: the same merge again is the same change
    again = handled(
        cloud_assembly, world, moto_endpoint, tmp_path, "shipwave-intake", merge_event()
    )
    assert again["result"]["taken"][0]["change_id"] == change
    assert "TransactWriteItems" not in [call["operation"] for call in again["calls"]]
    executions = client("stepfunctions", moto_endpoint).list_executions(stateMachineArn=MACHINE)
    assert [e["name"] for e in executions["executions"]] == [change]
    assert stored_types(moto_endpoint).count("ChangeReceived") == 1


Deliver = Callable[[str, dict[str, Any]], dict[str, Any]]


@pytest.fixture
def deliver(cloud_assembly: Path, world: World, moto_endpoint: str, tmp_path: Path) -> Deliver:
    """Hand an event to a function the way its rule would: `deliver(function, event)`."""
    return lambda function, event: handled(
        cloud_assembly, world, moto_endpoint, tmp_path, function, event
    )


def test_a_published_alarm_event_reaches_the_alarm_function_which_reads_the_log(
    deliver: Deliver, started_change: tuple[str, dict[str, Any]]
) -> None:
    outcome = deliver("shipwave-alarm", alarm_event())
    # the change waits at its review gate: no bake is in flight for the alarm to fail
    assert outcome["result"] == {"alarm": "create-order-high-severity", "told": []}
    # the specs from Parameter Store, then the log
    assert {call["operation"] for call in outcome["calls"]} <= {
        "GetParametersByPath",
        "Query",
        "GetItem",
    }
    foreign = deliver("shipwave-alarm", alarm_event("payments-high-severity"))
    assert foreign["result"] == {"alarm": "payments-high-severity", "told": []}
    assert [call["operation"] for call in foreign["calls"]] == ["GetParametersByPath"]


def test_a_published_execution_failure_reaches_the_executions_function_which_records_it(
    deliver: Deliver, started_change: tuple[str, dict[str, Any]], moto_endpoint: str
) -> None:
    change, _ = started_change
    outcome = deliver("shipwave-executions", execution_event("FAILED", change))
    assert outcome["result"]["recorded"] is True
    items = client("dynamodb", moto_endpoint).scan(TableName="shipwave-events")["Items"]
    assert "ExecutionEnded" in {item.get("type", {}).get("S") for item in items}


def test_an_alarm_whose_log_cannot_be_read_fails_the_invocation_so_it_is_retried(
    cloud_assembly: Path, world: World, moto_endpoint: str, tmp_path: Path
) -> None:
    """Never "nothing to fail" because the log did not answer: the invocation fails, and
    EventBridge retries it, then keeps it in the dead-letter queue, which pages."""
    outcome = sandbox.invoke(
        sandbox.functions(cloud_assembly)["shipwave-alarm"],
        alarm_event(),
        world=world,
        endpoint=moto_endpoint,
        work=tmp_path,
        environment={"EVENT_LOG_TABLE": "shipwave-table-that-is-gone"},
    )
    assert outcome["error"]["type"] == "EventStoreUnavailableError", outcome.get("traceback")
    assert "shipwave-table-that-is-gone" in outcome["error"]["message"]


def url_request(body: str, signature: str | None) -> dict[str, Any]:
    """The published Function URL request (payload format 2.0), with our body and header."""
    request = fixture("lambda-function-url-request.json")
    request["body"] = body
    if signature is not None:
        request["headers"]["x-hub-signature-256"] = signature
    return request


def test_the_public_url_refuses_what_is_not_signed_before_any_work(
    cloud_assembly: Path, world: World, moto_endpoint: str, tmp_path: Path
) -> None:
    package = sandbox.functions(cloud_assembly)["shipwave-intake"]
    body = (
        github_payload(
            "push-with-new-branch.json", full_name="acme/create-order", ref="refs/heads/main"
        )
        .decode()
        .replace("Codertocat", "c-forged")
    )
    forged = signature("a guess", body.encode())
    for header in (None, forged, signature(SECRET, b"another body")):
        request = url_request(body, header)
        request["headers"].update({"x-github-event": "push", "x-github-delivery": "d-forged"})
        outcome = sandbox.invoke(
            package, request, world=world, endpoint=moto_endpoint, work=tmp_path
        )
        assert outcome["result"]["statusCode"] == 401, outcome.get("traceback")
        # the secret was read, and nothing else: no log read, no write, no execution
        assert [c["operation"] for c in outcome["calls"]] == ["GetSecretValue"]
        assert "c-forged" not in outcome["stdout"]  # nor is the request logged
        assert iam.denied_calls(cloud_assembly, package.role, outcome["calls"], world) == []


def github_delivery(kind: str, body: bytes, *, signed: bool = True) -> dict[str, Any]:
    """A GitHub delivery as the Function URL passes it: GitHub's headers, the body signed."""
    request = url_request(body.decode(), signature(SECRET, body) if signed else None)
    request["headers"]["x-github-event"] = kind
    request["headers"]["x-github-delivery"] = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    return request


def invoked(
    outdir: Path, world: World, endpoint: str, work: Path, event: dict[str, Any]
) -> dict[str, Any]:
    package = sandbox.functions(outdir)["shipwave-intake"]
    outcome = sandbox.invoke(package, event, world=world, endpoint=endpoint, work=work)
    assert iam.denied_calls(outdir, package.role, outcome["calls"], world) == []
    writes = {"PutItem", "TransactWriteItems", "StartExecution"}
    assert not writes & {call["operation"] for call in outcome["calls"]}  # nothing written
    return outcome


def test_codecommit_notifications_that_are_no_merge_say_why_and_write_nothing(
    cloud_assembly: Path, world: World, moto_endpoint: str, tmp_path: Path
) -> None:
    tag = fixture("codecommit-reference-updated.json")
    tag["detail"].update(referenceType="tag", referenceFullName="refs/tags/v1")
    outcome = invoked(cloud_assembly, world, moto_endpoint, tmp_path, tag)
    assert outcome["result"]["ignored"] == "tag", outcome.get("traceback")
    feature = fixture("codecommit-reference-updated.json")
    feature["detail"].update(referenceName="feature/x", referenceFullName="refs/heads/feature/x")
    outcome = invoked(cloud_assembly, world, moto_endpoint, tmp_path, feature)
    assert outcome["result"]["ignored"] == "no-pipeline", outcome.get("traceback")
    assert "feature/x" in outcome["result"]["reason"]


def test_a_signed_github_push_to_main_starts_its_pipeline_once_per_delivery(
    deliver: Deliver, moto_endpoint: str
) -> None:
    """GitHub's published push, to the pipeline's repository and branch: the change is
    named after the pushed head; its redelivery (same X-GitHub-Delivery) starts nothing new."""
    push = github_payload(
        "push-with-new-branch.json", full_name="acme/create-order", ref="refs/heads/main"
    )
    head = json.loads(push)["after"]
    outcome = deliver("shipwave-intake", github_delivery("push", push))
    assert outcome["result"]["statusCode"] == 202
    (taken,) = json.loads(outcome["result"]["body"])["taken"]
    assert taken["change_id"] == f"chg-{head[:12]}"
    writes = stored_types(moto_endpoint, taken["change_id"]).count("ChangeReceived")
    again = deliver("shipwave-intake", github_delivery("push", push))
    assert json.loads(again["result"]["body"])["taken"] == [taken]
    assert "TransactWriteItems" not in [call["operation"] for call in again["calls"]]
    assert stored_types(moto_endpoint, taken["change_id"]).count("ChangeReceived") == writes
    # a signed request that is no GitHub delivery names what it lacks
    bare = deliver("shipwave-intake", url_request("{}", signature(SECRET, b"{}")))
    assert bare["result"]["statusCode"] == 400
    assert "x-github-event" in bare["result"]["body"]


def test_githubs_published_deliveries_are_answered_as_github_expects(
    cloud_assembly: Path, world: World, moto_endpoint: str, tmp_path: Path
) -> None:
    def answer(kind: str, body: bytes, *, signed: bool = True) -> tuple[int, dict[str, Any]]:
        event = github_delivery(kind, body, signed=signed)
        result = invoked(cloud_assembly, world, moto_endpoint, tmp_path, event)["result"]
        return result["statusCode"], json.loads(result["body"])

    ping = (GITHUB_FIXTURES / "ping.json").read_bytes()
    assert answer("ping", ping) == (
        200,
        {"pong": True, "delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
    )
    assert answer("ping", ping, signed=False)[0] == 401
    status, body = answer("push", (GITHUB_FIXTURES / "push-tag-deleted.json").read_bytes())
    assert (status, body["ignored"]) == (202, "tag")
    status, body = answer("push", (GITHUB_FIXTURES / "push-with-new-branch.json").read_bytes())
    assert (status, body["ignored"]) == (202, "no-pipeline")  # Codertocat/Hello-World
    status, body = answer("issues", b'{"action": "opened"}')
    assert (status, body["ignored"]) == (202, "not-a-push")
    status, body = answer("push", ping)  # a push header on another payload
    assert status == 400
    assert body["error"] == "not a push payload"


def test_the_review_gate_reads_codecommits_record_as_its_role_allows_and_holds_unconfirmed(
    deliver: Deliver,
) -> None:
    """moto serves no CodeCommit commit API: the read fails, so the change waits at source
    with the reason (fail closed); the calls made are the blockers role's to make."""
    commit = "9f8e7d6c5b4a0123456789abcdef0123456789ab"
    (taken,) = deliver("shipwave-intake", merge_event(commit, old=MERGED))["result"]["taken"]
    change = taken["change_id"]
    outcome = deliver(
        "shipwave-blockers",
        {"action": "review", "input": {"pipeline_id": PIPELINE, "change_id": change}},
    )
    assert outcome["result"]["outcome"] == "hold", outcome["result"]
    assert "review-unconfirmed" in json.dumps(outcome["result"])
    assert "GetCommit" in [call["operation"] for call in outcome["calls"]]


def build_end(build_id: str, change: str, **detail: Any) -> dict[str, Any]:
    """The published "Build State Change" event, for the build `build_id` of `change`:
    the pipeline's project, the start's variables, the artifact in the home bucket."""
    event = fixture("codebuild-build-state-change.json", **{"123456789012": ACCOUNT})
    event["region"] = HOME
    event["resources"] = [build_id]
    number = build_id.rsplit(":", 1)[-1]
    information = event["detail"]["additional-information"]
    information["environment"]["environment-variables"] = [
        {"name": "SHIPWAVE_PIPELINE_ID", "type": "PLAINTEXT", "value": PIPELINE},
        {"name": "SHIPWAVE_CHANGE_ID", "type": "PLAINTEXT", "value": change},
    ]
    information["artifact"].update(
        sha256sum="ab" * 32,
        location=f"arn:aws:s3:::shipwave-artifacts-{ACCOUNT}-{HOME}/{PIPELINE}/{number}/v2.0.0.zip",
    )
    event["detail"].update(
        {"project-name": f"shipwave-build-{PIPELINE}", "build-id": build_id, **detail}
    )
    return event


@pytest.fixture
def building(deliver: Deliver, moto_endpoint: str) -> tuple[str, str]:
    """A merged change whose review passed, its build started by the `Build` step through
    the build function: (change, build id). moto serves no CodeCommit review record, so the
    passed review is recorded from here, as the review gate records it."""
    commit = uuid.uuid4().hex + "5b1d0ad5"  # a new merge each time
    (taken,) = deliver("shipwave-intake", merge_event(commit, old=MERGED))["result"]["taken"]
    change = taken["change_id"]
    log = PipelineLog(
        DynamoDBEventStore("shipwave-events", client=client("dynamodb", moto_endpoint))
    )
    log.record(
        PIPELINE,
        datetime.now(UTC),
        lambda state, stamp: [
            stamp(
                ReviewPassed,
                f"{change}:review-passed",
                change_id=change,
                approvals=((commit, "ana"),),
            )
        ],
    )
    step = {
        "action": "start",
        "input": {"pipeline_id": PIPELINE, "change_id": change},
        "token": "t-1",
    }
    started = deliver("shipwave-build", step)
    assert "StartBuild" in [call["operation"] for call in started["calls"]]
    build_id = started["result"]["build_id"]
    assert build_id.startswith(
        f"arn:aws:codebuild:{HOME}:{ACCOUNT}:build/shipwave-build-{PIPELINE}:"
    )
    return change, build_id


def test_the_build_end_rule_takes_the_pipelines_projects_only(
    cloud_assembly: Path, world: World, moto_endpoint: str
) -> None:
    patterns = rules(cloud_assembly, "shipwave-controller", world)
    ends = the_rule(patterns, "BuildEnds")
    build = f"arn:aws:codebuild:{HOME}:{ACCOUNT}:build/shipwave-build-{PIPELINE}:b-1"
    assert matching(moto_endpoint, patterns, build_end(build, "c")) == {ends}
    published = fixture("codebuild-build-state-change.json")  # my-sample-project
    assert matching(moto_endpoint, patterns, published) == set()
    running = build_end(build, "c", **{"build-status": "IN_PROGRESS"})
    assert matching(moto_endpoint, patterns, running) == set()


def test_a_published_build_end_records_the_artifact_and_resumes_the_build_step(
    deliver: Deliver, building: tuple[str, str], moto_endpoint: str
) -> None:
    change, build_id = building
    outcome = deliver("shipwave-build", build_end(build_id, change))
    assert outcome["result"]["recorded"] == ["ArtifactBuilt"], outcome["result"]
    assert outcome["result"]["status"] == "built"
    assert "SendTaskSuccess" in [call["operation"] for call in outcome["calls"]]
    assert stored_types(moto_endpoint, change).count("ArtifactBuilt") == 1
    again = deliver("shipwave-build", build_end(build_id, change))  # delivered twice
    assert again["result"]["recorded"] == []
    assert stored_types(moto_endpoint, change).count("ArtifactBuilt") == 1


def test_a_failed_build_ends_its_change_with_the_phase_and_the_log(
    deliver: Deliver, building: tuple[str, str]
) -> None:
    change, build_id = building
    failed = build_end(build_id, change, **{"build-status": "FAILED"})
    phases = failed["detail"]["additional-information"]["phases"]
    (unit_tests,) = [p for p in phases if p["phase-type"] == "POST_BUILD"]
    unit_tests.update(
        {
            "phase-status": "FAILED",
            "phase-context": [
                "COMMAND_EXECUTION_ERROR: Error while executing command: make test. "
                "Reason: exit status 2"
            ],
        }
    )
    outcome = deliver("shipwave-build", failed)
    assert outcome["result"]["recorded"] == ["BuildFailed"]
    assert outcome["result"]["status"] == "build-failed"
    assert "SendTaskFailure" in [call["operation"] for call in outcome["calls"]]


def test_the_published_sample_as_is_is_no_build_of_shipwaves_and_writes_nothing(
    cloud_assembly: Path, world: World, moto_endpoint: str, tmp_path: Path
) -> None:
    package = sandbox.functions(cloud_assembly)["shipwave-build"]
    published = fixture("codebuild-build-state-change.json")
    outcome = sandbox.invoke(package, published, world=world, endpoint=moto_endpoint, work=tmp_path)
    assert outcome["error"]["type"] == "BuildRequestError", outcome.get("traceback")
    assert "not a build shipwave started" in outcome["error"]["message"]
    assert not {"TransactWriteItems", "PutItem"} & {c["operation"] for c in outcome["calls"]}


def test_a_build_end_the_log_never_started_is_refused_so_eventbridge_retries_it(
    cloud_assembly: Path,
    world: World,
    moto_endpoint: str,
    tmp_path: Path,
    started_change: tuple[str, dict[str, Any]],
) -> None:
    """The published merge's change was never built: an end naming it is refused while the
    change moves (EventBridge retries it: a start recorded a moment later is then found), and
    said to be ignored once the change has ended (an earlier test of this module may end it);
    either way nothing is written, whatever its artifact says (a forged or misrouted event
    cannot make an artifact)."""
    change, _ = started_change
    package = sandbox.functions(cloud_assembly)["shipwave-build"]
    stray = build_end(
        f"arn:aws:codebuild:{HOME}:{ACCOUNT}:build/shipwave-build-{PIPELINE}:x", change
    )
    store = DynamoDBEventStore("shipwave-events", client=client("dynamodb", moto_endpoint))
    moving = change in PipelineLog(store).state(PIPELINE).changes
    outcome = sandbox.invoke(package, stray, world=world, endpoint=moto_endpoint, work=tmp_path)
    if moving:
        assert outcome["error"]["type"] == "UnknownBuildError", outcome.get("traceback")
        assert "was started for change" in outcome["error"]["message"]
    else:
        assert outcome["result"]["recorded"] == []
        assert "before this build was recorded" in outcome["result"]["ignored"]
    assert not {"TransactWriteItems", "PutItem"} & {c["operation"] for c in outcome["calls"]}


@pytest.fixture
def testing_alpha(deliver: Deliver, moto_endpoint: str) -> tuple[str, str]:
    """A built change holding alpha, its integration tests started by `Alpha · Integration
    tests` through the build function: (change, run id)."""
    commit = uuid.uuid4().hex + "7e570000"
    (taken,) = deliver("shipwave-intake", merge_event(commit, old=MERGED))["result"]["taken"]
    change = taken["change_id"]
    log = PipelineLog(
        DynamoDBEventStore("shipwave-events", client=client("dynamodb", moto_endpoint))
    )
    artifact = Artifact(
        version="v3.0.0",
        checksum="sha256:" + "cd" * 32,
        uri=f"s3://shipwave-artifacts-{ACCOUNT}-{HOME}/{PIPELINE}/b/v3.0.0.zip",
    )
    log.record(
        PIPELINE,
        datetime.now(UTC),
        lambda state, stamp: [
            stamp(ReviewPassed, f"{change}:review-passed", change_id=change, approvals=()),
            stamp(ArtifactBuilt, f"{change}:built", change_id=change, artifact=artifact),
            stamp(StageLeaseAcquired, f"{change}:alpha:lease", stage="alpha", change_id=change),
        ],
    )
    step = {
        "action": "test",
        "stage": "alpha",
        "input": {"pipeline_id": PIPELINE, "change_id": change},
        "token": "t-tests",
    }
    started = deliver("shipwave-build", step)
    (start,) = [c for c in started["calls"] if c["operation"] == "StartBuild"]
    assert start["params"]["projectName"] == f"shipwave-build-{PIPELINE}-tests"
    variables = {v["name"]: v["value"] for v in start["params"]["environmentVariablesOverride"]}
    assert variables["SHIPWAVE_STAGE"] == "alpha"
    assert variables["SHIPWAVE_ENDPOINT"] == "https://orders.alpha.acme.example"
    return change, started["result"]["run_id"]


def test_a_test_run_whose_report_cannot_be_read_fails_the_stage(
    deliver: Deliver, testing_alpha: tuple[str, str], moto_endpoint: str
) -> None:
    """moto keeps no CodeBuild test report (no reportArns, no DescribeTestCases): the run's
    end is recorded as failed, never as passed, and the waiting task is failed."""
    change, run_id = testing_alpha
    end = build_end(run_id, change, **{"project-name": f"shipwave-build-{PIPELINE}-tests"})
    end["detail"]["additional-information"]["environment"]["environment-variables"].append(
        {"name": "SHIPWAVE_STAGE", "type": "PLAINTEXT", "value": "alpha"}
    )
    outcome = deliver("shipwave-build", end)
    assert outcome["result"]["recorded"] == ["IntegrationTestsFailed"], outcome["result"]
    operations = [call["operation"] for call in outcome["calls"]]
    assert "BatchGetBuilds" in operations
    assert "SendTaskFailure" in operations
    assert stored_types(moto_endpoint, change).count("IntegrationTestsPassed") == 0
