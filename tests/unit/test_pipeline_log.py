"""PipelineLog: the one append path, over the in-memory store (a fake, not a mock)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import timedelta

import pytest

from adapters.memory import InMemoryEventStore
from domain.errors import (
    ConcurrencyConflictError,
    EventStoreUnavailableError,
    PipelineNotFoundError,
    SnapshotError,
    StaleSnapshotError,
    TamperedEventError,
)
from domain.events import ChangeCompleted, ChangeReceived, Commit, Event, Stamper
from domain.state import PipelineState, snapshot_to_json
from service.pipeline_log import (
    BACKOFF_SECONDS,
    MAX_BACKOFF_SECONDS,
    Decision,
    PipelineLog,
)
from tests.builders import T0, change_received

PIPELINE = "orders-app"


def receive(change: str) -> Decision:
    def decide(_: PipelineState, stamp: Stamper) -> list[Event]:
        return [
            stamp(
                ChangeReceived,
                f"{change}:received",
                change_id=change,
                source="github",
                repository="orders",
                branch="main",
                commits=(Commit(commit_id=f"{change}-1", author="ana"),),
            )
        ]

    return decide


class RivalStore(InMemoryEventStore):
    """Another writer slips one event in before each of our first `rivals` appends."""

    def __init__(self, rivals: int) -> None:
        super().__init__()
        self.rivals = rivals

    def append(self, events: Sequence[Event]) -> tuple[Event, ...]:
        if self.rivals:
            self.rivals -= 1
            rival = change_received(PIPELINE, self.last_sequence(PIPELINE) + 1, f"r{self.rivals}")
            super().append([rival])
        return super().append(events)


def test_record_decides_again_after_a_conflict() -> None:
    store = RivalStore(rivals=2)
    log = PipelineLog(store)

    result = log.record(PIPELINE, T0, receive("c1"))

    assert [e.sequence for e in result.events] == [3]
    assert result.state.sequence == 3
    assert set(result.state.changes) == {"r0", "r1", "c1"}
    assert not result.replayed


def test_record_gives_up_when_writers_never_stop_colliding() -> None:
    log = PipelineLog(RivalStore(rivals=100), max_attempts=3)
    with pytest.raises(ConcurrencyConflictError):
        log.record(PIPELINE, T0, receive("c1"))


def test_a_retried_decision_is_recorded_once() -> None:
    store = InMemoryEventStore()
    log = PipelineLog(store)
    first = log.record(PIPELINE, T0, receive("c1"))

    # A second process (no cache) repeats the same work later, after another event
    log.record(PIPELINE, T0, receive("c2"))
    again = PipelineLog(store).record(PIPELINE, T0 + timedelta(minutes=5), receive("c1"))

    assert again.replayed
    assert again.events == first.events
    assert store.last_sequence(PIPELINE) == 2


def test_a_snapshot_is_written_every_n_events_and_state_equals_replay() -> None:
    store = InMemoryEventStore()
    log = PipelineLog(store, snapshot_every=10)
    for n in range(25):
        log.record(PIPELINE, T0, receive(f"c{n}"))

    snapshot = store.latest_snapshot(PIPELINE)
    assert snapshot is not None
    assert snapshot.sequence == 20
    fresh = PipelineLog(store).state(PIPELINE)
    assert fresh == log.state(PIPELINE)
    assert fresh.sequence == 25


def test_state_at_a_time_shows_what_was_deployed_then() -> None:
    store = InMemoryEventStore()
    log = PipelineLog(store)
    log.record(PIPELINE, T0, receive("c1"))
    log.record(
        PIPELINE,
        T0 + timedelta(hours=2),
        lambda _, stamp: [stamp(ChangeCompleted, "c1:done", change_id="c1")],
    )

    assert log.state_at(PIPELINE, T0 + timedelta(hours=1)).changes["c1"].status == "received"
    assert log.state(PIPELINE).changes == {}
    with pytest.raises(PipelineNotFoundError):
        log.state_at(PIPELINE, T0 - timedelta(hours=1))


def test_missing_pipeline_is_a_clear_error() -> None:
    log = PipelineLog(InMemoryEventStore())
    with pytest.raises(PipelineNotFoundError, match="'nope'"):
        log.state("nope")
    with pytest.raises(PipelineNotFoundError, match="'nope'"):
        list(log.events("nope"))


def test_a_snapshot_of_another_fold_version_is_ignored_and_replaced() -> None:
    store = InMemoryEventStore()
    log = PipelineLog(store, snapshot_every=5)
    for n in range(7):
        log.record(PIPELINE, T0, receive(f"c{n}"))
    assert store.latest_snapshot(PIPELINE) is not None
    # The snapshot on disk came from an older shipwave whose fold meant something else
    with store._lock:
        sequence, head, text = store._snapshots[PIPELINE]
        store._snapshots[PIPELINE] = (
            sequence,
            head,
            text.replace('"fold_version":', '"fold_was":'),
        )

    reader = PipelineLog(store, snapshot_every=5)
    fresh = reader.state(PIPELINE)

    assert fresh == log.state(PIPELINE)
    with pytest.raises(StaleSnapshotError):  # a read writes nothing: the old one is still there
        store.latest_snapshot(PIPELINE)
    for n in range(7, 10):  # the next append on the snapshot cadence replaces it
        reader.record(PIPELINE, T0, receive(f"c{n}"))
    assert store.latest_snapshot(PIPELINE) == reader.state(PIPELINE)


def test_an_unreadable_snapshot_is_discarded_and_the_events_replayed() -> None:
    store = InMemoryEventStore()
    log = PipelineLog(store, snapshot_every=5)
    for n in range(7):
        log.record(PIPELINE, T0, receive(f"c{n}"))
    with store._lock:
        sequence, head, _ = store._snapshots[PIPELINE]
        store._snapshots[PIPELINE] = (sequence, head, '{"fold_version": 9, "state": ')
    assert PipelineLog(store).state(PIPELINE) == log.state(PIPELINE)


def test_a_snapshot_whose_chain_head_is_not_the_logs_is_discarded_and_the_events_replayed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = InMemoryEventStore()
    log = PipelineLog(store, snapshot_every=5)
    for n in range(7):
        log.record(PIPELINE, T0, receive(f"c{n}"))
    with store._lock:
        sequence, _, text = store._snapshots[PIPELINE]
        store._snapshots[PIPELINE] = (sequence, "0" * 64, text)

    assert PipelineLog(store).state(PIPELINE) == log.state(PIPELINE)
    assert "snapshot discarded" in caplog.text
    assert "at sequence 5 records chain head 000000000000…, but event 5 hashes to" in caplog.text


def test_a_snapshot_ahead_of_the_log_tells_the_newest_events_were_removed() -> None:
    store = InMemoryEventStore()
    log = PipelineLog(store, snapshot_every=5)
    for n in range(5):
        log.record(PIPELINE, T0, receive(f"c{n}"))
    with store._lock:  # a raw delete of the two newest events
        del store._events[PIPELINE][3:]

    with pytest.raises(TamperedEventError, match="events 4 to 5 were removed") as raised:
        PipelineLog(store).state(PIPELINE)
    assert (raised.value.pipeline_id, raised.value.sequence) == (PIPELINE, 4)


def test_a_forged_snapshot_beyond_the_log_is_refused_not_trusted() -> None:
    store = InMemoryEventStore()
    log = PipelineLog(store, snapshot_every=1000)
    for n in range(3):
        log.record(PIPELINE, T0, receive(f"c{n}"))
    state = log.state(PIPELINE)
    ahead = dataclasses.replace(state, sequence=5000)
    with pytest.raises(SnapshotError, match="the log holds no such event"):
        store.save_snapshot(ahead)  # shipwave never keeps one
    with store._lock:
        store._snapshots[PIPELINE] = (5000, "0" * 64, snapshot_to_json(ahead))

    with pytest.raises(TamperedEventError, match="covers sequence 5000 but the log ends at 3"):
        PipelineLog(store).state(PIPELINE)


class SnapshotsFail(InMemoryEventStore):
    def save_snapshot(self, state: PipelineState) -> None:
        raise EventStoreUnavailableError("snapshot table throttled")


def test_when_only_the_snapshot_save_fails_the_committed_result_is_returned(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = SnapshotsFail()
    log = PipelineLog(store, snapshot_every=2)
    log.record(PIPELINE, T0, receive("c0"))
    recorded = log.record(PIPELINE, T0, receive("c1"))  # the second append is on the cadence
    assert [e.sequence for e in recorded.events] == [2]
    assert recorded.state.sequence == 2
    assert store.last_sequence(PIPELINE) == 2
    assert "the snapshot was not saved: snapshot table throttled" in caplog.text


def test_a_writer_that_lost_a_race_backs_off_with_jitter_before_deciding_again() -> None:
    waits: list[float] = []
    log = PipelineLog(RivalStore(rivals=6), pause=waits.append)
    log.record(PIPELINE, T0, receive("c1"))
    assert len(waits) == 6  # one pause before each new decision
    ceilings = [min(MAX_BACKOFF_SECONDS, BACKOFF_SECONDS * 2**n) for n in range(1, 7)]
    assert all(0 <= wait <= ceiling for wait, ceiling in zip(waits, ceilings, strict=True))
    assert len(set(waits)) > 1  # drawn at random, not in step
