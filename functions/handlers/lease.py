"""Stage leases: `<Stage> · Enter` (a callback task) calls this to take or wait for a stage."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.models import ChangeInput, StepRequest
from handlers.observability import logger, metrics, tracer
from handlers.runtime import pipeline_steps


class LeaseRequestError(ValueError):
    """The state machine sent a lease request this handler cannot serve."""


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = StepRequest.model_validate(event)
    change = ChangeInput.model_validate(request.input)
    if request.action != "acquire" or not request.stage or not request.token:
        raise LeaseRequestError(
            "lease: expected action 'acquire' with a stage and a task token, "
            f"got {request.action!r}"
        )
    pipeline_steps().acquire(change.pipeline_id, change.change_id, request.stage, request.token)
    return {"pipeline_id": change.pipeline_id, "change_id": change.change_id}
