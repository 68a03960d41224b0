"""A step's input that names what its pipeline does not have is refused before anything is
recorded: the real handlers, called as the state machine calls them, against a pipeline with a
change in flight. Each refusal says what was wrong and leaves the log as it was."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from domain.errors import InvalidStepError
from statemachines.local.runtime import LocalRuntime
from tests.e2e.conftest import SmallApp

Make = Callable[..., LocalRuntime]
PIPELINE = SmallApp.pipeline_id()


def scope_input(change: str, **changed: Any) -> dict[str, Any]:
    spec = SmallApp.spec()
    gamma = next(s for s in spec.stages if s.name == "gamma")
    step = gamma.steps[0]
    given: dict[str, Any] = {
        "pipeline_id": PIPELINE,
        "change_id": change,
        "stage": "gamma",
        "step": step.name,
        "phase": "one-box",
        "region": step.scopes[0].region,
        "scope": step.scopes[0].scope,
        "progress": {"bake_seconds": 3600},
    }
    given.update(changed)
    return given


def refused(runtime: LocalRuntime, function: str, event: dict[str, Any], match: str) -> None:
    before = runtime.store.last_sequence(PIPELINE)
    with pytest.raises(InvalidStepError, match=match):
        runtime._invoke(function, event)
    assert runtime.store.last_sequence(PIPELINE) == before  # nothing was written


def test_each_forged_step_is_refused_with_its_reason_and_writes_nothing(
    baking_at_gamma: tuple[LocalRuntime, str],
) -> None:
    runtime, change = baking_at_gamma
    token = "a-task-token"
    refused(
        runtime,
        "shipwave-bake",
        {"action": "start", "token": token, "input": scope_input(change, stage="no-such-stage")},
        "has no stage 'no-such-stage'",
    )
    refused(
        runtime,
        "shipwave-lease",
        {
            "action": "acquire",
            "stage": "gamma",
            "token": token,
            "input": {"pipeline_id": PIPELINE, "change_id": "chg-never-received"},
        },
        "change 'chg-never-received' was never received",
    )
    refused(
        runtime,
        "shipwave-transition",
        {"action": "change-completed", "input": {"pipeline_id": PIPELINE, "change_id": "ghost"}},
        "change 'ghost' was never received",
    )
    refused(
        runtime,
        "shipwave-deploy",
        {"action": "one-box", "input": scope_input(change, scope="nowhere")},
        "deploys no scope 'nowhere'",
    )
    refused(
        runtime,
        "shipwave-deploy",
        {
            "action": "rolling",
            "input": scope_input(
                change, phase="rolling", progress={"batch": -3, "bake_seconds": 0}
            ),
        },
        r"progress.batch = -3 is not a whole number in \[0, ",
    )
    refused(
        runtime,
        "shipwave-transition",
        {
            "action": "stage-succeeded",
            "stage": "gamma",
            "next": "nostage",
            "input": {"pipeline_id": PIPELINE, "change_id": change},
        },
        "the stage after 'gamma' is 'wave1', not 'nostage'",
    )
    refused(
        runtime,
        "shipwave-bake",
        {
            "action": "start",
            "token": token,
            "input": scope_input(change, progress={"bake_seconds": 10**12}),
        },
        r"progress.bake_seconds = 1000000000000 is not a whole number in \[0, 2592000\]",
    )
    refused(
        runtime,
        "shipwave-deploy",
        {"action": "rollback-stage", "stage": "omega", "input": scope_input(change)},
        "has no stage 'omega'",
    )


def test_the_pipeline_goes_on_after_the_refusals(baking_at_gamma: tuple[LocalRuntime, str]) -> None:
    runtime, change = baking_at_gamma
    with pytest.raises(InvalidStepError):
        runtime._invoke(
            "shipwave-transition",
            {"action": "change-completed", "input": {"pipeline_id": PIPELINE, "change_id": "x"}},
        )
    runtime.run()
    assert runtime.executions[change].status == "SUCCEEDED"
    # once ended, a step of the change is refused; the ending step's own retry records nothing
    before = runtime.store.last_sequence(PIPELINE)
    with pytest.raises(InvalidStepError, match=f"change '{change}' has ended \\(completed\\)"):
        runtime._invoke("shipwave-deploy", {"action": "one-box", "input": scope_input(change)})
    runtime._invoke(
        "shipwave-transition",
        {"action": "change-completed", "input": {"pipeline_id": PIPELINE, "change_id": change}},
    )
    assert runtime.store.last_sequence(PIPELINE) == before
