"""The checks a step's input passes before anything is recorded (domain.validation)."""

from __future__ import annotations

import pytest

from domain.errors import InvalidStepError
from domain.state import PipelineState
from domain.validation import (
    MAX_BAKE_SECONDS,
    in_flight,
    next_stage_of,
    progress_within_bounds,
    stage_of,
    step_of,
)
from examples.reference import CreateOrderApp

SPEC = CreateOrderApp.spec()


def test_a_stage_and_the_one_after_it_are_the_specs() -> None:
    assert stage_of(SPEC, "gamma").name == "gamma"
    with pytest.raises(InvalidStepError, match="no stage 'delta' \\(its stages: alpha, beta"):
        stage_of(SPEC, "delta")
    next_stage_of(SPEC, "alpha", "beta")
    next_stage_of(SPEC, SPEC.stages[-1].name, None)  # the last stage promotes nowhere
    with pytest.raises(InvalidStepError, match="the stage after 'alpha' is 'beta', not 'gamma'"):
        next_stage_of(SPEC, "alpha", "gamma")
    with pytest.raises(InvalidStepError, match="is None, not 'wave9'"):
        next_stage_of(SPEC, SPEC.stages[-1].name, "wave9")


def test_a_scope_must_be_one_of_its_steps_in_its_region() -> None:
    wave1 = stage_of(SPEC, "wave1")
    step = wave1.steps[0]
    scope = step.scopes[0]
    assert step_of(SPEC, "wave1", step.name, scope.region, scope.scope) == step
    with pytest.raises(InvalidStepError, match="has no step 'AZ9'"):
        step_of(SPEC, "wave1", "AZ9", scope.region, scope.scope)
    with pytest.raises(InvalidStepError, match="deploys no scope 'nowhere'"):
        step_of(SPEC, "wave1", step.name, scope.region, "nowhere")
    with pytest.raises(InvalidStepError, match="in region 'eu-west-1'"):
        step_of(SPEC, "wave1", step.name, "eu-west-1", scope.scope)  # its scope, not its region


@pytest.mark.parametrize(
    "progress",
    [
        {"batch": -3},
        {"batch": 1.5},
        {"batch": True},
        {"bake_seconds": 10**12},
        {"bake_seconds": MAX_BAKE_SECONDS + 1},
        {"wait_seconds": -1},
        {"extensions": "2"},
    ],
)
def test_numbers_out_of_bounds_are_refused(progress: dict[str, object]) -> None:
    with pytest.raises(InvalidStepError, match="is not a whole number in"):
        progress_within_bounds(progress)


def test_numbers_within_bounds_pass() -> None:
    progress_within_bounds({"batch": 3, "bake_seconds": 43_200, "wait_seconds": 60})
    progress_within_bounds({})


def test_a_change_must_have_been_received_and_not_ended() -> None:
    empty = PipelineState(pipeline_id="orders-app")
    with pytest.raises(InvalidStepError, match="change 'ghost' was never received"):
        in_flight(empty, "ghost")
    with pytest.raises(InvalidStepError, match="was never received"):
        in_flight(empty, "ghost", ending=True)
