"""Gates before deploying: the review gate at source; at stage entry the alarm preflight and,
before a production stage, the team aggregate and company alarms. (Each region's window is
checked by the deploy step itself, before every production step starts there.)"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.models import ChangeInput, StepRequest
from handlers.observability import logger, metrics, tracer
from handlers.runtime import engine


class BlockersRequestError(ValueError):
    """The state machine sent a blockers action this handler does not know."""


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = StepRequest.model_validate(event)
    if request.action == "check":
        change = ChangeInput.model_validate(request.input)
        if not request.stage or request.regions is None:
            raise BlockersRequestError("blockers: check needs the stage and its regions")
        return engine().stage_blockers(
            change.pipeline_id, change.change_id, request.stage, tuple(request.regions)
        )
    if request.action == "review":
        change = ChangeInput.model_validate(request.input)
        return engine().review(change.pipeline_id, change.change_id)
    raise BlockersRequestError(f"blockers: unknown action {request.action!r}")
