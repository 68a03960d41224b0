"""AWS clients per environment and region, through the shipwave deploy roles of each region."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from adapters.ecs_service import EcsServiceTarget
from adapters.lambda_alias import LambdaAliasTarget
from adapters.s3_artifacts import S3ArtifactStore
from domain.conventions import deploy_role_name, team_deploy_role_name
from domain.errors import DeployTargetError
from domain.ports import DeployTarget
from domain.spec import EcsServiceTarget as EcsServiceSpec
from domain.spec import LambdaAliasTarget as LambdaAliasSpec
from domain.spec import PipelineSpec

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.client import CloudWatchClient
    from mypy_boto3_ecs.client import ECSClient
    from mypy_boto3_lambda.client import LambdaClient
    from mypy_boto3_s3.client import S3Client


#: every client retries throttling and transient errors with back-off before it gives up
RETRYING = Config(retries={"mode": "standard", "max_attempts": 5})


#: a session is assumed again this long before its credentials expire (a bake outlives them)
REFRESH_BEFORE = timedelta(minutes=15)


@dataclass(frozen=True)
class _Assumed:
    session: boto3.Session
    expires: datetime


class DeployRoles:
    """Sessions in the shipwave deploy roles of this account, one pair per region: the
    platform's `shipwave-deploy-<region>` (alarms, artifact copies) and each team's
    `shipwave-deploy-<team>-<region>` (that team's targets only). A session is assumed again
    before its credentials expire, so a warm container that lives through a multi-day
    rollout never calls AWS with expired credentials."""

    def __init__(self, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[tuple[str, str, str], _Assumed] = {}
        self._own: str | None = None

    def session(self, environment: str, region: str, team: str = "") -> boto3.Session:
        """The platform's role in `region`, or `team`'s when one is named."""
        key = (environment, region, team)
        with self._lock:
            found = self._sessions.get(key)
            if found is not None and self.clock() < found.expires - REFRESH_BEFORE:
                return found.session
            name = team_deploy_role_name(team, region) if team else deploy_role_name(region)
            credentials = boto3.client("sts", config=RETRYING).assume_role(
                RoleArn=f"arn:aws:iam::{self._own_account()}:role/{name}",
                RoleSessionName=f"shipwave-{environment}"[:64],
            )["Credentials"]
            session = boto3.Session(
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
                region_name=region,
            )
            expires = credentials["Expiration"]
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=UTC)
            self._sessions[key] = _Assumed(session, expires)
            return session

    def _own_account(self) -> str:
        if self._own is None:
            self._own = boto3.client("sts").get_caller_identity()["Account"]
        return self._own

    def cloudwatch(self, environment: str, region: str) -> CloudWatchClient:
        return self.session(environment, region).client("cloudwatch", config=RETRYING)

    def s3_client(self, environment: str, region: str) -> S3Client:
        return self.session(environment, region).client("s3", config=RETRYING)

    def team_lambda(self, team: str) -> Callable[[str, str], LambdaClient]:
        """Lambda clients in `team`'s deploy role of each (environment, region)."""

        def make(environment: str, region: str) -> LambdaClient:
            return self.session(environment, region, team).client("lambda", config=RETRYING)

        return make

    def team_ecs(self, team: str) -> Callable[[str, str], ECSClient]:
        """ECS clients in `team`'s deploy role of each (environment, region)."""

        def make(environment: str, region: str) -> ECSClient:
            return self.session(environment, region, team).client("ecs", config=RETRYING)

        return make


def aws_target(spec: PipelineSpec, roles: DeployRoles) -> DeployTarget:
    target: Any = spec.target
    if isinstance(target, LambdaAliasSpec):
        return LambdaAliasTarget(
            target.function_name,
            target.alias,
            roles.team_lambda(spec.team),
            S3ArtifactStore(roles.s3_client).copy_into,
        )
    if isinstance(target, EcsServiceSpec):
        return EcsServiceTarget(
            target.cluster, target.service, target.one_box_service, roles.team_ecs(spec.team)
        )
    raise DeployTargetError(
        f"pipeline {spec.pipeline_id}: a simulated fleet runs only on the local runtime"
    )
