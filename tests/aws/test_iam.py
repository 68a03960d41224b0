"""Calls a function makes through the deploy role it assumes, held to both roles' policies
and to the deploy role's trust policy; and the evaluator itself refuses what is not granted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.aws import iam, sandbox
from tests.aws.cfn import World
from tests.aws.conftest import ACCOUNT, HOME


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
