"""What the CDK app reads from `cdk.json` context (or `-c key=value`)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from domain.spec import Pipeline, PipelineSpec, resolve_all


@dataclass(frozen=True)
class AppConfig:
    pipelines_module: str  # "examples.reference:PIPELINES"
    home_region: str
    account: str | None


def read_config(context: dict[str, Any], account: str | None) -> AppConfig:
    return AppConfig(
        pipelines_module=str(context.get("shipwave:pipelines", "examples.reference:PIPELINES")),
        home_region=str(context.get("shipwave:homeRegion", "us-east-1")),
        account=account,
    )


def load_specs(reference: str) -> tuple[PipelineSpec, ...]:
    """Import the team's pipelines and validate them all; every problem is reported at once."""
    module_name, _, attribute = reference.partition(":")
    module = importlib.import_module(module_name)
    pipelines: tuple[type[Pipeline], ...] = tuple(getattr(module, attribute or "PIPELINES"))
    return resolve_all(pipelines, reference)
