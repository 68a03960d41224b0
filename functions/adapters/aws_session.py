"""AWS clients per environment and region, through each region's shipwave deploy role."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from adapters.ecs_service import EcsServiceTarget
from adapters.lambda_alias import LambdaAliasTarget
from adapters.s3_artifacts import S3ArtifactStore
from domain import codec
from domain.errors import DeployTargetError, ShipwaveError
from domain.ports import DeployTarget
from domain.spec import EcsServiceTarget as EcsServiceSpec
from domain.spec import LambdaAliasTarget as LambdaAliasSpec
from domain.spec import PipelineSpec

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.client import CloudWatchClient
    from mypy_boto3_ecs.client import ECSClient
    from mypy_boto3_lambda.client import LambdaClient
    from mypy_boto3_s3.client import S3Client


class SpecsFileError(ShipwaveError):
    """The specs file the CDK app wrote cannot be read."""


def load_specs(path: Path) -> dict[str, PipelineSpec]:
    """Pipeline specs as the CDK app serialised them (a JSON list)."""
    try:
        data = json.loads(path.read_text())
        specs = [codec.decode(PipelineSpec, item) for item in data]
    except (OSError, ValueError) as error:
        raise SpecsFileError(f"{path}: cannot read pipeline specs ({error})") from None
    return {spec.pipeline_id: spec for spec in specs}


def dump_specs(specs: list[PipelineSpec] | tuple[PipelineSpec, ...]) -> str:
    return json.dumps([codec.encode(spec) for spec in specs], sort_keys=True)


def parse_pairs(text: str) -> dict[str, str]:
    """ "a=1,b=2" → {"a": "1", "b": "2"} (the form list-valued environment variables take)."""
    pairs = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, separator, value = item.partition("=")
        if not separator or not key or not value:
            raise SpecsFileError(f"malformed setting {item!r}: write key=value")
        pairs[key] = value
    return pairs


#: every client retries throttling and transient errors with back-off before it gives up
RETRYING = Config(retries={"mode": "standard", "max_attempts": 5})


#: a session is assumed again this long before its credentials expire (a bake outlives them)
REFRESH_BEFORE = timedelta(minutes=15)


@dataclass(frozen=True)
class _Assumed:
    session: boto3.Session
    expires: datetime


class DeployRoles:
    """Sessions that assume `shipwave-deploy-<region>` in an environment's account (the
    controller's own account unless `accounts` maps the environment elsewhere). A session is
    assumed again before its credentials expire, so a warm container that lives through a
    multi-day rollout never calls AWS with expired credentials."""

    def __init__(
        self,
        *,
        accounts: dict[str, str],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.accounts = accounts
        self.clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[tuple[str, str], _Assumed] = {}
        self._own: str | None = None

    def session(self, environment: str, region: str) -> boto3.Session:
        key = (environment, region)
        with self._lock:
            found = self._sessions.get(key)
            if found is not None and self.clock() < found.expires - REFRESH_BEFORE:
                return found.session
            account = self.accounts.get(environment) or self._own_account()
            role = f"arn:aws:iam::{account}:role/shipwave-deploy-{region}"
            credentials = boto3.client("sts", config=RETRYING).assume_role(
                RoleArn=role, RoleSessionName=f"shipwave-{environment}"[:64]
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

    def lambda_client(self, environment: str, region: str) -> LambdaClient:
        return self.session(environment, region).client("lambda", config=RETRYING)

    def ecs_client(self, environment: str, region: str) -> ECSClient:
        return self.session(environment, region).client("ecs", config=RETRYING)

    def s3_client(self, environment: str, region: str) -> S3Client:
        return self.session(environment, region).client("s3", config=RETRYING)


def aws_target(spec: PipelineSpec, roles: DeployRoles) -> DeployTarget:
    target: Any = spec.target
    if isinstance(target, LambdaAliasSpec):
        return LambdaAliasTarget(
            target.function_name,
            target.alias,
            roles.lambda_client,
            S3ArtifactStore(roles.s3_client).copy_into,
        )
    if isinstance(target, EcsServiceSpec):
        return EcsServiceTarget(
            target.cluster, target.service, target.one_box_service, roles.ecs_client
        )
    raise DeployTargetError(
        f"pipeline {spec.pipeline_id}: a simulated fleet runs only on the local runtime"
    )
