"""Intake: merges reported by CodeCommit (EventBridge), GitHub (webhooks to the Function
URL) and the local runtime's git repository start the pipelines that deploy them.

A merge a pipeline takes is recorded (`ChangeReceived`, named after its head commit) and its
execution started: the review gate, then the build, then the stages. The same merge reported
again (GitHub's redelivery under the same `X-GitHub-Delivery`, EventBridge's retry) is the
same change: nothing new is recorded or started. Approvals are never taken from the
notification: the execution's first state asks the source system's review record.

The Function URL is public: a request that is not signed with the shared webhook secret
(`X-Hub-Signature-256`, GitHub's scheme) is refused (401) before anything is read, logged
or written. A notification that is no merge a pipeline takes (a tag, a deleted branch, a
branch or repository no pipeline deploys, a GitHub event other than `push`) is answered and
logged with its reason, and writes nothing.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from domain.errors import ShipwaveError
from domain.merges import (
    Merge,
    MergeFieldError,
    NotAMerge,
    change_id_of,
    commits_of,
    pipelines_for,
)
from domain.signatures import SIGNATURE_HEADER, is_signed
from handlers.observability import logger, metrics, tracer
from handlers.runtime import engine
from handlers.settings import SettingsError
from handlers.sources import LOCAL_SOURCE, codecommit_merge, github_merge, local_merge

EVENT_HEADER = "x-github-event"
DELIVERY_HEADER = "x-github-delivery"


class NotificationError(ShipwaveError):
    """An event the intake does not read: no merge of any source system."""


# The intake faces the outside world (its Function URL): requests are never logged.
@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "http" in (event.get("requestContext") or {}):
        return _url_request(LambdaFunctionUrlEvent(event))
    source = EventBridgeModel.model_validate(event).source  # an EventBridge event, or refused
    if source == "aws.codecommit":
        return _take(codecommit_merge(event))
    if source == LOCAL_SOURCE:
        return _take(local_merge(event))
    raise NotificationError(
        f"intake: an event of {source!r} is no merge: only CodeCommit's reference events, the "
        "local repository's and GitHub's webhooks (the Function URL) are read"
    )


def _url_request(request: LambdaFunctionUrlEvent) -> dict[str, Any]:
    raw = request.body or ""
    body = base64.b64decode(raw) if request.is_base64_encoded else raw.encode()
    if not is_signed(_webhook_secret(), body, request.headers.get(SIGNATURE_HEADER)):
        logger.warning("refused an unsigned request", extra={"path": request.raw_path})
        return _response(401, {"error": f"not signed with the shared secret ({SIGNATURE_HEADER})"})
    kind = request.headers.get(EVENT_HEADER)
    delivery = request.headers.get(DELIVERY_HEADER) or ""
    if kind is None or not delivery:
        return _response(
            400, {"error": f"not a GitHub delivery: no {EVENT_HEADER} or {DELIVERY_HEADER}"}
        )
    return _github(kind, delivery, body)


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
    except MergeFieldError as error:
        return _response(400, {"error": f"not a push payload: {error}"})
    return _response(202, _take(merge))


def _take(found: Merge | NotAMerge) -> dict[str, Any]:
    """What a source notification starts: each pipeline's change, or nothing, with why."""
    if isinstance(found, Merge):
        taken = pipelines_for(found, engine().specs.values())
        if not isinstance(taken, NotAMerge):
            return _start(found, taken)
        found = taken
    logger.info("a source notification starts nothing", extra={"code": found.code})
    metrics.add_metric(name="NotificationsNotTaken", unit=MetricUnit.Count, value=1)
    return {"taken": [], "ignored": found.code, "reason": found.reason}


def _start(merge: Merge, pipelines: tuple[str, ...]) -> dict[str, Any]:
    change_id = change_id_of(merge)
    taken = []
    for pipeline_id in pipelines:
        execution = engine().receive(
            pipeline_id,
            change_id,
            source=merge.source,
            commits=commits_of(merge),
            head=merge.commit_id,
            previous=merge.previous or "",
            delivery=merge.delivery,
        )
        taken.append({"pipeline_id": pipeline_id, "change_id": change_id, "execution": execution})
    logger.info(
        "a merge starts its pipelines",
        extra={"commit": merge.commit_id, "pipelines": pipelines, "delivery": merge.delivery},
    )
    metrics.add_metric(name="MergesTaken", unit=MetricUnit.Count, value=1)
    return {"taken": taken}


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
