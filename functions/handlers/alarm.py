"""Alarm state changes (EventBridge): fail the bakes in flight where the alarm fired."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.observability import logger, metrics, tracer
from handlers.pending import not_available


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return not_available("alarm", event)
