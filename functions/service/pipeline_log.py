"""The one way to read pipeline state and record transitions.

Every writer (handler, CLI, demo, local runtime) records through `PipelineLog.record`: it
folds the current state, lets a pure decision number the new events, appends them
conditionally, and on a conflict reads what the other writer did and decides again. State is
snapshot + tail, cached per process, and a snapshot is written every `snapshot_every` events.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.errors import (
    ConcurrencyConflictError,
    PipelineNotFoundError,
    ShipwaveError,
    SnapshotError,
    StaleSnapshotError,
)
from domain.events import Event, Stamper
from domain.ports import EventStore
from domain.state import PipelineState, evolve, project

_log = logging.getLogger(__name__)

#: a writer that lost a race waits up to this long before it decides again, doubling each time
BACKOFF_SECONDS = 0.002
MAX_BACKOFF_SECONDS = 0.1

Decision = Callable[[PipelineState, Stamper], Iterable[Event]]

DEFAULT_SNAPSHOT_EVERY = 1000


@dataclass(frozen=True)
class Recorded:
    events: tuple[Event, ...]  # what the log holds for this decision
    state: PipelineState  # the state after them
    replayed: bool  # True when the log already held these events (a retry)


class PipelineLog:
    """Pipeline state and appends over an EventStore.

    Raises PipelineNotFoundError for a pipeline with no events, ConcurrencyConflictError when
    writers keep colliding beyond `max_attempts`, and whatever the store raises.
    """

    def __init__(
        self,
        store: EventStore,
        *,
        snapshot_every: int = DEFAULT_SNAPSHOT_EVERY,
        max_attempts: int = 500,
        pause: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.snapshot_every = snapshot_every
        self.max_attempts = max_attempts
        self.pause = pause
        self.conflicts = 0  # appends that lost a race and were decided again
        self._cache: dict[str, PipelineState] = {}
        #: called with (state before, events) after each batch this log records
        self.observers: list[Callable[[PipelineState, Sequence[Event]], None]] = []
        self._lock = threading.Lock()

    def state(self, pipeline_id: str) -> PipelineState:
        """The current state: latest snapshot (or cache) plus the events after it."""
        state = self._current(pipeline_id)
        if state.sequence == 0:
            raise PipelineNotFoundError(f"pipeline {pipeline_id!r} has no events in the log")
        return state

    def state_at(self, pipeline_id: str, when: datetime) -> PipelineState:
        """The state as it was at `when`: what was deployed where, and why. The last event at
        or before `when` is found by bisection over the sequences (events are appended in
        time order), the fold starts from the newest trusted snapshot covering no later event
        and replays the rest (a snapshot that cannot be trusted is passed over: full replay)."""
        last = self.last_at_or_before(pipeline_id, when)
        if last == 0:
            raise PipelineNotFoundError(
                f"pipeline {pipeline_id!r} has no events at or before {when.isoformat()}"
            )
        try:
            start = self.store.snapshot_at_or_before(pipeline_id, last)
        except (StaleSnapshotError, SnapshotError) as error:
            _log.warning("%s: snapshot passed over, replaying: %s", pipeline_id, error)
            start = None
        state = start or PipelineState(pipeline_id=pipeline_id)
        for event in self.store.read(pipeline_id, after=state.sequence):
            if event.sequence > last:
                break
            state = evolve(state, event)
        return state

    def last_at_or_before(self, pipeline_id: str, when: datetime) -> int:
        """The sequence of the last event at or before `when` (0: none), by bisection over
        the sequences (events are appended in time order)."""
        low, high = 0, self.store.last_sequence(pipeline_id)
        while low < high:
            middle = (low + high + 1) // 2
            found = next(
                iter(self.store.read_chained(pipeline_id, after=middle - 1, until=middle)), None
            )
            if found is not None and found.event.at <= when:
                low = middle
            else:
                high = middle - 1
        return low

    def events(self, pipeline_id: str, after: int = 0) -> Iterator[Event]:
        if after == 0 and self.store.last_sequence(pipeline_id) == 0:
            raise PipelineNotFoundError(f"pipeline {pipeline_id!r} has no events in the log")
        return self.store.read(pipeline_id, after)

    def record(self, pipeline_id: str, now: datetime, decide: Decision) -> Recorded:
        """Decide on the current state and append the result, retrying on conflicts after a
        pause drawn at random up to a bound that doubles each time (full jitter: writers that
        collided do not collide again in step)."""
        for attempt in range(self.max_attempts):
            if attempt:
                ceiling = min(MAX_BACKOFF_SECONDS, BACKOFF_SECONDS * 2 ** min(attempt, 16))
                self.pause(random.uniform(0, ceiling))
            state = self._current(pipeline_id)
            stamp = Stamper(pipeline_id, state.sequence + 1, now, attempts=state.attempts())
            events = tuple(decide(state, stamp))
            if not events:
                return Recorded((), state, replayed=False)
            try:
                stored = self.store.append(events)
            except ConcurrencyConflictError:
                self.conflicts += 1
                continue
            if stored[0].sequence == state.sequence + 1 and stored == events:
                after = project(stored, state)
                self._remember(after)
                self._observe(state, stored)
                if after.sequence // self.snapshot_every > state.sequence // self.snapshot_every:
                    self._save_snapshot(after)
                return Recorded(stored, after, replayed=False)
            return Recorded(stored, self._current(pipeline_id), replayed=True)
        raise ConcurrencyConflictError(pipeline_id, self._current(pipeline_id).sequence + 1)

    def _observe(self, before: PipelineState, stored: Sequence[Event]) -> None:
        """Tell the observers (the handlers' metrics) what was just recorded. They watch; a
        failing one is logged and never undoes or fails what is committed."""
        for observer in self.observers:
            try:
                observer(before, stored)
            except Exception as error:  # an observer is not a gate
                _log.warning("%s: an observer of the log failed: %s", before.pipeline_id, error)

    def _save_snapshot(self, state: PipelineState) -> None:
        """The events are committed: a snapshot that cannot be saved only costs a longer
        replay later. Say so and return what was recorded."""
        try:
            self.store.save_snapshot(state)
        except ShipwaveError as error:
            _log.warning(
                "%s: events up to %d are recorded; the snapshot was not saved: %s",
                state.pipeline_id,
                state.sequence,
                error,
            )

    def _current(self, pipeline_id: str) -> PipelineState:
        with self._lock:
            state = self._cache.get(pipeline_id)
        if state is None:
            state = self._snapshot(pipeline_id) or PipelineState(pipeline_id=pipeline_id)
        state = project(self.store.read(pipeline_id, after=state.sequence), state)
        self._remember(state)
        return state

    def _snapshot(self, pipeline_id: str) -> PipelineState | None:
        """The newest snapshot, when it can be trusted: one of another fold version, one that
        cannot be read, or one whose chain head is not the log's is discarded, saying why,
        and the events are replayed. One that covers events the log no longer holds is
        TamperedEventError, raised: the newest events were removed. Nothing is written here:
        a read never writes (the next snapshot is saved by an append, on its cadence)."""
        try:
            return self.store.latest_snapshot(pipeline_id)
        except (StaleSnapshotError, SnapshotError) as error:
            _log.warning("%s: snapshot discarded, replaying the events: %s", pipeline_id, error)
            return None

    def _remember(self, state: PipelineState) -> None:
        with self._lock:
            cached = self._cache.get(state.pipeline_id)
            if cached is None or cached.sequence < state.sequence:
                self._cache[state.pipeline_id] = state
