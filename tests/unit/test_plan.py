"""The schedule a spec gives a change, with nothing in its way."""

from __future__ import annotations

from datetime import timedelta

from domain.plan import plan
from tests.builders import T0
from tests.e2e.conftest import SmallApp


def test_an_always_open_window_waits_for_nothing_and_bakes_add_up_per_region() -> None:
    spec = SmallApp.spec()

    schedule = plan(spec, T0, build_seconds=300, tests_seconds=0)

    assert schedule.built_at == T0 + timedelta(seconds=300)
    assert all(not r.waits for s in schedule.stages for r in s.regions)
    for before, after in zip(schedule.stages, schedule.stages[1:], strict=False):
        assert after.enters == before.ends  # a stage starts when the one before is done
    for stage_plan, stage in zip(schedule.stages, spec.stages, strict=True):
        for region in stage_plan.regions:
            baked = sum(
                step.bake_seconds
                for step in stage.steps
                if any(s.region == region.region for s in step.scopes)
            )
            assert region.ends - stage_plan.enters == timedelta(seconds=baked)
        assert stage_plan.ends == max(r.ends for r in stage_plan.regions)
    assert schedule.everywhere == schedule.stages[-1].ends


def test_integration_tests_add_their_time_to_the_stages_that_run_them() -> None:
    class Tested(SmallApp):
        integration_tests = SmallApp.integration_tests.__class__(
            command="python run.py", stages=("beta",), endpoints={"beta": "https://b.example"}
        )

    spec = Tested.spec()
    without = plan(spec, T0, tests_seconds=0)
    with_tests = plan(spec, T0, tests_seconds=900)
    shift = {
        a.stage: b.ends - a.ends for a, b in zip(without.stages, with_tests.stages, strict=True)
    }
    assert shift["alpha"] == timedelta(0)
    assert all(v == timedelta(seconds=900) for k, v in shift.items() if k != "alpha")
