"""An event store in process memory: for unit tests and single-process simulations.

Events are kept encoded, as every other store keeps them, so the memory store exercises the
same encoding and fails the same way on a malformed item.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from domain.errors import ConcurrencyConflictError, InvalidAppendError
from domain.events import Event, PersonPaged, from_json
from domain.ports import EventStore, Notifier, decode_stored, earlier_result
from domain.state import PipelineState, snapshot_from_json, snapshot_to_json


class InMemoryEventStore(EventStore):
    """Thread-safe; raises ConcurrencyConflictError, IdempotencyKeyConflictError,
    InvalidAppendError and MalformedEventError like every other store."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, list[str]] = {}
        self._keys: dict[tuple[str, str], int] = {}
        self._snapshots: dict[str, tuple[int, str]] = {}

    def append(self, events: Sequence[Event]) -> tuple[Event, ...]:
        batch, texts = self.validate(events)
        pipeline = batch[0].pipeline_id
        with self._lock:
            log = self._events.setdefault(pipeline, [])
            stored = []
            for event in batch:
                sequence = self._keys.get((pipeline, event.idempotency_key))
                stored.append(None if sequence is None else self._decode(pipeline, sequence))
            earlier = earlier_result(batch, stored)
            if earlier is not None:
                return earlier
            first = batch[0].sequence
            if first <= len(log):
                raise ConcurrencyConflictError(pipeline, first)
            if first != len(log) + 1:
                raise InvalidAppendError(
                    f"pipeline {pipeline!r}: append at sequence {first} would leave a gap "
                    f"after {len(log)}"
                )
            log.extend(texts)
            for event in batch:
                self._keys[(pipeline, event.idempotency_key)] = event.sequence
            return batch

    def read(self, pipeline_id: str, after: int = 0) -> Iterator[Event]:
        with self._lock:
            tail = list(self._events.get(pipeline_id, ())[after:])
        for offset, text in enumerate(tail):
            yield decode_stored(
                text, pipeline_id, after + 1 + offset, where="memory store", parse=from_json
            )

    def last_sequence(self, pipeline_id: str) -> int:
        with self._lock:
            return len(self._events.get(pipeline_id, ()))

    def save_snapshot(self, state: PipelineState) -> None:
        with self._lock:
            current = self._snapshots.get(state.pipeline_id)
            if current is None or current[0] <= state.sequence:
                self._snapshots[state.pipeline_id] = (state.sequence, snapshot_to_json(state))

    def latest_snapshot(self, pipeline_id: str) -> PipelineState | None:
        with self._lock:
            found = self._snapshots.get(pipeline_id)
        if found is None:
            return None
        return snapshot_from_json(found[1], pipeline_id=pipeline_id, sequence=found[0])

    def pipelines(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(sorted(p for p, log in self._events.items() if log))

    def _decode(self, pipeline_id: str, sequence: int) -> Event:
        return decode_stored(
            self._events[pipeline_id][sequence - 1],
            pipeline_id,
            sequence,
            where="memory store",
            parse=from_json,
        )


class OutboxNotifier(Notifier):
    """Pages kept in process memory, in the order sent: the local runtime's outbox (the demo
    prints it; `shipwave status` shows the recorded pages from the log). Never raises."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent: list[PersonPaged] = []

    def send(self, page: PersonPaged) -> None:
        with self._lock:
            self.sent.append(page)
