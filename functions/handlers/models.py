"""What the state machine sends to a step handler (see statemachines/generator.py)."""

from __future__ import annotations

import contextlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.engine import Where


class StepProgress(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch: int = 0
    done: bool = False
    bake_seconds: int = Field(ge=0)
    extensions: int = 0
    verdict: str = "pending"
    wait_seconds: int = Field(default=0, ge=0)


class ChangeInput(BaseModel):
    """The execution input every state carries on (extra keys are the steps' results)."""

    model_config = ConfigDict(extra="allow")

    pipeline_id: str = Field(min_length=1, max_length=128)
    change_id: str = Field(min_length=1, max_length=128)


class ScopeInput(ChangeInput):
    """Inside a Map iteration: one scope of one step."""

    stage: str
    step: str
    phase: Literal["one-box", "rolling", "bake"]
    region: str
    scope: str
    progress: StepProgress


def where(scope: ScopeInput) -> Where:
    return Where(
        pipeline_id=scope.pipeline_id,
        change_id=scope.change_id,
        stage=scope.stage,
        step=scope.step,
        region=scope.region,
        scope=scope.scope,
    )


def failure_reason(state_input: dict[str, Any]) -> str:
    """Why a step failed, from the `$.error` a Catch stored (or the bake verdict)."""
    error = state_input.get("error")
    if isinstance(error, dict):
        cause = str(error.get("Cause") or "")
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            cause = json.loads(cause).get("errorMessage", cause)
        name = str(error.get("Error") or "Error")
        return f"{name}: {cause}"[:1000] if cause else name
    progress = state_input.get("progress")
    if isinstance(progress, dict) and progress.get("verdict") == "rollback":
        return "alarm in ALARM during the bake (alarm history)"
    return "the step failed"


class StepRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str
    input: dict[str, Any]
    token: str | None = None
    stage: str | None = None
    next: str | None = None  # the stage after this one, on stage-succeeded
    regions: list[str] | None = None
