"""A person's retry of a failed change, as pure decisions: where it runs again from, when it
is refused, how its second run's events are keyed apart from the first run's, and which
execution's end is the current run's."""

from __future__ import annotations

import pytest

from domain import conveyor
from domain.events import (
    ArtifactBuilt,
    ChangeAborted,
    ChangeCompleted,
    ChangeRetried,
    ChangeSuperseded,
    ExecutionEnded,
    ReviewPassed,
    StageFailed,
    StageLeaseAcquired,
    StageLeaseReleased,
    StageSucceeded,
)
from domain.operations import OperatorInputError, retry, retry_point
from domain.state import snapshot_from_json, snapshot_to_json
from tests.builders import StreamLog, artifact

PIPELINE = "orders-app"
STAGES = ("alpha", "beta", "gamma", "wave1")
MACHINE_EXECUTION = "arn:aws:states:us-east-1:111122223333:execution:shipwave-orders-app"


class Log(StreamLog):
    """Events of one pipeline, each keyed as its decision keys it (a retried change's by
    its run, as PipelineLog.record's stamper does)."""

    def through(self, change: str, *stages: str) -> None:
        """Reviewed, built, and passed `stages`."""
        self.add(ReviewPassed, key=f"{change}:review-passed", change_id=change, approvals=())
        self.add(ArtifactBuilt, key=f"{change}:built", change_id=change, artifact=artifact("v2"))
        for stage in stages:
            self.add(
                StageLeaseAcquired, key=f"{change}:{stage}:lease", stage=stage, change_id=change
            )
            self.add(
                StageSucceeded, key=f"{change}:{stage}:succeeded", stage=stage, change_id=change
            )
            self.add(
                StageLeaseReleased, key=f"{change}:{stage}:release", stage=stage, change_id=change
            )

    def fail(self, change: str, stage: str, *, ended: bool = True, release: bool = True) -> None:
        self.add(StageLeaseAcquired, key=f"{change}:{stage}:lease", stage=stage, change_id=change)
        self.add(
            StageFailed, key=f"{change}:{stage}:failed", stage=stage, change_id=change, reason="x"
        )
        if release:
            self.add(
                StageLeaseReleased, key=f"{change}:{stage}:release", stage=stage, change_id=change
            )
        if ended:
            self.add(
                ExecutionEnded,
                key=f"{change}:execution-ended",
                change_id=change,
                status="FAILED",
                cause="StageFailed",
                execution=f"{MACHINE_EXECUTION}:{change}",
            )

    def retry(self, change: str, why: str = "the alarm cleared") -> ChangeRetried:
        (event,) = retry(
            self.state, self.stamp(), stages=STAGES, change_id=change, by="local:ana", why=why
        )
        self.events.append(event)
        assert isinstance(event, ChangeRetried)
        return event


def failed_at_beta() -> Log:
    log = Log()
    log.receive("c1")
    log.through("c1", "alpha")
    log.fail("c1", "beta")
    return log


def test_a_change_that_failed_in_a_stage_runs_again_from_that_stage() -> None:
    log = failed_at_beta()
    retried = log.retry("c1")
    assert (retried.from_stage, retried.attempt, retried.execution) == ("beta", 2, "c1-retry-2")
    assert retried.idempotency_key == "c1:retry:2"
    state = log.state
    change = state.changes["c1"]
    assert (change.status, change.attempt, change.retried_from) == ("retrying", 2, "beta")
    assert change.stages_passed == ("alpha",)  # what it passed stays passed
    assert change.artifact == artifact("v2")  # the same artifact goes on: nothing is rebuilt
    assert change.reason == "retried by local:ana from beta: the alarm cleared"
    assert not change.ended
    assert all(c.change_id != "c1" for c in state.finished)  # moving again


def test_the_second_runs_events_are_keyed_by_its_run_so_they_record_anew() -> None:
    log = failed_at_beta()
    log.retry("c1")
    lease = log.add(StageLeaseAcquired, key="c1:beta:lease", stage="beta", change_id="c1")
    assert lease.idempotency_key == "c1:retry2:beta:lease"  # the first run's was c1:beta:lease
    log.receive("c2")
    other = log.add(StageLeaseAcquired, key="c2:alpha:lease", stage="alpha", change_id="c2")
    assert other.idempotency_key == "c2:alpha:lease"  # another change keeps its keys
    paused = log.add(StageLeaseReleased, key="release:beta", stage="beta", change_id="c1")
    assert paused.idempotency_key == "release:beta"  # a key not of the change is left alone
    # still keyed by run once it finished again (its execution's end comes after)
    log.add(StageFailed, key="c1:beta:failed", stage="beta", change_id="c1", reason="again")
    ended = log.add(
        ExecutionEnded,
        key="c1:execution-ended",
        change_id="c1",
        status="FAILED",
        cause="StageFailed",
        execution=f"{MACHINE_EXECUTION}:c1-retry-2",
    )
    assert ended.idempotency_key == "c1:retry2:execution-ended"
    assert log.state.change("c1").ended  # type: ignore[union-attr]


def test_only_the_current_runs_execution_end_releases_what_the_change_holds() -> None:
    log = failed_at_beta()
    log.retry("c1")
    log.add(StageLeaseAcquired, key="c1:beta:lease", stage="beta", change_id="c1")
    state = log.state
    stamp = log.stamp()
    stale = conveyor.execution_ended(
        state,
        stamp,
        change_id="c1",
        status="FAILED",
        cause="told again",
        execution=f"{MACHINE_EXECUTION}:c1",
    )
    assert stale == []  # the first run's end, delivered again: beta stays the second run's
    current = conveyor.execution_ended(
        state,
        stamp,
        change_id="c1",
        status="TIMED_OUT",
        cause="timed out",
        execution=f"{MACHINE_EXECUTION}:c1-retry-2",
    )
    assert [type(e).__name__ for e in current] == ["ExecutionEnded", "StageLeaseReleased"]


def test_a_retry_runs_from_the_review_or_the_build_when_the_change_got_no_further() -> None:
    log = Log()
    log.receive("c1")
    assert retry_point(STAGES, log.state.changes["c1"]) == "source"
    log.add(ReviewPassed, key="c1:review-passed", change_id="c1", approvals=())
    assert retry_point(STAGES, log.state.changes["c1"]) == "build"
    log.add(ArtifactBuilt, key="c1:built", change_id="c1", artifact=artifact("v2"))
    assert retry_point(STAGES, log.state.changes["c1"]) == "alpha"


def test_a_retry_from_the_build_makes_a_new_artifact() -> None:
    log = Log()
    log.receive("c1")
    log.add(ReviewPassed, key="c1:review-passed", change_id="c1", approvals=())
    log.fail("c1", "source")  # (a review gate that could not decide records its stage so)
    retried = log.retry("c1")
    assert retried.from_stage == "build"
    change = log.state.changes["c1"]
    assert (change.artifact, change.build_id, change.reviewed) == (None, "", True)


@pytest.mark.parametrize(
    ("ended", "released", "refusal"),
    [
        (False, True, "execution's end is not recorded yet"),  # its execution may still run
        (True, False, "still holds beta"),  # its rollback failed there: a person acts first
    ],
)
def test_a_retry_is_refused_until_the_first_run_has_ended_and_let_go(
    ended: bool, released: bool, refusal: str
) -> None:
    log = Log()
    log.receive("c1")
    log.through("c1", "alpha")
    log.fail("c1", "beta", ended=ended, release=released)
    with pytest.raises(OperatorInputError, match=refusal):
        log.retry("c1")


def test_a_retry_is_refused_once_a_newer_change_reached_that_stage_but_not_an_older_one() -> None:
    log = Log()
    log.receive("c0")  # older, and already past beta: no reason to refuse
    log.through("c0", "alpha", "beta", "gamma")
    log.receive("c1")
    log.through("c1", "alpha")
    log.fail("c1", "beta")
    log.receive("c2")
    log.through("c2", "alpha")
    assert log.retry("c1").from_stage == "beta"  # c2 has not reached beta

    log = failed_at_beta()
    log.receive("c2")
    log.through("c2", "alpha")
    log.add(StageLeaseAcquired, key="c2:beta:lease", stage="beta", change_id="c2")
    before = len(log.events)
    with pytest.raises(OperatorInputError, match="the newer change c2 has reached beta"):
        log.retry("c1")
    assert len(log.events) == before


@pytest.mark.parametrize(
    ("ending", "refusal"),
    [
        ("completed", "completed: only a failed change is retried"),
        ("superseded", "superseded by c9, which carries its commits"),
        ("aborted", "aborted by local:bo: stop: a person stopped it"),
        ("moving", r"still moving \(promoting at alpha\): nothing to retry"),
        ("unknown", "not among the changes that finished lately"),
    ],
)
def test_a_retry_of_a_change_that_did_not_fail_is_refused(ending: str, refusal: str) -> None:
    log = Log()
    log.receive("c1")
    log.through("c1", "alpha")
    if ending == "completed":
        log.add(ChangeCompleted, key="c1:completed", change_id="c1")
    elif ending == "superseded":
        log.add(
            ChangeSuperseded,
            key="c1:beta:superseded",
            stage="beta",
            change_id="c1",
            superseded_by="c9",
        )
    elif ending == "aborted":
        log.add(ChangeAborted, key="c1:abort", change_id="c1", by="local:bo", why="stop")
        log.fail("c1", "beta")
    with pytest.raises(OperatorInputError, match=refusal):
        log.retry("c9" if ending == "unknown" else "c1")


def test_a_retry_needs_a_reason_and_an_identity() -> None:
    log = failed_at_beta()
    state = log.state
    stamp = log.stamp()
    with pytest.raises(OperatorInputError, match="needs a reason"):
        retry(state, stamp, stages=STAGES, change_id="c1", by="local:ana", why=" ")
    with pytest.raises(OperatorInputError, match="who acts is not known"):
        retry(state, stamp, stages=STAGES, change_id="c1", by="", why="why")


def test_a_retried_state_survives_its_snapshot() -> None:
    log = failed_at_beta()
    log.retry("c1")
    state = log.state
    again = snapshot_from_json(
        snapshot_to_json(state), pipeline_id=PIPELINE, sequence=state.sequence
    )
    assert again == state
    assert again.attempts() == {"c1": 2}
