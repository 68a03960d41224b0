"""Logger, Tracer and Metrics shared by every handler (one place, as Powertools suggests)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_lambda_powertools import Logger, Metrics, Tracer, single_metric
from aws_lambda_powertools.metrics import MetricUnit

from domain.events import Event
from domain.measures import NAMESPACE, measures
from domain.state import PipelineState

logger = Logger(service="shipwave")
tracer = Tracer(service="shipwave")
metrics = Metrics(namespace="Shipwave", service="shipwave")


def emit_measures(before: PipelineState, events: Sequence[Event]) -> None:
    """What was just recorded, as CloudWatch embedded metric format (one EMF document per
    measure, each with its own dimensions: `domain.measures`)."""
    for measure in measures(before, events):
        with single_metric(
            name=measure.name,
            unit=MetricUnit[measure.unit],
            value=measure.value,
            namespace=NAMESPACE,
            default_dimensions=dict(measure.dimensions),
        ):
            pass
