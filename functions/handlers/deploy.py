"""Deployments of one scope: one-box, rolling batches, rollback of a scope or a stage."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.models import ChangeInput, ScopeInput, StepRequest, failure_reason, where
from handlers.observability import logger, metrics, tracer
from handlers.runtime import engine


class DeployRequestError(ValueError):
    """The state machine sent a deploy action this handler does not know."""


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = StepRequest.model_validate(event)
    if request.action == "rollback-stage":
        change = ChangeInput.model_validate(request.input)
        if not request.stage:
            raise DeployRequestError("deploy: rollback-stage needs a stage")
        return engine().rollback_stage(
            change.pipeline_id, change.change_id, request.stage, failure_reason(request.input)
        )
    scope = ScopeInput.model_validate(request.input)
    if request.action in ("one-box", "rolling"):
        return engine().deploy(where(scope), request.action, scope.progress.model_dump())
    if request.action == "rollback":
        return engine().rollback(where(scope), failure_reason(request.input))
    raise DeployRequestError(f"deploy: unknown action {request.action!r}")
