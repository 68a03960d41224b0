"""People's decisions on a running pipeline: emergencies and overrides."""

from __future__ import annotations

import pytest

from domain.events import (
    UNKNOWN_AUTHOR,
    BlockerHit,
    ChangeReceived,
    Commit,
    Event,
    ReviewPassed,
    Stamper,
)
from domain.operations import OperatorInputError, approve_emergency, override_blocker
from domain.state import PipelineState, project
from tests.builders import T0, change_received

PIPELINE = "orders-app"
SENIOR = ("ana", "bo", "chen")


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
        state,
        stamp,
        change_id="c1",
        approvers=("bo", "chen"),
        reason="sev1 fix",
        bake_factor=0.25,
        senior_approvers=SENIOR,
    )
    emergency = project([*events, approved]).changes["c1"].emergency
    assert emergency is not None
    assert (emergency.approvers, emergency.bake_factor) == (("bo", "chen"), 0.25)

    with pytest.raises(OperatorInputError, match="at least 2 distinct"):
        approve_emergency(
            state,
            stamp,
            change_id="c1",
            approvers=("bo", " BO "),
            reason="x",
            bake_factor=0.5,
            senior_approvers=SENIOR,
        )
    with pytest.raises(OperatorInputError, match="between 0 and 1"):
        approve_emergency(
            state,
            stamp,
            change_id="c1",
            approvers=("bo", "chen"),
            reason="x",
            bake_factor=1.5,
            senior_approvers=SENIOR,
        )
    with pytest.raises(OperatorInputError, match="not moving"):
        approve_emergency(
            state,
            stamp,
            change_id="c9",
            approvers=("bo", "chen"),
            reason="x",
            bake_factor=0.5,
            senior_approvers=SENIOR,
        )


def test_emergency_approvers_are_named_senior_engineers_and_never_the_author() -> None:
    _, state = state_with_blocker()  # c1's commit is by ana
    stamp = Stamper(PIPELINE, 3, T0)

    def approve(*approvers: str) -> list[Event]:
        return approve_emergency(
            state,
            stamp,
            change_id="c1",
            approvers=approvers,
            reason="sev1",
            bake_factor=0.5,
            senior_approvers=SENIOR,
        )

    with pytest.raises(OperatorInputError, match="mallory is not among its emergency approvers"):
        approve("bo", "mallory")
    with pytest.raises(OperatorInputError, match="ana wrote commits of c1"):
        approve("ana", "bo")
    with pytest.raises(OperatorInputError, match="at least 2 distinct"):
        approve("Bo", "bo")
    assert len(approve("Bo", "chen")) == 1


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


def test_an_emergency_waits_until_the_review_record_named_the_authors() -> None:
    """A CodeCommit event names no author: until the review record does, no emergency can be
    approved (an author might approve their own); once it does, the author is refused."""
    stamp = Stamper(PIPELINE, 1, T0)
    received = stamp(
        ChangeReceived,
        "c1:received",
        change_id="c1",
        source="codecommit",
        repository="create-order",
        branch="main",
        commits=(Commit(commit_id="a" * 40, author=UNKNOWN_AUTHOR),),
        head="a" * 40,
    )
    state = project([received])

    def approve(state: PipelineState, *approvers: str) -> list[Event]:
        return approve_emergency(
            state,
            Stamper(PIPELINE, state.sequence + 1, T0),
            change_id="c1",
            approvers=approvers,
            reason="sev1",
            bake_factor=0.5,
            senior_approvers=SENIOR,
        )

    with pytest.raises(OperatorInputError, match="who wrote c1's commits is not known yet"):
        approve(state, "bo", "chen")
    reviewed = Stamper(PIPELINE, 2, T0)(
        ReviewPassed,
        "c1:review-passed",
        change_id="c1",
        approvals=(("a" * 40, "ana"),),
        authors=(("a" * 40, "bo"),),  # the pull request's author, as CodeCommit names them
    )
    state = project([received, reviewed])
    assert state.changes["c1"].authors == ("bo",)
    with pytest.raises(OperatorInputError, match="bo wrote commits of c1"):
        approve(state, "bo", "chen")
    assert approve(state, "ana", "chen")
