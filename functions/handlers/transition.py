"""Stage outcomes: succeeded (promotion), failed, rollback failed, change completed."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.models import ChangeInput, StepRequest, failure_reason
from handlers.observability import logger, metrics, tracer
from handlers.runtime import pipeline_steps


class TransitionRequestError(ValueError):
    """The state machine sent a transition this handler does not know."""


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = StepRequest.model_validate(event)
    change = ChangeInput.model_validate(request.input)
    steps = pipeline_steps()
    pipeline, change_id, stage = change.pipeline_id, change.change_id, request.stage or ""
    if request.action == "stage-succeeded" and stage:
        steps.stage_succeeded(pipeline, change_id, stage, request.next)
    elif request.action == "stage-failed" and stage:
        steps.stage_failed(pipeline, change_id, stage, failure_reason(request.input))
    elif request.action == "rollback-failed" and stage:
        steps.rollback_failed(pipeline, change_id, stage, failure_reason(request.input))
    elif request.action == "change-completed":
        steps.change_completed(pipeline, change_id)
    else:
        raise TransitionRequestError(
            f"transition: unknown action {request.action!r} (stage {stage!r})"
        )
    return {"pipeline_id": pipeline, "change_id": change_id, "action": request.action}
