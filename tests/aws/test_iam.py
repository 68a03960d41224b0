"""Calls a function makes through the deploy role it assumes, held to both roles' policies
and to the deploy role's trust policy; and the evaluator itself refuses what is not granted."""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from domain.artifacts import artifact_bucket
from tests.aws import iam, sandbox
from tests.aws.cfn import World
from tests.aws.conftest import ACCOUNT, HOME, client


def test_a_stage_preflight_reads_company_blockers_through_the_deploy_role_it_may_assume(
    cloud_assembly: Path, world: World, moto_endpoint: str, tmp_path: Path
) -> None:
    package = sandbox.functions(cloud_assembly)["shipwave-blockers"]
    outcome = sandbox.invoke(
        package,
        {
            "action": "check",
            "stage": "alpha",
            "regions": [HOME],
            "input": {"pipeline_id": "create-order-application", "change_id": "c-iam"},
        },
        world=world,
        endpoint=moto_endpoint,
        work=tmp_path,
    )
    operations = [call["operation"] for call in outcome["calls"]]
    assert "AssumeRole" in operations, outcome.get("traceback")
    assert "DescribeAlarms" in operations
    assert iam.denied_calls(cloud_assembly, package.role, outcome["calls"], world) == []


def call(operation: str, signing: str, **params: Any) -> dict[str, Any]:
    return {
        "signing_name": signing,
        "operation": operation,
        "params": params,
        "region": HOME,
        "access_key": "K",
    }


@pytest.fixture
def keyed(world: World) -> World:
    return World(
        account=ACCOUNT,
        region=HOME,
        refs=world.refs,
        attributes=world.attributes,
        credentials=("K", "s"),
    )


def test_a_call_the_role_was_not_granted_is_reported_with_its_action_and_resource(
    cloud_assembly: Path, keyed: World
) -> None:
    intake = sandbox.functions(cloud_assembly)["shipwave-intake"].role
    topic = keyed.refs[next(k for k in keyed.refs if k.startswith("Pages"))]
    denied = iam.denied_calls(
        cloud_assembly, intake, [call("Publish", "sns", TopicArn=topic, Message="m")], keyed
    )
    assert denied == [f"{intake}: sns:Publish on {topic}"]
    other_table = iam.denied_calls(
        cloud_assembly,
        intake,
        [call("Query", "dynamodb", TableName="someone-elses-table")],
        keyed,
    )
    assert other_table == [
        f"{intake}: dynamodb:Query on arn:aws:dynamodb:{HOME}:{ACCOUNT}:table/someone-elses-table"
    ]


def test_a_role_the_deploy_role_does_not_trust_may_not_assume_it(
    cloud_assembly: Path, keyed: World
) -> None:
    intake = sandbox.functions(cloud_assembly)["shipwave-intake"].role
    assume = call(
        "AssumeRole", "sts", RoleArn=f"arn:aws:iam::{ACCOUNT}:role/shipwave-deploy-{HOME}"
    )
    denied = iam.denied_calls(cloud_assembly, intake, [assume], keyed)
    assert f"{intake}: sts:AssumeRole on arn:aws:iam::{ACCOUNT}:role/shipwave-deploy-{HOME}" in (
        denied
    )
    assert any("does not trust" in problem for problem in denied)


def test_an_unmapped_call_fails_rather_than_passes(cloud_assembly: Path, keyed: World) -> None:
    intake = sandbox.functions(cloud_assembly)["shipwave-intake"].role
    with pytest.raises(iam.UnmappedCallError, match="ec2:RunInstances"):
        iam.denied_calls(cloud_assembly, intake, [call("RunInstances", "ec2")], keyed)


PROBES = Path(__file__).with_name("probes")


def test_an_artifact_reaches_a_region_through_its_deploy_role_and_is_verified_there(
    cloud_assembly: Path, world: World, moto_endpoint: str, tmp_path: Path
) -> None:
    """The copy before a Lambda deploy in eu-west-1, run in the deploy function's runtime:
    home object read, copy written, copy read back and hashed, all by the region's role."""
    body = b"the zip the build made"
    s3 = client("s3", moto_endpoint)
    home = artifact_bucket(ACCOUNT, HOME)
    s3.create_bucket(Bucket=home)
    client("s3", moto_endpoint, "eu-west-1").create_bucket(
        Bucket=artifact_bucket(ACCOUNT, "eu-west-1"),
        CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
    )
    s3.put_object(Bucket=home, Key="create-order/v2.zip", Body=body)
    artifact = {
        "version": "v2",
        "checksum": f"sha256:{hashlib.sha256(body).hexdigest()}",
        "uri": f"s3://{home}/create-order/v2.zip",
    }
    package = replace(
        sandbox.functions(cloud_assembly)["shipwave-deploy"], handler="shipwave_probes.copy_into"
    )
    outcome = sandbox.invoke(
        package,
        {"artifact": artifact, "environment": "production", "region": "eu-west-1"},
        world=world,
        endpoint=moto_endpoint,
        work=tmp_path,
        probes=PROBES,
    )
    assert "error" not in outcome, outcome.get("traceback")
    assert outcome["result"] == {
        "uri": f"s3://{artifact_bucket(ACCOUNT, 'eu-west-1')}/create-order/v2.zip",
        "verified": True,
    }
    operations = [call["operation"] for call in outcome["calls"]]
    assert operations.count("CopyObject") == 1
    # the first read of the copy found nothing: that is a 404 only with s3:ListBucket
    assert any(call.get("error_code") == "NoSuchKey" for call in outcome["calls"])
    assert iam.denied_calls(cloud_assembly, package.role, outcome["calls"], world) == []


def _bucket(region: str, endpoint: str) -> str:
    name = artifact_bucket(ACCOUNT, region)
    s3 = client("s3", endpoint, region)
    if name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        options = {} if region == HOME else {"LocationConstraint": region}
        s3.create_bucket(Bucket=name, **({"CreateBucketConfiguration": options} if options else {}))
    return name


def test_a_one_box_deploys_through_the_teams_role_and_copies_through_the_platforms(
    cloud_assembly: Path, world: World, moto_endpoint: str, tmp_path: Path
) -> None:
    """The deploy function's runtime, the spec read from Parameter Store, one-box of the
    create-order function in eu-west-1: the Lambda calls are signed by the orders team's
    deploy role of that region, the artifact copy by the platform's, each allowed there."""
    region = "eu-west-1"
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return 2\n")
    code = body.getvalue()
    s3 = client("s3", moto_endpoint)
    home = _bucket(HOME, moto_endpoint)
    _bucket(region, moto_endpoint)
    s3.put_object(Bucket=home, Key="create-order/v3.zip", Body=code)
    role = client("iam", moto_endpoint).create_role(
        RoleName="create-order-execution",
        AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[]}',
    )["Role"]["Arn"]
    functions = client("lambda", moto_endpoint, region)
    functions.create_function(
        FunctionName="create-order",
        Runtime="python3.13",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": code.replace(b"return 2", b"return 1")},
    )
    stable = functions.publish_version(FunctionName="create-order")["Version"]
    functions.create_alias(FunctionName="create-order", Name="live", FunctionVersion=stable)
    package = replace(
        sandbox.functions(cloud_assembly)["shipwave-deploy"], handler="shipwave_probes.one_box"
    )
    outcome = sandbox.invoke(
        package,
        {
            "pipeline_id": "create-order-application",
            "environment": "production",
            "scope": region,
            "percent": 10.0,
            "artifact": {
                "version": "v3",
                "checksum": f"sha256:{hashlib.sha256(code).hexdigest()}",
                "uri": f"s3://{home}/create-order/v3.zip",
            },
        },
        world=world,
        endpoint=moto_endpoint,
        work=tmp_path,
        probes=PROBES,
    )
    assert "error" not in outcome, outcome.get("traceback")
    assert outcome["result"]["fleet_percent_on_new"] == 10.0
    assumed = [c["params"]["RoleArn"] for c in outcome["calls"] if c["operation"] == "AssumeRole"]
    assert sorted(set(assumed)) == [
        f"arn:aws:iam::{ACCOUNT}:role/shipwave-deploy-{region}",
        f"arn:aws:iam::{ACCOUNT}:role/shipwave-deploy-orders-{region}",
    ]
    assert iam.denied_calls(cloud_assembly, package.role, outcome["calls"], world) == []
    # the platform's role deploys nothing: the same calls signed by it are refused
    platform = iam.deploy_role(
        cloud_assembly, f"arn:aws:iam::{ACCOUNT}:role/shipwave-deploy-{region}"
    )
    in_region = World(ACCOUNT, region, world.refs, world.attributes, world.credentials)
    statements = iam.role_statements(cloud_assembly, *platform, in_region)
    deploying = [
        request
        for c in outcome["calls"]
        for request in iam.requests(c, in_region)
        if request.action.startswith("lambda:")
    ]
    assert {r.action for r in deploying} >= {"lambda:UpdateFunctionCode", "lambda:UpdateAlias"}
    assert not any(iam.allowed(statements, request) for request in deploying)


@pytest.mark.parametrize("function", ["shipwave-intake", "shipwave-deploy", "shipwave-alarm"])
def test_an_event_is_written_only_by_a_transaction_and_a_plain_put_only_writes_a_snapshot(
    cloud_assembly: Path, keyed: World, function: str
) -> None:
    role = sandbox.functions(cloud_assembly)[function].role
    table = "shipwave-events"
    arn = f"arn:aws:dynamodb:{HOME}:{ACCOUNT}:table/{table}"
    event = {"pk": {"S": "create-order-application"}, "sk": {"N": "7"}}
    append = call(
        "TransactWriteItems",
        "dynamodb",
        TransactItems=[
            {"Put": {"TableName": table, "Item": event}},
            {"ConditionCheck": {"TableName": table, "Key": {**event, "sk": {"N": "6"}}}},
        ],
    )
    snapshot = {"pk": {"S": "create-order-application#snapshot"}, "sk": {"N": "7"}}

    def denied(*calls: dict[str, Any]) -> list[str]:
        return iam.denied_calls(cloud_assembly, role, list(calls), keyed)

    assert denied(append, call("PutItem", "dynamodb", TableName=table, Item=snapshot)) == []
    # outside a transaction an event could be overwritten: refused
    assert denied(call("PutItem", "dynamodb", TableName=table, Item=event)) == [
        f"{role}: dynamodb:PutItem on {arn}"
    ]
    for operation in ("UpdateItem", "DeleteItem"):
        assert denied(call(operation, "dynamodb", TableName=table, Key=event)) == [
            f"{role}: dynamodb:{operation} on {arn}"
        ]
    changed = call(
        "TransactWriteItems",
        "dynamodb",
        TransactItems=[{"Update": {"TableName": table, "Key": event}}],
    )
    assert denied(changed) == [f"{role}: dynamodb:UpdateItem on {arn}"]


def test_only_the_review_gate_may_read_the_github_token(cloud_assembly: Path, keyed: World) -> None:
    token = keyed.refs[next(k for k in keyed.refs if k.startswith("GitHubApiToken"))]
    read = [call("GetSecretValue", "secretsmanager", SecretId=token)]
    functions = sandbox.functions(cloud_assembly)
    assert iam.denied_calls(cloud_assembly, functions["shipwave-blockers"].role, read, keyed) == []
    for other in ("shipwave-intake", "shipwave-build", "shipwave-deploy"):
        role = functions[other].role
        assert iam.denied_calls(cloud_assembly, role, read, keyed) == [
            f"{role}: secretsmanager:GetSecretValue on {token}"
        ]
