"""The AWS adapters of the engine's ports, against moto (Stubber where moto lacks the API)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from adapters.cloudwatch import CloudWatchAlarmReader
from adapters.lambda_alias import LambdaAliasTarget
from adapters.s3_artifacts import S3ArtifactStore
from domain.alarm_health import Watched, assess
from domain.artifacts import ArtifactLocationError, artifact_bucket
from domain.errors import AlarmReadError, DeployTargetError
from domain.events import Artifact
from domain.spec import Datapoints, Rolling
from tests.functional.conftest import HeldTo

REGION = "eu-west-1"
HOME = "us-east-1"
ACCOUNT = "123456789012"  # moto's
HOME_BUCKET = artifact_bucket(ACCOUNT, HOME)
REGION_BUCKET = artifact_bucket(ACCOUNT, REGION)


def zipped(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", text)
    return buffer.getvalue()


def built(s3: Any, version: str) -> Artifact:
    """What the build does: the zip in the home region's artifact bucket."""
    body = zipped(f"def handler(event, context):\n    return {version!r}\n")
    s3.put_object(Bucket=HOME_BUCKET, Key=f"create-order/{version}.zip", Body=body)
    return Artifact(
        version=version,
        checksum=f"sha256:{hashlib.sha256(body).hexdigest()}",
        uri=f"s3://{HOME_BUCKET}/create-order/{version}.zip",
    )


def s3_in(environment: str, region: str) -> Any:
    return boto3.client("s3", region_name=region)


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=HOME)
        s3.create_bucket(Bucket=HOME_BUCKET)
        s3_in("production", REGION).create_bucket(
            Bucket=REGION_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        functions = boto3.client("lambda", region_name=REGION)
        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName="fn", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        v1 = built(s3, "v1.0.0")
        store = S3ArtifactStore(s3_in)
        store.copy_into(v1, "production", REGION)
        functions.create_function(
            FunctionName="create-order",
            Runtime="python3.13",
            Role=role,
            Handler="handler.handler",
            Code={"S3Bucket": REGION_BUCKET, "S3Key": "create-order/v1.0.0.zip"},
        )
        first = functions.publish_version(
            FunctionName="create-order", Description=f"{v1.version} {v1.checksum}"
        )
        functions.create_alias(
            FunctionName="create-order", Name="live", FunctionVersion=first["Version"]
        )
        yield {"s3": s3, "lambda": functions, "v1": v1, "store": store}


def alias(aws: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = aws["lambda"].get_alias(FunctionName="create-order", Name="live")
    return result


def lambda_target(aws: dict[str, Any], name: str = "create-order") -> LambdaAliasTarget:
    return LambdaAliasTarget(
        name, "live", lambda env, region: aws["lambda"], aws["store"].copy_into
    )


def test_lambda_alias_one_box_weights_then_rolls_to_the_new_version(
    aws: dict[str, Any], deploy_role_allows: HeldTo
) -> None:
    target = lambda_target(aws)
    v2 = built(aws["s3"], "v1.1.0")

    with deploy_role_allows():
        one_box = target.one_box("production", f"{REGION}/euw1-az1", v2, 10.0)
    weights = alias(aws)["RoutingConfig"]["AdditionalVersionWeights"]
    assert one_box.fleet_percent_on_new == 10.0
    assert list(weights.values()) == [0.1]

    with deploy_role_allows():
        results = [
            target.next_batch("production", f"{REGION}/euw1-az1", v2, Rolling(), n)
            for n in (1, 2, 3)
        ]
    assert [r.done for r in results] == [False, False, True]
    assert [r.fleet_percent_on_new for r in results] == [43.0, 76.0, 100.0]
    new_version = next(iter(weights))
    assert alias(aws)["FunctionVersion"] == new_version
    assert not alias(aws).get("RoutingConfig", {}).get("AdditionalVersionWeights")

    # A later AZ step of the same region finds the function done
    assert target.next_batch("production", f"{REGION}/euw1-az2", v2, Rolling(), 1).done


def test_a_lambda_is_updated_from_the_verified_copy_in_its_own_region(
    aws: dict[str, Any],
) -> None:
    updates: list[dict[str, Any]] = []
    aws["lambda"].meta.events.register(
        "provide-client-params.lambda.UpdateFunctionCode",
        lambda params, **_: updates.append(dict(params)),
    )
    v2 = built(aws["s3"], "v1.1.0")
    lambda_target(aws).one_box("production", f"{REGION}/euw1-az1", v2, 10.0)
    assert [(u["S3Bucket"], u["S3Key"]) for u in updates] == [
        (REGION_BUCKET, "create-order/v1.1.0.zip")
    ]
    copy = s3_in("production", REGION).get_object(
        Bucket=REGION_BUCKET, Key="create-order/v1.1.0.zip"
    )
    assert f"sha256:{hashlib.sha256(copy['Body'].read()).hexdigest()}" == v2.checksum


def test_a_copy_whose_bytes_differ_is_never_deployed(aws: dict[str, Any]) -> None:
    v2 = built(aws["s3"], "v1.1.0")
    # the home object was replaced after the build checksummed it
    aws["s3"].put_object(Bucket=HOME_BUCKET, Key="create-order/v1.1.0.zip", Body=b"tampered")
    with pytest.raises(DeployTargetError, match="hashes to sha256:"):
        lambda_target(aws).one_box("production", f"{REGION}/euw1-az1", v2, 10.0)
    assert alias(aws)["FunctionVersion"] == "1"


def test_an_artifact_outside_the_shipwave_buckets_is_refused(aws: dict[str, Any]) -> None:
    elsewhere = Artifact(version="v2", checksum=aws["v1"].checksum, uri="s3://my-bucket/x.zip")
    with pytest.raises(ArtifactLocationError, match="not in a shipwave artifact bucket"):
        lambda_target(aws).one_box("production", REGION, elsewhere, 10.0)


def test_lambda_alias_rollback_returns_to_the_known_good_version(
    aws: dict[str, Any], deploy_role_allows: HeldTo
) -> None:
    target = lambda_target(aws)
    v2 = built(aws["s3"], "v1.1.0")
    target.one_box("production", REGION, v2, 10.0)

    with deploy_role_allows():
        assert aws["store"].verify(aws["v1"], "production", REGION)
        target.roll_back("production", REGION, aws["v1"], Rolling())

    assert alias(aws)["FunctionVersion"] == "1"
    assert not alias(aws).get("RoutingConfig", {}).get("AdditionalVersionWeights")


def test_lambda_alias_errors_are_ours(aws: dict[str, Any]) -> None:
    target = lambda_target(aws, "no-such-function")
    with pytest.raises(DeployTargetError, match="no-such-function"):
        target.one_box("production", REGION, aws["v1"], 10.0)


def test_s3_artifacts_verify_the_copy_the_region_deploys_from(aws: dict[str, Any]) -> None:
    store = aws["store"]
    good = aws["v1"]
    assert store.verify(good, "production", REGION)

    s3_in("production", REGION).put_object(
        Bucket=REGION_BUCKET, Key="create-order/v1.0.0.zip", Body=b"tampered"
    )
    assert not store.verify(good, "production", REGION)
    assert store.verify(good, "production", HOME)  # the home object is intact
    missing = f"s3://{HOME_BUCKET}/missing.zip"
    assert not store.verify(
        Artifact(version="v9", checksum=good.checksum, uri=missing), "production", REGION
    )
    assert not store.verify(
        Artifact(version="v9", checksum=good.checksum, uri="file:///x"), "production", REGION
    )
    digest = "sha256:" + "ab" * 32
    image = f"{ACCOUNT}.dkr.ecr.{HOME}.amazonaws.com/orders@{digest}"
    assert store.verify(Artifact(version="v3", checksum=digest, uri=image), "production", REGION)
    other = "sha256:" + "cd" * 32
    assert not store.verify(Artifact(version="v3", checksum=other, uri=image), "production", REGION)


def test_cloudwatch_reader_alarm_states_and_datapoints(deploy_role_allows: HeldTo) -> None:
    with mock_aws():
        client = boto3.client("cloudwatch", region_name=REGION)
        for name in ("create-order-fault-rate", "create-order-latency-p99"):
            client.put_metric_alarm(
                AlarmName=name,
                MetricName="m",
                Namespace="n",
                Statistic="Sum",
                Period=60,
                EvaluationPeriods=1,
                Threshold=1,
                ComparisonOperator="GreaterThanThreshold",
            )
        client.set_alarm_state(
            AlarmName="create-order-fault-rate", StateValue="ALARM", StateReason="test"
        )
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        client.put_metric_data(
            Namespace="AWS/ApiGateway",
            MetricData=[
                {
                    "MetricName": "Count",
                    "Dimensions": [{"Name": "ApiName", "Value": "orders"}],
                    "Timestamp": now - timedelta(minutes=m),
                    "Value": 40.0,
                }
                for m in range(1, 6)
            ],
        )
        reader = CloudWatchAlarmReader(lambda env, region: client)

        with deploy_role_allows():
            states = reader.states(
                "production",
                REGION,
                ["create-order-fault-rate", "create-order-latency-p99", "no-such-alarm"],
            )
        assert {name: status.state for name, status in states.items()} == {
            "create-order-fault-rate": "ALARM",
            "create-order-latency-p99": "OK",
        }
        assert all(status.actions_enabled for status in states.values())
        with deploy_role_allows():
            seen = reader.datapoints(
                "production",
                REGION,
                Datapoints(dimensions=(("ApiName", "orders"),)),
                REGION,
                now - timedelta(minutes=10),
                now,
            )
        assert seen == 200


def test_cloudwatch_reader_reports_missing_data_disabled_actions_and_composites() -> None:
    """What the gates rely on, on moto's CloudWatch: a missing alarm is left out (the gate
    names it missing), INSUFFICIENT_DATA and disabled actions come through as they are."""
    with mock_aws():
        client = boto3.client("cloudwatch", region_name=REGION)
        client.put_metric_alarm(
            AlarmName="create-order-fault-rate",
            MetricName="FaultRate",
            Namespace="create-order",
            Statistic="Average",
            Period=60,
            EvaluationPeriods=1,
            Threshold=0.01,
            ComparisonOperator="GreaterThanThreshold",
            ActionsEnabled=False,
        )
        client.set_alarm_state(
            AlarmName="create-order-fault-rate",
            StateValue="INSUFFICIENT_DATA",
            StateReason="no datapoints",
        )
        client.put_metric_alarm(  # moto has no composite alarms: a metric alarm stands in
            AlarmName="create-order-high-severity",
            MetricName="Faults",
            Namespace="create-order",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )
        reader = CloudWatchAlarmReader(lambda env, region: client)
        names = ["create-order-high-severity", "create-order-fault-rate", "orders-aggregate"]

        states = reader.states("production", REGION, names)

        assert set(states) == {"create-order-high-severity", "create-order-fault-rate"}
        fault = states["create-order-fault-rate"]
        assert (fault.state, fault.actions_enabled) == ("INSUFFICIENT_DATA", False)
        assert states["create-order-high-severity"].actions_enabled
        watched = Watched(
            region=REGION,
            names=tuple(names),
            need_data=frozenset(names),
            need_actions=frozenset(names),
        )
        assert assess(watched, states).unconfirmed == (
            "insufficient-data: create-order-fault-rate in eu-west-1",
            "actions-disabled: create-order-fault-rate in eu-west-1",
            "alarm-missing: orders-aggregate in eu-west-1",
        )


@pytest.mark.parametrize(
    "code", ["Throttling", "AccessDenied", "UnrecognizedClientException", "InternalFailure"]
)
def test_a_failed_alarm_read_raises_instead_of_answering_not_in_alarm(code: str) -> None:
    client = boto3.client("cloudwatch", region_name=REGION)
    stub = Stubber(client)
    stub.add_client_error("describe_alarms", service_error_code=code, http_status_code=400)
    reader = CloudWatchAlarmReader(lambda env, region: client)
    with stub, pytest.raises(AlarmReadError, match=code):
        reader.states("production", REGION, ["create-order-high-severity"])


def test_composite_alarms_are_read_beside_metric_alarms() -> None:
    client = boto3.client("cloudwatch", region_name=REGION)
    stub = Stubber(client)
    stub.add_response(
        "describe_alarms",
        {
            "MetricAlarms": [],
            "CompositeAlarms": [
                {
                    "AlarmName": "orders-aggregate",
                    "StateValue": "ALARM",
                    "ActionsEnabled": True,
                    "AlarmRule": 'ALARM("create-order-high-severity")',
                }
            ],
        },
    )
    reader = CloudWatchAlarmReader(lambda env, region: client)
    with stub:
        states = reader.states("production", REGION, ["orders-aggregate"])
    assert states["orders-aggregate"].state == "ALARM"


def test_an_alarm_state_cloudwatch_never_documented_is_a_read_error() -> None:
    client = boto3.client("cloudwatch", region_name=REGION)
    stub = Stubber(client)
    stub.add_response(
        "describe_alarms",
        {"MetricAlarms": [{"AlarmName": "a", "StateValue": "UNKNOWN"}], "CompositeAlarms": []},
    )
    reader = CloudWatchAlarmReader(lambda env, region: client)
    with stub, pytest.raises(AlarmReadError, match="unknown state"):
        reader.states("production", REGION, ["a"])


def test_the_deploy_role_clients_retry_in_standard_mode() -> None:
    from adapters.aws_session import RETRYING

    assert RETRYING.retries == {"mode": "standard", "max_attempts": 5}


def test_cloudwatch_reader_alarm_history_backstop() -> None:
    client = boto3.client("cloudwatch", region_name=REGION)
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def item(minutes: int, state: str) -> dict[str, Any]:
        return {
            "AlarmName": "a",
            "Timestamp": start + timedelta(minutes=minutes),
            "HistoryItemType": "StateUpdate",
            "HistoryData": json.dumps({"newState": {"stateValue": state}}),
        }

    stub = Stubber(client)
    stub.add_response(
        "describe_alarm_history",
        {"AlarmHistoryItems": [item(-30, "OK"), item(20, "ALARM"), item(25, "OK")]},
    )
    stub.add_response("describe_alarm_history", {"AlarmHistoryItems": [item(-30, "OK")]})
    reader = CloudWatchAlarmReader(lambda env, region: client)
    with stub:
        assert reader.breached(
            "production", REGION, ["a", "b"], start, start + timedelta(hours=1)
        ) == ("a",)


def test_specs_travel_from_each_pipeline_stack_to_the_handlers_through_parameter_store() -> None:
    from adapters.pipeline_specs import (
        STANDARD_TIER_MAX,
        ParameterSpecs,
        SpecsUnreadableError,
        encode_spec,
    )
    from domain.conventions import SPECS_PATH, spec_parameter_name
    from examples.reference import PIPELINES

    specs = {p.spec().pipeline_id: p.spec() for p in PIPELINES}
    with mock_aws():
        ssm = boto3.client("ssm")  # the handlers' own region (the home region)
        first, *others = sorted(specs)
        ssm.put_parameter(
            Name=spec_parameter_name(first), Value=encode_spec(specs[first]), Type="String"
        )
        read = ParameterSpecs(SPECS_PATH)
        assert dict(read) == {first: specs[first]}
        # pipelines deployed later are taken up once the cached read is a minute old
        for pipeline_id in others:
            ssm.put_parameter(
                Name=spec_parameter_name(pipeline_id),
                Value=encode_spec(specs[pipeline_id]),
                Type="String",
            )
        assert dict(read) == {first: specs[first]}
        assert ParameterSpecs(SPECS_PATH) == specs
        assert all(len(encode_spec(spec)) <= STANDARD_TIER_MAX for spec in specs.values())
        # a value that is no spec, or the spec of another pipeline, fails the read by name
        ssm.put_parameter(Name=spec_parameter_name("forged"), Value="not base64!", Type="String")
        with pytest.raises(SpecsUnreadableError, match="/shipwave/pipelines/forged"):
            dict(ParameterSpecs(SPECS_PATH))
        ssm.put_parameter(
            Name=spec_parameter_name("forged"),
            Value=encode_spec(specs[first]),
            Type="String",
            Overwrite=True,
        )
        with pytest.raises(SpecsUnreadableError, match=f"spec of pipeline '{first}'"):
            dict(ParameterSpecs(SPECS_PATH))


def test_unreadable_parameter_store_fails_the_handler_instead_of_knowing_no_pipeline() -> None:
    from adapters.pipeline_specs import ParameterSpecs, SpecsUnreadableError

    with mock_aws():
        ssm = boto3.client("ssm", region_name=REGION)
        stub = Stubber(ssm)
        stub.add_client_error("get_parameters_by_path", "AccessDeniedException")
        from aws_lambda_powertools.utilities.parameters import SSMProvider

        with stub, pytest.raises(SpecsUnreadableError, match="AccessDenied"):
            dict(ParameterSpecs(provider=SSMProvider(boto3_client=ssm)))


def test_deploy_role_sessions_are_assumed_again_before_their_credentials_expire() -> None:
    from adapters.aws_session import DeployRoles

    with mock_aws():
        now = [datetime.now(UTC)]
        roles = DeployRoles(clock=lambda: now[0])
        first = roles.session("production", "eu-west-1")
        now[0] += timedelta(minutes=30)  # an hour's credentials: still fresh
        assert roles.session("production", "eu-west-1") is first
        now[0] += timedelta(minutes=20)  # within 15 minutes of expiry
        second = roles.session("production", "eu-west-1")
        assert second is not first
        keys = {s.get_credentials().access_key for s in (first, second)}  # type: ignore[union-attr]
        assert len(keys) == 2
        now[0] += timedelta(days=3)  # a multi-day rollout: a warm container goes on working
        assert roles.cloudwatch("production", "eu-west-1").describe_alarms()["MetricAlarms"] == []


def test_a_teams_targets_are_reached_through_its_own_role_and_alarms_through_the_platforms() -> (
    None
):
    from adapters.aws_session import DeployRoles

    with mock_aws():
        roles = DeployRoles()

        def role_of(session: Any) -> str:
            arn: str = session.client("sts").get_caller_identity()["Arn"]
            return arn.split("/")[1]

        assert role_of(roles.session("production", "eu-west-1")) == "shipwave-deploy-eu-west-1"
        assert role_of(roles.session("production", "eu-west-1", "orders")) == (
            "shipwave-deploy-orders-eu-west-1"
        )
        lambda_client = roles.team_lambda("orders")("production", "eu-west-1")
        assert lambda_client.meta.region_name == "eu-west-1"


def test_every_call_the_event_store_makes_is_one_every_handler_role_may_make(
    moto_account_assembly: Any,
) -> None:
    """Appends, reads, a retried append, snapshots and the pipelines index, as the adapter
    makes them on moto, held to each handler role's synthesized policy (events only inside
    transactions, plain puts only for snapshots)."""
    from adapters.dynamodb import DynamoDBEventStore
    from domain.state import project
    from tests.aws import iam
    from tests.aws.cfn import World
    from tests.builders import change_received, rollout
    from tests.functional.conftest import MOTO_ACCOUNT

    events = [
        change_received("orders-app", 1, "c1"),
        *rollout("orders-app", 2, "c1", "alpha", "us-east-1"),
    ]
    with mock_aws():
        store = DynamoDBEventStore("shipwave-events", client=boto3.client("dynamodb"))
        store.create_table()
        with iam.recording() as calls:
            store.append(events[:3])
            store.append(events[3:])
            store.append(events[3:])  # retried: the earlier result, nothing written
            state = project(store.read("orders-app"))
            store.save_snapshot(state)
            assert store.latest_snapshot("orders-app") == state
            assert store.pipelines() == ("orders-app",)
    body = json.loads((moto_account_assembly / "shipwave-controller.template.json").read_text())
    (table,) = [
        k
        for k, r in body["Resources"].items()
        if r["Type"] == "AWS::DynamoDB::Table" and k.startswith("EventLog")
    ]
    world = World(
        account=MOTO_ACCOUNT,
        region="us-east-1",
        refs={table: "shipwave-events"},
        attributes={
            (table, "Arn"): f"arn:aws:dynamodb:us-east-1:{MOTO_ACCOUNT}:table/shipwave-events"
        },
        credentials=(str(calls[0]["access_key"]), "testing"),  # moto's own signing key
    )
    operations = {call["operation"] for call in calls}
    assert {"TransactWriteItems", "PutItem", "Query"} <= operations
    roles = {
        r["Properties"]["FunctionName"]: r["Properties"]["Role"]["Fn::GetAtt"][0]
        for r in body["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    }
    assert len(roles) == 11
    reads = [c for c in calls if c["operation"] in ("Query", "GetItem")]
    for name, role in roles.items():
        if name == "shipwave-notify":  # reads the log, never appends to it
            assert iam.denied_calls(moto_account_assembly, role, reads, world) == [], role
            writes = [c for c in calls if c["operation"] in ("TransactWriteItems", "PutItem")]
            assert writes
            for write in writes:  # each append and snapshot put is refused to it
                assert iam.denied_calls(moto_account_assembly, role, [write], world), write
            continue
        assert iam.denied_calls(moto_account_assembly, role, calls, world) == [], role
