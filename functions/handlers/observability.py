"""Logger, Tracer and Metrics shared by every handler (one place, as Powertools suggests)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="shipwave")
tracer = Tracer(service="shipwave")
metrics = Metrics(namespace="Shipwave", service="shipwave")
