"""What a step's input must name before anything is recorded.

The state machine calls each step with the stage, step, region and scope it is at and the
progress it carries; a forged or broken input could name a stage the pipeline has not, a
change the log never received, a scope of no step, a negative batch or a bake of 10^12 s. Each
check below raises InvalidStepError saying what was wrong; the services call them before any
event is stamped, so a refused step writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.errors import InvalidStepError, UnknownPipelineError
from domain.spec import PipelineSpec, StageSpec, StepSpec
from domain.state import ChangeState, PipelineState

#: the longest bake a step may ask for (the spec's longest is days, not months)
MAX_BAKE_SECONDS = 30 * 86400
#: the longest a step may wait before it looks again
MAX_WAIT_SECONDS = 7 * 86400
#: the most bake extensions a step may report
MAX_EXTENSIONS = 1000
#: a rolling deployment's batches never outnumber a scope's boxes; no fleet has more
MAX_BATCH = 100_000


def pipeline_spec(specs: Mapping[str, PipelineSpec], pipeline_id: str) -> PipelineSpec:
    spec = specs.get(pipeline_id)
    if spec is None:
        raise UnknownPipelineError(f"pipeline {pipeline_id!r} is not run by this controller")
    return spec


def in_flight(state: PipelineState, change_id: str, *, ending: bool = False) -> ChangeState:
    """The change, received by the log and not ended. A step that ends the change (`ending`)
    may find it ended: that is its own retry, which records nothing new."""
    change = state.changes.get(change_id)
    if change is not None and change.status == "aborted" and not ending:
        # a step of its execution already under way when a person aborted it: refused, so
        # nothing deploys behind the abort's rollbacks
        raise InvalidStepError(
            f"pipeline {state.pipeline_id!r}: change {change_id!r} was aborted "
            f"({change.reason}): no step of it runs"
        )
    if change is not None:
        return change
    ended = next((c for c in state.finished if c.change_id == change_id), None)
    if ended is not None and ending:
        return ended
    raise InvalidStepError(
        f"pipeline {state.pipeline_id!r}: change {change_id!r} "
        + (f"has ended ({ended.status})" if ended else "was never received")
    )


def stage_of(spec: PipelineSpec, stage: str) -> StageSpec:
    found = next((s for s in spec.stages if s.name == stage), None)
    if found is None:
        names = ", ".join(s.name for s in spec.stages)
        raise InvalidStepError(
            f"pipeline {spec.pipeline_id!r} has no stage {stage!r} (its stages: {names})"
        )
    return found


def next_stage_of(spec: PipelineSpec, stage: str, named: str | None) -> None:
    """`named` must be the stage after `stage` in the spec (None after the last)."""
    order = [s.name for s in spec.stages]
    stage_of(spec, stage)
    index = order.index(stage)
    expected = order[index + 1] if index + 1 < len(order) else None
    if named != expected:
        raise InvalidStepError(
            f"pipeline {spec.pipeline_id!r}: the stage after {stage!r} is {expected!r}, "
            f"not {named!r}"
        )


def step_of(spec: PipelineSpec, stage: str, step: str, region: str, scope: str) -> StepSpec:
    """The step of the stage, with `scope` (in `region`) one of its scopes."""
    stage_spec = stage_of(spec, stage)
    found = next((s for s in stage_spec.steps if s.name == step), None)
    if found is None:
        names = ", ".join(s.name for s in stage_spec.steps)
        raise InvalidStepError(
            f"pipeline {spec.pipeline_id!r}: stage {stage!r} has no step {step!r} "
            f"(its steps: {names})"
        )
    scopes = {(s.region, s.scope) for s in found.scopes}
    if (region, scope) not in scopes:
        raise InvalidStepError(
            f"pipeline {spec.pipeline_id!r}: step {stage}/{step} deploys no scope {scope!r} "
            f"in region {region!r}"
        )
    return found


def progress_within_bounds(progress: Mapping[str, Any]) -> None:
    """The numbers a step carries on, each within what a real pipeline can reach."""
    bounds = {
        "batch": MAX_BATCH,
        "bake_seconds": MAX_BAKE_SECONDS,
        "wait_seconds": MAX_WAIT_SECONDS,
        "extensions": MAX_EXTENSIONS,
    }
    for name, most in bounds.items():
        value = progress.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
            raise InvalidStepError(
                f"progress.{name} = {value!r} is not a whole number in [0, {most}]"
            )
