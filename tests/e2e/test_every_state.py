"""Every state of the reference state machine, entered on the local runtime.

The scenarios of `test_scenarios.py` walk the paths a change usually takes. The failure states
exist once per stage and per step, so here an alarm fires in each step of the reference
pipeline in turn, once with a rollback that restores the known-good artifact and once with a
rollback the deploy API refuses; and one run shows a change superseded at every stage.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from domain.events import AlarmFired, ChangeSuperseded, RollbackCompleted, RollbackFailed
from domain.operations import approve_emergency
from domain.spec import StageSpec, StepSpec
from examples.reference import CreateOrderApp
from service.engine import environment
from statemachines.generator import SEP
from statemachines.local.runtime import LocalRuntime
from tests.e2e.test_scenarios import assert_one_holder_per_stage, events, versions

Make = Callable[..., LocalRuntime]

SPEC = CreateOrderApp.spec()
PIPELINE = SPEC.pipeline_id
STEPS = [(stage, step) for stage in SPEC.stages for step in stage.steps]


@pytest.mark.parametrize("rollback", ["restores", "refused"])
@pytest.mark.parametrize(
    ("stage", "step"), STEPS, ids=[f"{stage.name}-{step.name}" for stage, step in STEPS]
)
def test_an_alarm_in_any_step_rolls_that_step_back(
    make_runtime: Make, stage: StageSpec, step: StepSpec, rollback: str
) -> None:
    runtime = make_runtime(CreateOrderApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    change = runtime.merge(PIPELINE, "v1.1.0")
    first = step.scopes[0]
    baking = "baking one-box" if step.phase == "one-box" else "baking"

    def first_scope_baking() -> bool:
        stage_state = runtime.log.state(PIPELINE).stages.get(stage.name)
        scope = stage_state.scopes.get(first.scope) if stage_state else None
        return bool(scope and scope.change_id == change and scope.activity == baking)

    runtime.run(until=first_scope_baking)
    alarm = (
        SPEC.alarm_names.one_box_composite
        if step.phase == "one-box"
        else SPEC.alarm_names.high_severity_composite
    )
    where = environment(SPEC, stage.name)  # "production", or the pre-production stage's own
    runtime.cloudwatch.set_state(alarm, first.region, "ALARM", where)
    if rollback == "refused":
        runtime.fleet.broken_targets.add(SPEC.service)
    runtime.run()

    assert runtime.executions[change].status == "FAILED"
    log = events(runtime, PIPELINE)
    fired = [e for e in log if isinstance(e, AlarmFired)]
    assert fired
    assert {e.stage for e in fired} == {stage.name}  # nowhere else was anything in flight
    assert alarm in {e.alarm_name for e in fired}  # (the team aggregate follows it)
    entered = runtime.states_entered(change)
    step_prefix = SEP.join((stage.title, step.name))
    state = runtime.log.state(PIPELINE)
    finished = state.change(change)
    assert finished is not None
    if rollback == "restores":
        assert f"{step_prefix}{SEP}Rolled back" in entered
        assert f"{stage.title}{SEP}Stopped" in entered
        assert finished.status == "rolled-back"
        # the scope, or for a region-wide bake every AZ of the region, is back on v1.0.0
        restored = {e.scope for e in log if isinstance(e, RollbackCompleted)}
        in_scope = {s for s in restored if s == first.scope or s.startswith(first.scope + "/")}
        assert in_scope
        for scope in in_scope:
            assert versions(runtime, SPEC.service, where, scope) == {"v1.0.0"}
        assert state.stages[stage.name].lease_holder is None
    else:
        assert f"{step_prefix}{SEP}Rollback failed" in entered
        assert f"{stage.title}{SEP}Blocked" in entered
        assert any(isinstance(e, RollbackFailed) for e in log)
        # the stage stays with the change, blocked, until a person acts
        assert state.stages[stage.name].lease_holder == change
        assert any(b.blocker == "rollback-failed" for b in state.stages[stage.name].blocked)
    assert_one_holder_per_stage(log)


def test_a_change_is_superseded_at_every_stage(make_runtime: Make) -> None:
    """A slow change leads; emergency changes (bakes at 1 %) catch up behind it and queue at
    the stage it holds; when it leaves, the newest takes the stage and the older ones end as
    superseded. A company alarm holds the leader in each wave until two changes queue."""
    runtime = make_runtime(CreateOrderApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    leader = runtime.merge(PIPELINE, "v1.1.0")
    followers = 0

    def emergency_change() -> str:
        nonlocal followers
        followers += 1
        change = runtime.merge(PIPELINE, f"v1.2.{followers}")
        runtime.log.record(
            PIPELINE,
            runtime.clock.now(),
            lambda state, stamp: approve_emergency(
                state,
                stamp,
                change_id=change,
                approvers=("ana", "bo"),
                reason="catch up with the leader",
                bake_factor=0.01,
                senior_approvers=SPEC.emergency_approvers,
            ),
        )
        return change

    for stage in SPEC.stages:
        if stage.production:  # before the leader gets there, so its blocker check sees it
            for region in stage.regions:
                runtime.cloudwatch.set_state("company-large-scale-event", region, "ALARM")

        def leader_holds(name: str = stage.name) -> bool:
            stage_state = runtime.log.state(PIPELINE).stages.get(name)
            return bool(stage_state and stage_state.lease_holder == leader)

        runtime.run(until=leader_holds)
        emergency_change()
        emergency_change()

        def two_waiting(name: str = stage.name) -> bool:
            stage_state = runtime.log.state(PIPELINE).stages[name]
            return len(stage_state.waiting) >= 2

        runtime.run(until=two_waiting)
        if stage.production:
            for region in stage.regions:
                runtime.cloudwatch.set_state("company-large-scale-event", region, None)
    runtime.run()

    superseded_at = {e.stage for e in events(runtime, PIPELINE) if isinstance(e, ChangeSuperseded)}
    assert superseded_at == {stage.name for stage in SPEC.stages}
    assert runtime.executions[leader].status == "SUCCEEDED"
    # days held by alarms, rechecked less often the longer they hold: far from the limit
    assert len(runtime.history(leader)) <= 10_000
    entered = set().union(*(runtime.states_entered(change) for change in runtime.executions))
    for stage in SPEC.stages:
        assert f"{stage.title}{SEP}Superseded" in entered, stage.name
        if stage.production:
            assert f"{stage.title}{SEP}Wait for blockers" in entered, stage.name
    assert_one_holder_per_stage(events(runtime, PIPELINE))


def test_the_source_gate_and_the_preflight_waits_of_every_pre_production_stage(
    make_runtime: Make,
) -> None:
    """The review gate's states (held, superseded at source, a gate that cannot decide) and
    each pre-production stage waiting at its alarm preflight, on the reference machine."""
    runtime = make_runtime(CreateOrderApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    one_box = SPEC.alarm_names.one_box_composite
    missing = [("alpha", "us-east-1"), ("beta", "us-east-1"), ("gamma", "us-east-1")]
    for env, region in missing:
        runtime.cloudwatch.delete(one_box, region, env)
    first = runtime.merge(PIPELINE, "v1.1.0", author="ana", approved_by=("ana",))
    second = runtime.merge(PIPELINE, "v1.2.0", author="bo", approved_by=("chen",))
    runtime.run_for(3600)
    runtime.approve(PIPELINE, first, "dara")

    def passed_review(change: str) -> bool:
        found = runtime.log.state(PIPELINE).change(change)
        return bool(found and found.status not in ("received", "built", "held-at-source"))

    runtime.run(until=lambda: passed_review(first) and passed_review(second))
    runtime.crashes[("blockers", "review")] = 10  # the gate cannot decide for the next change
    third = runtime.merge(PIPELINE, "v1.3.0")
    for env, region in missing:

        def blocked_at(stage: str = env) -> bool:
            stage_state = runtime.log.state(PIPELINE).stages.get(stage)
            return bool(stage_state and stage_state.blocked)

        runtime.run(until=blocked_at)
        runtime.cloudwatch.restore(one_box, region, env)
    runtime.run()

    entered = set().union(*(runtime.states_entered(c) for c in (first, second, third)))
    for name in ("Wait for review", "Superseded", "Failed", "Stopped"):
        assert f"Source{SEP}{name}" in entered
    for stage in ("Alpha", "Beta", "Gamma"):
        assert f"{stage}{SEP}Wait for blockers" in entered
    state = runtime.log.state(PIPELINE)
    assert state.change(first).status == "superseded"  # type: ignore[union-attr]
    assert state.change(second).status == "completed"  # type: ignore[union-attr]
    assert state.change(third).status == "failed"  # type: ignore[union-attr]
