"""The composition root of the Lambda handlers: real adapters, built once per cold start."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from adapters.dynamodb import DynamoDBEventStore
from adapters.stepfunctions import StepFunctionsWorkflow
from handlers.settings import settings
from service.pipeline_log import PipelineLog
from service.steps import PipelineSteps


def system_clock() -> datetime:
    return datetime.now(UTC)


@cache
def pipeline_log() -> PipelineLog:
    return PipelineLog(DynamoDBEventStore(settings().event_log_table))


@cache
def pipeline_steps() -> PipelineSteps:
    return PipelineSteps(pipeline_log(), StepFunctionsWorkflow(), system_clock)
