"""The composition root of the Lambda handlers: real adapters, built once per cold start.

The local runtime swaps in its own services with `use()`; nothing else builds adapters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from adapters.dynamodb import DynamoDBEventStore
from adapters.stepfunctions import StepFunctionsWorkflow
from domain.errors import ShipwaveError
from handlers.settings import settings
from service.engine import Engine
from service.pipeline_log import PipelineLog
from service.steps import PipelineSteps


class ServicesNotConfiguredError(ShipwaveError):
    """The handler has no engine for this environment."""


@dataclass
class Services:
    steps: PipelineSteps
    engine: Engine | None


_SERVICES: list[Services] = []


def system_clock() -> datetime:
    return datetime.now(UTC)


def use(services: Services | None) -> None:
    """Replace the services every handler uses (the local runtime); None: build from env."""
    _SERVICES.clear()
    if services is not None:
        _SERVICES.append(services)


def _services() -> Services:
    if not _SERVICES:
        log = PipelineLog(DynamoDBEventStore(settings().event_log_table))
        _SERVICES.append(
            Services(steps=PipelineSteps(log, StepFunctionsWorkflow(), system_clock), engine=None)
        )
    return _SERVICES[0]


def pipeline_steps() -> PipelineSteps:
    return _services().steps


def engine() -> Engine:
    built = _services().engine
    if built is None:
        raise ServicesNotConfiguredError(
            "no deploy target adapter is configured for this environment: shipwave's engine "
            "runs on the local runtime (simulated fleet); the AWS Lambda-alias and ECS targets "
            "are not wired into the Lambda handlers yet"
        )
    return built
