"""An ECS service, with a one-task service beside it, as a deploy target.

- The artifact is a container image (`Artifact.uri`, e.g. an ECR image by digest). Deploying
  it registers a revision of the service's task definition whose first container runs that
  image, labelled `shipwave.artifact = "<version> <checksum>"`; the same label finds the
  revision again (a retried step registers nothing twice; a rollback reuses the known-good
  revision and never registers one).
- One-box: the one-box service (one task on the same target group) runs the new revision; its
  share is one task of the fleet, at most the configured one-box share.
- Rolling: the first batch points the main service at the revision with a deployment
  configuration of at most `batch_percent` more tasks at a time and at least
  `min_healthy_percent` healthy (ECS starts a new task, waits for its health checks, then
  stops an old one). Later batches read the deployment: done when it completed; failed tasks or
  a failed rollout are unhealthy boxes, and the step rolls back.
- Rollback points both services at the known-good revision.
A service is regional, so every AZ/cell scope of a region moves the same services: the first AZ
step of a wave finishes the region and later ones find it done.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from adapters.aws_errors import deploy_error
from domain.errors import DeployTargetError
from domain.events import Artifact
from domain.ports import DeployResult, DeployTarget
from domain.rollout import one_box_traffic_percent
from domain.spec import Rolling

if TYPE_CHECKING:
    from mypy_boto3_ecs.client import ECSClient

ClientFactory = Callable[[str, str], "ECSClient"]  # (environment, region) → client

ARTIFACT_LABEL = "shipwave.artifact"
#: how many of a family's newest revisions are searched for an artifact's label
SEARCHED_REVISIONS = 100
#: what register_task_definition accepts of a described task definition
_REGISTERABLE = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
)


class EcsServiceTarget(DeployTarget):
    """Raises DeployTargetError for every AWS failure, naming the cluster, service and scope."""

    def __init__(
        self, cluster: str, service: str, one_box_service: str, clients: ClientFactory
    ) -> None:
        self.cluster = cluster
        self.service = service
        self.one_box_service = one_box_service
        self._clients = clients

    def one_box(
        self, environment: str, scope: str, artifact: Artifact, traffic_percent: float
    ) -> DeployResult:
        client = self._client(environment, scope)
        main = self._describe(client, self.service, scope)
        revision = self._revision(client, main, artifact, register=True)
        self._update(client, self.one_box_service, scope, taskDefinition=revision, desiredCount=1)
        if main["taskDefinition"] == revision:  # the region already runs it (an earlier AZ)
            return DeployResult(
                boxes=(f"{self.service}:{_revision_name(revision)}",),
                fleet_percent_on_new=100.0,
                healthy_percent=100.0,
                done=True,
            )
        tasks = max(1, int(main.get("desiredCount", 0))) + 1
        return DeployResult(
            boxes=(f"{self.one_box_service}:{_revision_name(revision)}",),
            fleet_percent_on_new=one_box_traffic_percent(tasks, traffic_percent),
            healthy_percent=100.0,
            done=False,
        )

    def next_batch(
        self, environment: str, scope: str, artifact: Artifact, rolling: Rolling, batch: int
    ) -> DeployResult:
        client = self._client(environment, scope)
        main = self._describe(client, self.service, scope)
        revision = self._revision(client, main, artifact, register=True)
        if main["taskDefinition"] != revision:
            step = rolling.fast_forward_percent if rolling.fast_rollback else rolling.batch_percent
            main = self._update(
                client,
                self.service,
                scope,
                taskDefinition=revision,
                deploymentConfiguration={
                    "maximumPercent": 100 + max(1, int(step)),
                    "minimumHealthyPercent": int(rolling.min_healthy_percent),
                },
            )
        return self._progress(main, revision)

    def roll_back(
        self, environment: str, scope: str, artifact: Artifact | None, rolling: Rolling
    ) -> DeployResult:
        client = self._client(environment, scope)
        main = self._describe(client, self.service, scope)
        if artifact is None:  # nothing known good: take the one-box out, leave the fleet
            self._update(client, self.one_box_service, scope, desiredCount=0)
            return DeployResult(
                boxes=(self.one_box_service,),
                fleet_percent_on_new=100.0,
                healthy_percent=100.0,
                done=True,
            )
        revision = self._revision(client, main, artifact, register=False)
        self._update(client, self.one_box_service, scope, taskDefinition=revision)
        if main["taskDefinition"] != revision:
            self._update(client, self.service, scope, taskDefinition=revision)
        return DeployResult(
            boxes=(f"{self.service}:{_revision_name(revision)}",),
            fleet_percent_on_new=100.0,
            healthy_percent=100.0,
            done=True,
        )

    # --- helpers ----------------------------------------------------------------------------

    def _progress(self, main: dict[str, Any], revision: str) -> DeployResult:
        deployments = list(main.get("deployments", []))
        primary: dict[str, Any] = next(
            (dict(d) for d in deployments if d.get("status") == "PRIMARY"), {}
        )
        desired = int(primary.get("desiredCount", main.get("desiredCount", 0)))
        running = int(primary.get("runningCount", main.get("runningCount", 0)))
        failed = int(primary.get("failedTasks", 0))
        rollout = str(primary.get("rolloutState", "COMPLETED"))
        unhealthy: tuple[str, ...] = ()
        reason = ""
        if rollout == "FAILED" or failed > 0:
            unhealthy = tuple(f"{self.service}:failed-task-{n}" for n in range(1, failed + 1))
            unhealthy = unhealthy or (f"{self.service}:{_revision_name(revision)}",)
            reason = str(primary.get("rolloutStateReason") or f"{failed} task(s) failed")
        done = rollout == "COMPLETED" and len(deployments) <= 1 and not unhealthy
        on_new = 100.0 if done else (100.0 * running / desired if desired else 0.0)
        return DeployResult(
            boxes=(f"{self.service}:{_revision_name(revision)}",),
            fleet_percent_on_new=round(on_new, 2),
            healthy_percent=round(100.0 * min(running, desired) / desired, 2) if desired else 0.0,
            done=done,
            unhealthy=unhealthy,
            reason=reason,
        )

    def _client(self, environment: str, scope: str) -> ECSClient:
        return self._clients(environment, scope.split("/", maxsplit=1)[0])

    def _describe(self, client: ECSClient, service: str, scope: str) -> dict[str, Any]:
        try:
            found = client.describe_services(cluster=self.cluster, services=[service])
        except (ClientError, BotoCoreError) as error:
            raise deploy_error(error, f"{self.cluster}/{service} in {scope}: {error}") from None
        services = found.get("services", [])
        if not services or services[0].get("status") == "INACTIVE":
            raise DeployTargetError(f"{self.cluster}/{service} in {scope}: no such service")
        return dict(services[0])

    def _update(
        self, client: ECSClient, service: str, scope: str, **changes: Any
    ) -> dict[str, Any]:
        try:
            return dict(
                client.update_service(cluster=self.cluster, service=service, **changes)["service"]
            )
        except (ClientError, BotoCoreError) as error:
            raise DeployTargetError(
                f"{self.cluster}/{service} in {scope}: update service failed ({error})"
            ) from None

    def _revision(
        self, client: ECSClient, main: dict[str, Any], artifact: Artifact, *, register: bool
    ) -> str:
        """The task definition revision that runs the artifact: found by its label, else
        registered from the service's current one (only when `register`)."""
        label = f"{artifact.version} {artifact.checksum}"
        try:
            current: dict[str, Any] = dict(
                client.describe_task_definition(taskDefinition=main["taskDefinition"])[
                    "taskDefinition"
                ]
            )
            family = current["family"]
            listed = client.list_task_definitions(
                familyPrefix=family, sort="DESC", maxResults=SEARCHED_REVISIONS
            )
            for arn in listed.get("taskDefinitionArns", []):
                described = (
                    current
                    if arn == current["taskDefinitionArn"]
                    else client.describe_task_definition(taskDefinition=arn)["taskDefinition"]
                )
                labels = described["containerDefinitions"][0].get("dockerLabels", {})
                if labels.get(ARTIFACT_LABEL) == label:
                    return str(arn)
            if not register:
                raise DeployTargetError(
                    f"{self.cluster}/{self.service}: no task definition runs {artifact.version}"
                )
            if artifact.uri.startswith(("s3://", "sim://")):
                raise DeployTargetError(
                    f"{artifact.version}: artifact {artifact.uri!r} is not a container image"
                )
            definition = {key: current[key] for key in _REGISTERABLE if key in current}
            first, *others = definition["containerDefinitions"]
            first = {
                **first,
                "image": artifact.uri,
                "dockerLabels": {**first.get("dockerLabels", {}), ARTIFACT_LABEL: label},
            }
            definition["containerDefinitions"] = [first, *others]
            registered = client.register_task_definition(**definition)
            return str(registered["taskDefinition"]["taskDefinitionArn"])
        except (ClientError, BotoCoreError) as error:
            raise deploy_error(error, f"{self.cluster}/{self.service}: {error}") from None


def _revision_name(arn: str) -> str:
    """ "arn:...:task-definition/orders:7" → "orders:7"."""
    return arn.rsplit("/", 1)[-1]
