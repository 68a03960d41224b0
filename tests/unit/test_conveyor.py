"""Stage leases: one change per stage; the newest waiting change takes it when it frees."""

from __future__ import annotations

import pytest

from domain import conveyor
from domain.errors import UnknownChangeError
from domain.events import Event, RollbackFailed, Stamper
from domain.state import PipelineState, project
from tests.builders import T0, StreamLog

PIPELINE = "orders-app"


class Log(StreamLog):
    def acquire(self, change: str, token: str) -> list[Event]:
        new = conveyor.acquire(
            self.state, self.stamp(), stage="beta", change_id=change, token=token
        )
        self.events += new
        return new

    def release(self, change: str) -> list[Event]:
        new = conveyor.release(self.state, self.stamp(), stage="beta", change_id=change)
        self.events += new
        return new


def test_a_free_stage_is_taken_at_once_and_the_caller_resumes() -> None:
    log = Log("c1")
    recorded = log.acquire("c1", "t1")
    assert log.state.stages["beta"].lease_holder == "c1"
    assert conveyor.handoffs(tuple(recorded)).resume == (("c1", "t1"),)


def test_a_busy_stage_makes_the_change_wait_without_resuming_it() -> None:
    log = Log("c1", "c2")
    log.acquire("c1", "t1")
    recorded = log.acquire("c2", "t2")
    assert log.state.stages["beta"].waiting[0].callback_token == "t2"
    assert conveyor.handoffs(tuple(recorded)) == conveyor.Handoffs(resume=(), supersede=())


def test_release_hands_the_stage_to_the_newest_and_supersedes_the_rest() -> None:
    log = Log("c1", "c2", "c3", "c4")
    log.acquire("c1", "t1")
    for change in ("c2", "c3", "c4"):
        log.acquire(change, f"t-{change}")

    recorded = log.release("c1")

    state = log.state
    assert state.stages["beta"].lease_holder == "c4"
    assert state.stages["beta"].waiting == ()
    assert state.changes["c4"].riding_along == ("c2", "c3")
    hand = conveyor.handoffs(tuple(recorded))
    assert hand.resume == (("c4", "t-c4"),)
    assert hand.supersede == (("c2", "t-c2"), ("c3", "t-c3"))


def test_retries_decide_nothing_new() -> None:
    log = Log("c1", "c2")
    log.acquire("c1", "t1")
    log.acquire("c2", "t2")
    assert log.acquire("c1", "t1") == []
    assert log.acquire("c2", "t2") == []
    log.release("c1")
    assert log.release("c1") == []


def test_two_changes_never_hold_one_stage() -> None:
    log = Log("c1", "c2", "c3")
    log.acquire("c1", "t1")
    log.acquire("c2", "t2")
    log.release("c1")
    log.acquire("c3", "t3")
    holders: list[str | None] = []
    state = PipelineState(pipeline_id=PIPELINE)
    for event in log.events:
        state = project([event], state)
        holders.append(state.stages["beta"].lease_holder if "beta" in state.stages else None)
    assert holders[-1] == "c2"
    assert log.state.stages["beta"].waiting[0].change_id == "c3"


# --- an execution that ends abnormally releases what it held --------------------------------


def ended(log: Log, change: str) -> list[Event]:
    new = conveyor.execution_ended(
        log.state,
        log.stamp(),
        change_id=change,
        status="ABORTED",
        cause="stopped by hand",
        execution=f"arn:aws:states:us-east-1:123456789012:execution:m:{change}",
    )
    log.events += new
    return new


def test_an_aborted_holder_hands_its_stage_to_the_newest_waiter() -> None:
    log = Log("c1", "c2", "c3")
    log.acquire("c1", "t1")
    log.acquire("c2", "t2")
    log.acquire("c3", "t3")

    recorded = ended(log, "c1")

    hand = conveyor.handoffs(tuple(recorded))
    assert hand.resume == (("c3", "t3"),)
    assert hand.supersede == (("c2", "t2"),)
    state = log.state
    assert state.stages["beta"].lease_holder == "c3"
    ended_change = state.change("c1")
    assert ended_change is not None
    assert (ended_change.status, ended_change.reason) == (
        "aborted",
        "execution ABORTED: stopped by hand",
    )


def test_an_ended_waiter_leaves_the_waiting_list() -> None:
    log = Log("c1", "c2")
    log.acquire("c1", "t1")
    log.acquire("c2", "t2")
    ended(log, "c2")
    assert log.state.stages["beta"].waiting == ()
    assert conveyor.handoffs(tuple(log.release("c1"))).resume == ()


def test_a_stage_whose_rollback_failed_stays_held_after_the_execution_ends() -> None:
    log = Log("c1")
    log.acquire("c1", "t1")
    log.events.append(
        Stamper(PIPELINE, len(log.events) + 1, T0)(
            RollbackFailed,
            "c1:beta:us-east-1:rollback-failed",
            stage="beta",
            scope="us-east-1",
            change_id="c1",
            reason="checksum of v1 does not match",
        )
    )
    recorded = ended(log, "c1")
    assert [type(e).__name__ for e in recorded] == ["ExecutionEnded"]
    assert log.state.stages["beta"].lease_holder == "c1"


def test_the_end_of_an_unknown_change_is_refused() -> None:
    log = Log("c1")
    with pytest.raises(UnknownChangeError, match="no change 'ghost'"):
        ended(log, "ghost")


def test_a_retried_wait_records_its_new_token_in_its_place_in_the_queue() -> None:
    """The waiting task crashed and was retried with a new token: the hand-off must resume
    the task that waits now, and the retried change does not jump the queue."""
    log = Log("c1", "c2", "c3")
    log.acquire("c1", "t1")
    log.acquire("c2", "t2")
    log.acquire("c3", "t3")
    since = log.state.stages["beta"].waiting[0].since

    assert log.acquire("c2", "t2") == []  # the same task again: nothing new
    renewed = log.acquire("c2", "t2-retried")

    assert len(renewed) == 1
    waiting = log.state.stages["beta"].waiting
    assert [(w.change_id, w.callback_token) for w in waiting] == [
        ("c2", "t2-retried"),
        ("c3", "t3"),
    ]
    assert waiting[0].since == since
    hand = conveyor.handoffs(tuple(log.release("c1")))
    assert hand.resume == (("c3", "t3"),)
    assert hand.supersede == (("c2", "t2-retried"),)
