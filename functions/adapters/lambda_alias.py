"""A Lambda function behind an alias as a deploy target.

Lambda has no boxes: one-box is weighted alias routing (the new version gets the one-box
share, at most 10 %), rolling is weight steps (one-box share + batch % per batch) until the
alias points at the new version alone, and rollback points the alias back at the known-good
version with no routing. A function is regional, so every AZ/cell scope of a region moves the
same alias: the first AZ step of a wave finishes the region and later ones find it done.
Versions are found by their description, "<version> <checksum>".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from adapters.aws_errors import deploy_error
from domain.artifacts import s3_location
from domain.errors import DeployTargetError
from domain.events import Artifact
from domain.ports import DeployResult, DeployTarget
from domain.spec import Rolling

if TYPE_CHECKING:
    from mypy_boto3_lambda.client import LambdaClient

ClientFactory = Callable[[str, str], "LambdaClient"]  # (environment, region) → client
#: (artifact, environment, region) → the artifact's verified copy in that region
CopyInto = Callable[[Artifact, str, str], Artifact]


class LambdaAliasTarget(DeployTarget):
    """Raises DeployTargetError for every AWS failure, naming the function and scope."""

    def __init__(
        self, function_name: str, alias: str, clients: ClientFactory, copy_into: CopyInto
    ) -> None:
        self.function_name = function_name
        self.alias = alias
        self._clients = clients
        self._copy_into = copy_into

    def one_box(
        self, environment: str, scope: str, artifact: Artifact, traffic_percent: float
    ) -> DeployResult:
        client = self._client(environment, scope)
        new = self._version(client, artifact, publish=(environment, scope))
        stable = self._alias(client)["FunctionVersion"]
        weight = round(traffic_percent / 100, 4)
        if stable == new:
            return DeployResult(
                boxes=(f"{self.function_name}:{new}",),
                fleet_percent_on_new=100.0,
                healthy_percent=100.0,
                done=True,
            )
        self._route(client, stable, {new: weight}, scope)
        return DeployResult(
            boxes=(f"{self.function_name}:{new}",),
            fleet_percent_on_new=traffic_percent,
            healthy_percent=100.0,
            done=False,
        )

    def next_batch(
        self, environment: str, scope: str, artifact: Artifact, rolling: Rolling, batch: int
    ) -> DeployResult:
        client = self._client(environment, scope)
        new = self._version(client, artifact, publish=(environment, scope))
        alias = self._alias(client)
        if alias["FunctionVersion"] == new:
            return DeployResult(
                boxes=(), fleet_percent_on_new=100.0, healthy_percent=100.0, done=True
            )
        current = alias.get("RoutingConfig", {}).get("AdditionalVersionWeights", {}).get(new, 0)
        step = rolling.fast_forward_percent if rolling.fast_rollback else rolling.batch_percent
        weight = min(1.0, round(current + step / 100, 4))
        if weight >= 1.0:
            self._route(client, new, {}, scope)
            return DeployResult(
                boxes=(f"{self.function_name}:{new}",),
                fleet_percent_on_new=100.0,
                healthy_percent=100.0,
                done=True,
            )
        self._route(client, alias["FunctionVersion"], {new: weight}, scope)
        return DeployResult(
            boxes=(f"{self.function_name}:{new}",),
            fleet_percent_on_new=round(weight * 100, 2),
            healthy_percent=100.0,
            done=False,
        )

    def roll_back(
        self, environment: str, scope: str, artifact: Artifact | None, rolling: Rolling
    ) -> DeployResult:
        client = self._client(environment, scope)
        alias = self._alias(client)
        target = (
            self._version(client, artifact, publish=None)
            if artifact is not None
            else alias["FunctionVersion"]  # nothing known good: drop the new version's weight
        )
        self._route(client, target, {}, scope)
        return DeployResult(
            boxes=(f"{self.function_name}:{target}",),
            fleet_percent_on_new=100.0,
            healthy_percent=100.0,
            done=True,
        )

    # --- helpers ----------------------------------------------------------------------------

    def _client(self, environment: str, scope: str) -> LambdaClient:
        return self._clients(environment, scope.split("/", maxsplit=1)[0])

    def _alias(self, client: LambdaClient) -> dict[str, Any]:
        try:
            return dict(client.get_alias(FunctionName=self.function_name, Name=self.alias))
        except (ClientError, BotoCoreError) as error:
            raise deploy_error(error, f"{self.function_name}:{self.alias}: {error}") from None

    def _route(
        self, client: LambdaClient, version: object, weights: dict[str, float], scope: str
    ) -> None:
        try:
            client.update_alias(
                FunctionName=self.function_name,
                Name=self.alias,
                FunctionVersion=str(version),
                RoutingConfig={"AdditionalVersionWeights": weights},
            )
        except (ClientError, BotoCoreError) as error:
            raise DeployTargetError(
                f"{self.function_name}:{self.alias} in {scope}: update alias failed ({error})"
            ) from None

    def _version(
        self, client: LambdaClient, artifact: Artifact, *, publish: tuple[str, str] | None
    ) -> str:
        """The function version built from `artifact`; `publish` (environment, scope): build
        it from the artifact's verified copy in the scope's region when there is none (a
        function's code comes only from a bucket in its own region)."""
        description = f"{artifact.version} {artifact.checksum}"
        try:
            for page in client.get_paginator("list_versions_by_function").paginate(
                FunctionName=self.function_name
            ):
                for version in page.get("Versions", []):
                    if version.get("Description") == description:
                        return str(version["Version"])
            if publish is None:
                raise DeployTargetError(
                    f"{self.function_name}: no published version for {artifact.version}"
                )
            if s3_location(artifact) is None:
                raise DeployTargetError(
                    f"{artifact.version}: artifact {artifact.uri!r} is not an s3:// object"
                )
            environment, scope = publish
            copy = s3_location(self._copy_into(artifact, environment, scope.split("/")[0]))
            assert copy is not None  # an S3 artifact's copy is an S3 object
            client.update_function_code(
                FunctionName=self.function_name, S3Bucket=copy.bucket, S3Key=copy.key
            )
            client.get_waiter("function_updated_v2").wait(FunctionName=self.function_name)
            return str(
                client.publish_version(FunctionName=self.function_name, Description=description)[
                    "Version"
                ]
            )
        except (ClientError, BotoCoreError) as error:
            raise deploy_error(error, f"{self.function_name}: {error}") from None
