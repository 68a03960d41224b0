"""The ECS service deploy target against moto's ECS (a stand-in client where moto's ECS does
not model deployments in progress)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adapters.aws_session import DeployRoles, aws_target
from adapters.ecs_service import ARTIFACT_LABEL, EcsServiceTarget
from domain.errors import DeployTargetError
from domain.events import Artifact
from domain.spec import Rolling
from examples.reference import OrderHistoryApp
from tests.functional.conftest import HeldTo

REGION = "eu-west-1"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/order-history"


def image(version: str) -> Artifact:
    digest = f"sha256:{version.replace('.', '').ljust(64, '0')}"
    return Artifact(version=version, checksum=digest, uri=f"{IMAGE}@{digest}")


@pytest.fixture
def ecs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # moto's ECS reports its services' tasks as running only when told how many
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "9")
    with mock_aws():
        client = boto3.client("ecs", region_name=REGION)
        client.create_cluster(clusterName="orders")
        v1 = image("v1.0.0")
        first = client.register_task_definition(
            family="order-history",
            containerDefinitions=[
                {
                    "name": "app",
                    "image": v1.uri,
                    "memory": 512,
                    "dockerLabels": {ARTIFACT_LABEL: f"{v1.version} {v1.checksum}"},
                },
                {"name": "sidecar", "image": "public.ecr.aws/envoy:v1", "memory": 128},
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        client.create_service(
            cluster="orders", serviceName="order-history", taskDefinition=first, desiredCount=9
        )
        client.create_service(
            cluster="orders",
            serviceName="order-history-one-box",
            taskDefinition=first,
            desiredCount=0,
        )
        yield client


def target(client: Any) -> EcsServiceTarget:
    return EcsServiceTarget(
        "orders", "order-history", "order-history-one-box", lambda env, region: client
    )


def service(client: Any, name: str) -> dict[str, Any]:
    found: dict[str, Any] = client.describe_services(cluster="orders", services=[name])["services"][
        0
    ]
    return found


def running_image(client: Any, name: str) -> str:
    arn = service(client, name)["taskDefinition"]
    definition = client.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    return str(definition["containerDefinitions"][0]["image"])


def test_one_box_then_rolling_moves_both_services_to_the_new_image(
    ecs: Any, deploy_role_allows: HeldTo
) -> None:
    v2 = image("v1.1.0")

    with deploy_role_allows():
        one_box = target(ecs).one_box("production", f"{REGION}/euw1-az1", v2, 10.0)
    assert (one_box.done, one_box.fleet_percent_on_new) == (False, 10.0)  # 1 task of 10
    assert running_image(ecs, "order-history-one-box") == v2.uri
    assert service(ecs, "order-history-one-box")["desiredCount"] == 1
    assert running_image(ecs, "order-history") != v2.uri

    with deploy_role_allows():
        rolled = target(ecs).next_batch("production", f"{REGION}/euw1-az1", v2, Rolling(), 1)
    assert rolled.done
    assert running_image(ecs, "order-history") == v2.uri
    # the sidecar is kept as it was; the new revision carries the artifact's label
    arn = service(ecs, "order-history")["taskDefinition"]
    containers = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"][
        "containerDefinitions"
    ]
    assert containers[1]["image"] == "public.ecr.aws/envoy:v1"
    assert containers[0]["dockerLabels"][ARTIFACT_LABEL] == f"{v2.version} {v2.checksum}"

    # a retried step, or a later AZ of the region, registers nothing and finds it done
    assert target(ecs).next_batch("production", f"{REGION}/euw1-az2", v2, Rolling(), 1).done
    revisions = ecs.list_task_definitions(familyPrefix="order-history")["taskDefinitionArns"]
    assert len(revisions) == 2


def test_rollback_returns_both_services_to_the_known_good_revision(
    ecs: Any, deploy_role_allows: HeldTo
) -> None:
    v1, v2 = image("v1.0.0"), image("v1.1.0")
    target(ecs).one_box("production", REGION, v2, 10.0)
    target(ecs).next_batch("production", REGION, v2, Rolling(), 1)

    with deploy_role_allows():
        result = target(ecs).roll_back("production", REGION, v1, Rolling())

    assert result.done
    assert running_image(ecs, "order-history") == v1.uri
    assert running_image(ecs, "order-history-one-box") == v1.uri
    revisions = ecs.list_task_definitions(familyPrefix="order-history")["taskDefinitionArns"]
    assert len(revisions) == 2  # a rollback never registers a revision


def test_a_rollback_to_an_artifact_no_revision_runs_is_refused(ecs: Any) -> None:
    with pytest.raises(DeployTargetError, match=r"no task definition runs v0\.9\.0"):
        target(ecs).roll_back("production", REGION, image("v0.9.0"), Rolling())


def test_a_non_image_artifact_or_a_missing_service_is_a_clear_error(ecs: Any) -> None:
    zipped = Artifact(version="v2", checksum="sha256:" + "0" * 64, uri="s3://bucket/v2.zip")
    with pytest.raises(DeployTargetError, match="not a container image"):
        target(ecs).one_box("production", REGION, zipped, 10.0)
    missing = EcsServiceTarget("orders", "nope", "nope-one-box", lambda env, region: ecs)
    with pytest.raises(DeployTargetError, match="orders/nope in eu-west-1: no such service"):
        missing.one_box("production", REGION, image("v2"), 10.0)


class InProgress:
    """moto's ECS completes every deployment at once; this client reports one in progress,
    then one with failed tasks, as ECS does while new tasks fail their health checks."""

    def __init__(self, client: Any, states: list[tuple[str, int, int]]) -> None:
        self.client = client
        self.states = states  # (rolloutState, runningCount, failedTasks) per describe

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def describe_services(self, **kwargs: Any) -> dict[str, Any]:
        found = self.client.describe_services(**kwargs)
        if kwargs["services"] == ["order-history"]:
            found["services"][0] = self._reported(found["services"][0])
        return found

    def update_service(self, **kwargs: Any) -> dict[str, Any]:
        updated = self.client.update_service(**kwargs)
        if kwargs["service"] == "order-history":
            updated["service"] = self._reported(updated["service"])
        return updated

    def _reported(self, found: dict[str, Any]) -> dict[str, Any]:
        if not self.states:
            return found
        state, running, failed = self.states.pop(0)
        primary = dict(found["deployments"][0])
        primary.update(
            rolloutState=state,
            runningCount=running,
            failedTasks=failed,
            rolloutStateReason=f"ECS deployment {state.lower()}",
        )
        return {**found, "deployments": [primary, {"status": "ACTIVE"}]}


def test_batches_follow_the_deployment_and_failed_tasks_are_unhealthy(ecs: Any) -> None:
    v2 = image("v1.1.0")
    client = InProgress(
        ecs,
        [
            ("COMPLETED", 9, 0),  # before the first batch: the old revision, settled
            ("IN_PROGRESS", 3, 0),  # the update's answer: new tasks starting
            ("IN_PROGRESS", 6, 0),
            ("FAILED", 6, 2),
        ],
    )
    stepping = EcsServiceTarget(
        "orders", "order-history", "order-history-one-box", lambda env, region: client
    )
    first = stepping.next_batch("production", REGION, v2, Rolling(), 1)
    assert (first.done, first.fleet_percent_on_new) == (False, pytest.approx(33.33))
    second = stepping.next_batch("production", REGION, v2, Rolling(), 2)
    assert (second.done, second.unhealthy) == (False, ())
    failed = stepping.next_batch("production", REGION, v2, Rolling(), 3)
    assert not failed.done
    assert len(failed.unhealthy) == 2
    assert "failed" in failed.reason
    assert failed.healthy_percent == pytest.approx(66.67)


def test_the_reference_ecs_pipeline_gets_an_ecs_target_on_aws() -> None:
    chosen = aws_target(OrderHistoryApp.spec(), DeployRoles())
    assert isinstance(chosen, EcsServiceTarget)
    assert (chosen.cluster, chosen.service, chosen.one_box_service) == (
        "orders",
        "order-history",
        "order-history-one-box",
    )
