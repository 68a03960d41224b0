"""Alarm state changes (EventBridge): fail the bakes in flight where the alarm fired."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from handlers.observability import logger, metrics, tracer
from handlers.runtime import engine


class AlarmState(BaseModel):
    value: str
    reason: str = ""


class AlarmDetail(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    alarm_name: str = Field(alias="alarmName", min_length=1)
    state: AlarmState


class AlarmStateChange(BaseModel):
    """The EventBridge "CloudWatch Alarm State Change" event, as far as shipwave reads it."""

    model_config = ConfigDict(populate_by_name=True)

    source: str
    detail_type: str = Field(alias="detail-type")
    account: str = ""
    region: str
    detail: AlarmDetail


class AlarmEventError(ValueError):
    """Not an alarm state change this handler can act on."""


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = AlarmStateChange.model_validate(event)
    if change.source != "aws.cloudwatch" or change.detail_type != "CloudWatch Alarm State Change":
        raise AlarmEventError(
            f"alarm: not an alarm state change ({change.source}, {change.detail_type})"
        )
    if change.detail.state.value != "ALARM":
        return {"alarm": change.detail.alarm_name, "told": []}
    service = engine()
    told = service.alarm_changed(
        change.detail.alarm_name,
        change.region,
        change.detail.state.reason or "ALARM",
        service.environment_of(change.account),
    )
    return {"alarm": change.detail.alarm_name, "told": told}
