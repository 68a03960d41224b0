"""Bakes: plan, start (a callback whose timeout is the bake time), end-of-bake checks."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.models import ScopeInput, StepRequest, where
from handlers.observability import logger, metrics, tracer
from handlers.runtime import engine


class BakeRequestError(ValueError):
    """The state machine sent a bake action this handler does not know."""


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = StepRequest.model_validate(event)
    scope = ScopeInput.model_validate(request.input)
    progress = scope.progress.model_dump()
    if request.action == "plan":
        return engine().bake_plan(where(scope))
    if request.action == "start":
        if not request.token:
            raise BakeRequestError("bake: start needs the task token")
        return engine().bake_start(where(scope), scope.phase, progress, request.token)
    if request.action == "check":
        return engine().bake_check(where(scope), scope.phase, progress)
    raise BakeRequestError(f"bake: unknown action {request.action!r}")
