"""People's decisions on a running pipeline: emergencies and overrides."""

from __future__ import annotations

import pytest

from domain.events import BlockerHit, Event, Stamper
from domain.operations import OperatorInputError, approve_emergency, override_blocker
from domain.state import PipelineState, project
from tests.builders import T0, change_received

PIPELINE = "orders-app"


def state_with_blocker() -> tuple[list[Event], PipelineState]:
    events: list[Event] = [change_received(PIPELINE, 1, "c1")]
    events.append(
        Stamper(PIPELINE, 2, T0)(
            BlockerHit,
            "k2",
            stage="wave2",
            change_id="c1",
            blocker="company-alarm",
            reason="large-scale event",
            inputs=(("alarm", "company-large-scale-event"),),
        )
    )
    return events, project(events)


def test_an_emergency_needs_two_senior_approvers_and_a_factor_below_one() -> None:
    events, state = state_with_blocker()
    stamp = Stamper(PIPELINE, 3, T0)
    (approved,) = approve_emergency(
        state, stamp, change_id="c1", approvers=("ana", "bo"), reason="sev1 fix", bake_factor=0.25
    )
    emergency = project([*events, approved]).changes["c1"].emergency
    assert emergency is not None
    assert (emergency.approvers, emergency.bake_factor) == (("ana", "bo"), 0.25)

    with pytest.raises(OperatorInputError, match="at least 2 distinct"):
        approve_emergency(
            state, stamp, change_id="c1", approvers=("ana", "ana"), reason="x", bake_factor=0.5
        )
    with pytest.raises(OperatorInputError, match="between 0 and 1"):
        approve_emergency(
            state, stamp, change_id="c1", approvers=("ana", "bo"), reason="x", bake_factor=1.5
        )
    with pytest.raises(OperatorInputError, match="not moving"):
        approve_emergency(
            state, stamp, change_id="c9", approvers=("ana", "bo"), reason="x", bake_factor=0.5
        )


def test_an_override_clears_only_a_blocker_that_holds_the_change() -> None:
    events, state = state_with_blocker()
    stamp = Stamper(PIPELINE, 3, T0)
    (overridden,) = override_blocker(
        state,
        stamp,
        stage="wave2",
        change_id="c1",
        blocker="company-alarm",
        by="ana",
        why="the fix for it",
    )
    after = project([*events, overridden])
    assert after.stages["wave2"].blocked == ()
    assert after.changes["c1"].overrides[0].why == "the fix for it"

    with pytest.raises(OperatorInputError, match="held by \\['company-alarm'\\]"):
        override_blocker(
            state, stamp, stage="wave2", change_id="c1", blocker="time-window", by="ana", why="x"
        )
    with pytest.raises(OperatorInputError, match="who overrides and why"):
        override_blocker(
            state, stamp, stage="wave2", change_id="c1", blocker="company-alarm", by=" ", why="x"
        )
