"""What the dashboard's pages say, decided from the fold's state (no server, no browser)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import UnknownChangeError
from domain.events import (
    AlarmFired,
    BakeStarted,
    BlockerHit,
    Event,
    RollbackCompleted,
    RollbackStarted,
)
from domain.state import project
from shipwave import pages
from tests.builders import T0, artifact, change_received, rollout
from tests.e2e.conftest import SmallApp

PIPELINE = SmallApp.pipeline_id()
SPEC = SmallApp.spec()


def history() -> list[Event]:
    """c1 everywhere up to gamma; c2 rolled back at gamma after an alarm; c3 blocked at wave1."""
    events: list[Event] = [change_received(PIPELINE, 1, "c1")]
    events += rollout(PIPELINE, 2, "c1", "gamma", "us-east-1")
    n = events[-1].sequence
    events.append(change_received(PIPELINE, n + 1, "c2"))
    events += rollout(PIPELINE, n + 2, "c2", "gamma", "us-east-1")[:3]  # lease, one-box
    n = events[-1].sequence
    at = T0 + timedelta(hours=5)
    common = {"pipeline_id": PIPELINE, "at": at, "stage": "gamma", "scope": "us-east-1"}
    events += [
        AlarmFired(
            **common,
            sequence=n + 1,
            idempotency_key="c2:alarm",
            change_id="c2",
            alarm_name="create-order-one-box",
            region="us-east-1",
            reason="FaultRate 0.03 vs threshold 0.01",
        ),
        RollbackStarted(
            **common,
            sequence=n + 2,
            idempotency_key="c2:rollback",
            change_id="c2",
            from_artifact=artifact("c2"),
            to_artifact=artifact("c1"),
            reason="alarm create-order-one-box",
        ),
        RollbackCompleted(
            **common,
            sequence=n + 3,
            idempotency_key="c2:rolled-back",
            change_id="c2",
            artifact=artifact("c1"),
        ),
        change_received(PIPELINE, n + 4, "c3"),
        BlockerHit(
            pipeline_id=PIPELINE,
            at=at,
            stage="wave1",
            sequence=n + 5,
            idempotency_key="c3:blocked",
            change_id="c3",
            blocker="time-window:af-south-1",
            reason="outside the window",
            inputs=(("region", "af-south-1"),),
        ),
    ]
    return events


def row(grid: pages.Grid, stage: str) -> pages.StageRow:
    return next(r for r in grid.rows if r.stage == stage)


def test_the_grid_lays_stages_by_regions_in_the_specs_order() -> None:
    grid = pages.grid(project(history()), SPEC, T0)

    assert [r.stage for r in grid.rows] == [s.name for s in SPEC.stages]
    assert set(grid.regions) == set(SPEC.regions)
    wave1 = row(grid, "wave1")
    # a stage's cell is None where it does not deploy: the page says "not in wave1"
    assert [region for region, cell in zip(grid.regions, wave1.cells, strict=True) if cell] == [
        "af-south-1"
    ]
    scopes = wave1.cells[grid.regions.index("af-south-1")] or ()
    assert [s.name for s in scopes] == ["afs1-az1", "afs1-az2", "afs1-az3", "af-south-1"]
    assert {(s.short, s.activity, s.tone) for s in scopes} == {
        ("nothing", "not deployed yet", "idle")
    }


def test_a_rolled_back_scope_and_a_blocked_stage_say_so_in_words() -> None:
    grid = pages.grid(project(history()), SPEC, T0)

    gamma = row(grid, "gamma")
    assert (gamma.status, gamma.tone) == ("rolled back in us-east-1", "bad")
    (scope,) = gamma.cells[grid.regions.index("us-east-1")] or ()
    assert scope.rolled_back
    assert scope.short == "c1"  # what the rollback returned to
    assert scope.activity == "rolled back"
    wave1 = row(grid, "wave1")
    assert wave1.status == "blocked: time-window:af-south-1 (outside the window)"
    assert wave1.tone == "bad"
    assert [(b.change_id, b.inputs) for b in wave1.blockers] == [("c3", "region=af-south-1")]


def test_a_bake_shows_the_time_left_or_that_it_is_due() -> None:
    events: list[Event] = [change_received(PIPELINE, 1, "c1")]
    events += rollout(PIPELINE, 2, "c1", "gamma", "us-east-1")[:3]
    start = events[-1].at
    events.append(
        BakeStarted(
            pipeline_id=PIPELINE,
            sequence=events[-1].sequence + 1,
            at=start,
            idempotency_key="c1:bake",
            stage="gamma",
            scope="us-east-1",
            change_id="c1",
            phase="one-box",
            duration_seconds=3600,
            ends_at=start + timedelta(hours=1),
            metric="Count",
            min_datapoints=100,
        )
    )
    state = project(events)

    def activity(now_offset: timedelta) -> str:
        grid = pages.grid(state, SPEC, start + now_offset)
        (scope,) = row(grid, "gamma").cells[grid.regions.index("us-east-1")] or ()
        assert scope.baking
        return scope.activity

    assert activity(timedelta(minutes=20)).startswith("baking one-box (40 min left, until ")
    assert activity(timedelta(hours=2)).startswith("baking one-box (due at ")
    # a log in virtual time ahead of the wall clock is judged at its newest event
    assert activity(-timedelta(days=30)).startswith("baking one-box (1 h left")


def test_the_overview_row_names_blockers_rollbacks_and_what_production_runs() -> None:
    overview = pages.pipeline_row(project(history()), SPEC, T0)

    assert overview.blocked == ("wave1: time-window:af-south-1 (outside the window)",)
    assert overview.rolled_back == ("gamma",)
    assert overview.production == "nothing yet"
    assert overview.tone == "bad"
    # c2's execution has not ended in this history: it is still shown moving
    assert overview.in_flight == (
        "c1 promoting at gamma",
        "c2 rolled-back at gamma",
        "c3 blocked",
    )


def test_a_change_timeline_marks_gates_and_failures_with_their_inputs() -> None:
    events = history()
    state = project(events)

    timeline = pages.timeline(PIPELINE, "c2", events, state)

    kinds = {e.what.split(":")[0]: e.kind for e in timeline.entries}
    assert "failure" in kinds.values()
    alarm = next(e for e in timeline.entries if e.kind == "failure" and "ALARM" in e.what)
    assert ("alarm_name", "create-order-one-box") in alarm.inputs
    assert ("reason", "FaultRate 0.03 vs threshold 0.01") in alarm.inputs
    assert not {"sequence", "at", "pipeline_id", "change_id"} & {k for k, _ in alarm.inputs}
    assert timeline.entries[0].sequence < timeline.entries[-1].sequence
    with pytest.raises(UnknownChangeError, match="has no change 'c9'"):
        pages.timeline(PIPELINE, "c9", events, state)


def test_an_unreadable_pipeline_is_a_bad_row_not_a_healthy_one() -> None:
    bad = pages.unreadable_row(PIPELINE, ValueError("sequence 7 does not chain"))
    assert (bad.tone, bad.production) == ("bad", "unknown")
    assert "sequence 7 does not chain" in bad.error


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-5, "0 s"), (44.6, "45 s"), (600, "10 min"), (3600, "1 h"), (12000, "3 h 20 min")],
)
def test_time_left_reads_as_people_say_it(seconds: float, text: str) -> None:
    assert pages.remaining(seconds) == text
