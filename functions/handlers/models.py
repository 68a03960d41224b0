"""What the state machine sends to a step handler (see statemachines/generator.py)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class StepProgress(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch: int = 0
    done: bool = False
    bake_seconds: int = Field(ge=0)
    extensions: int = 0
    verdict: str = "pending"


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


class StepRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str
    input: dict[str, Any]
    token: str | None = None
    stage: str | None = None
    next: str | None = None  # the stage after this one, on stage-succeeded
    regions: list[str] | None = None
