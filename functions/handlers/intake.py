"""Intake: a built, checksummed change from the build step starts its pipeline; merges
reported by CodeCommit (EventBridge) and GitHub (webhooks to the Function URL) are read.

The build system sends `{"pipeline_id", "change_id", "source", "commits": [...],
"artifact": {"version", "checksum", "uri"}}` after building and checksumming: invoking the
function, or as a request to its Function URL signed with the shared webhook secret
(`X-Hub-Signature-256`, GitHub's scheme). The URL is public: a request that is not signed is
refused (401) before anything is read, logged or written. Approvals are not taken from this
event: the execution's first state asks the source system's review record, and the change
waits there until every commit is reviewed.

A source notification that is no merge a pipeline takes (a tag, a deleted branch, a branch or
repository no pipeline deploys, a GitHub event other than `push`) is answered and logged with
its reason, and writes nothing. A merge a pipeline takes cannot go on yet: the build that
would turn it into an artifact is not provisioned, so the intake refuses it with that reason
(CodeCommit's event is retried, then kept in the dead-letter queue, which pages; GitHub gets
503 and shows the failed delivery) rather than start a change it cannot build.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from domain.errors import ShipwaveError
from domain.events import Artifact, Commit
from domain.merges import Merge, NotAMerge, pipelines_for
from domain.signatures import SIGNATURE_HEADER, is_signed
from handlers.observability import logger, metrics, tracer
from handlers.runtime import engine
from handlers.settings import SettingsError
from handlers.sources import codecommit_merge, github_merge

EVENT_HEADER = "x-github-event"
DELIVERY_HEADER = "x-github-delivery"


class MergeNotBuildableError(ShipwaveError):
    """A merge a pipeline takes, which shipwave cannot build: nothing is started."""


class CommitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # an approval sent here would be ignored: refuse

    commit_id: str = Field(min_length=1)
    author: str = Field(min_length=1)
    message: str = ""


class ArtifactIn(BaseModel):
    version: str = Field(min_length=1)
    checksum: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    uri: str = ""


class ChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pipeline_id: str = Field(min_length=1, max_length=128)
    change_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
    source: str = "build"
    commits: list[CommitIn] = Field(min_length=1)
    artifact: ArtifactIn


# The intake faces the outside world (its Function URL): requests are never logged.
@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "http" in (event.get("requestContext") or {}):
        return _url_request(LambdaFunctionUrlEvent(event))
    if event.get("source") == "aws.codecommit":
        return _take(codecommit_merge(event))
    return _receive(ChangeIn.model_validate(event))


def _url_request(request: LambdaFunctionUrlEvent) -> dict[str, Any]:
    raw = request.body or ""
    body = base64.b64decode(raw) if request.is_base64_encoded else raw.encode()
    if not is_signed(_webhook_secret(), body, request.headers.get(SIGNATURE_HEADER)):
        logger.warning("refused an unsigned request", extra={"path": request.raw_path})
        return _response(401, {"error": f"not signed with the shared secret ({SIGNATURE_HEADER})"})
    kind = request.headers.get(EVENT_HEADER)
    if kind is not None:
        return _github(kind, request.headers.get(DELIVERY_HEADER) or "", body)
    try:
        change = ChangeIn.model_validate_json(body)
    except ValidationError as error:
        details = error.errors(include_url=False, include_input=False)
        return _response(400, {"error": "not a change event", "details": details})
    return _response(202, _receive(change))


def _github(kind: str, delivery: str, body: bytes) -> dict[str, Any]:
    """A signed GitHub delivery: `ping` is answered, `push` read as a merge, others declined."""
    if kind == "ping":
        return _response(200, {"pong": True, "delivery": delivery})
    if kind != "push":
        reason = f"GitHub event {kind!r} starts no pipeline: only push does"
        logger.info("declined a GitHub delivery", extra={"delivery": delivery, "reason": reason})
        return _response(202, {"taken": [], "ignored": "not-a-push", "reason": reason})
    try:
        merge = github_merge(delivery, body)
    except ValidationError as error:
        details = error.errors(include_url=False, include_input=False)
        return _response(400, {"error": "not a push payload", "details": details})
    try:
        return _response(202, _take(merge))
    except MergeNotBuildableError as error:
        return _response(503, {"error": str(error)})


def _take(found: Merge | NotAMerge) -> dict[str, Any]:
    """What a source notification starts: nothing, with the reason, or (a merge a pipeline
    takes) a refusal while no build can turn it into an artifact."""
    if isinstance(found, Merge):
        taken = pipelines_for(found, engine().specs.values())
        if not isinstance(taken, NotAMerge):
            metrics.add_metric(name="MergesNotBuilt", unit=MetricUnit.Count, value=1)
            raise MergeNotBuildableError(
                f"{found.repository} {found.branch} at {found.commit_id}: merged for "
                f"{', '.join(taken)}, but no build is provisioned to turn it into an "
                "artifact; nothing was started"
            )
        found = taken
    logger.info("a source notification starts nothing", extra={"code": found.code})
    metrics.add_metric(name="NotificationsNotTaken", unit=MetricUnit.Count, value=1)
    return {"taken": [], "ignored": found.code, "reason": found.reason}


def _webhook_secret() -> str:
    """The shared secret, from Secrets Manager (cached 5 minutes); without one configured no
    request can be signed, so every request is refused."""
    arn = os.environ.get("GITHUB_WEBHOOK_SECRET_ARN", "")
    if not arn:
        raise SettingsError("GITHUB_WEBHOOK_SECRET_ARN is not set: URL requests are refused")
    return str(parameters.get_secret(arn, max_age=300))


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body, default=str),
    }


def _receive(change: ChangeIn) -> dict[str, Any]:
    execution = engine().receive(
        change.pipeline_id,
        change.change_id,
        source=change.source,
        commits=tuple(
            Commit(commit_id=c.commit_id, author=c.author, message=c.message)
            for c in change.commits
        ),
        artifact=Artifact(**change.artifact.model_dump()),
    )
    return {
        "pipeline_id": change.pipeline_id,
        "change_id": change.change_id,
        "execution": execution,
    }
