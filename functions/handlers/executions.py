"""Step Functions execution status changes (EventBridge): an execution of a pipeline that
failed, timed out or was aborted releases what its change held, so the conveyor goes on.

The event is "Step Functions Execution Status Change" from `aws.states`; its `detail` is what
DescribeExecution returns, with the execution input as a JSON string (our executions start
with `{"pipeline_id", "change_id"}`).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from handlers.models import ChangeInput
from handlers.observability import logger, metrics, tracer
from handlers.runtime import engine, pipeline_steps

ENDED = ("FAILED", "TIMED_OUT", "ABORTED")


class ExecutionDetail(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    execution_arn: str = Field(alias="executionArn", min_length=1)
    state_machine_arn: str = Field(alias="stateMachineArn", min_length=1)
    name: str
    status: Literal["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"]
    input: str | None = None
    error: str | None = None
    cause: str | None = None


class ExecutionStatusChange(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    source: Literal["aws.states"]
    detail_type: Literal["Step Functions Execution Status Change"] = Field(alias="detail-type")
    detail: ExecutionDetail


class ExecutionEventError(ValueError):
    """The event names no change of a pipeline this controller runs."""


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = ExecutionStatusChange.model_validate(event)
    detail = change.detail
    if detail.status not in ENDED:
        logger.info("execution status needs nothing", extra={"status": detail.status})
        return {"execution": detail.execution_arn, "status": detail.status, "recorded": False}
    try:
        started = ChangeInput.model_validate(json.loads(detail.input or ""))
    except (ValueError, ValidationError) as error:
        raise ExecutionEventError(
            f"execution {detail.execution_arn}: its input names no pipeline and change ({error})"
        ) from None
    engine().spec_of(started.pipeline_id)  # an unknown pipeline is refused before any write
    cause = " ".join(part for part in (detail.error, detail.cause) if part)
    pipeline_steps().execution_ended(
        started.pipeline_id,
        started.change_id,
        status=detail.status,  # type: ignore[arg-type]
        cause=cause or f"execution {detail.status.lower()}",
        execution=detail.execution_arn,
    )
    return {"execution": detail.execution_arn, "status": detail.status, "recorded": True}
