"""An event store in process memory: for unit tests and single-process simulations.

Events are kept encoded, as every other store keeps them, so the memory store exercises the
same encoding and fails the same way on a malformed item.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from domain.chain import Chained, links
from domain.errors import ConcurrencyConflictError, InvalidAppendError
from domain.events import Event, PersonPaged, from_json
from domain.notifications import Notification
from domain.ports import (
    EventStore,
    NotificationPublisher,
    Notifier,
    chained_rows,
    decode_stored,
    earlier_result,
    predecessor_hash,
)


class InMemoryEventStore(EventStore):
    """Thread-safe; raises ConcurrencyConflictError, IdempotencyKeyConflictError,
    InvalidAppendError, MalformedEventError and TamperedEventError like every other store.

    Each pipeline's log is a list of rows (sequence, prev, hash, JSON), as the other stores
    keep them."""

    _where = "memory store"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, list[list[Any]]] = {}
        self._keys: dict[tuple[str, str], list[Any]] = {}
        self._snapshots: dict[str, tuple[int, str, str]] = {}

    def append(self, events: Sequence[Event]) -> tuple[Event, ...]:
        batch, texts = self.validate(events)
        pipeline = batch[0].pipeline_id
        with self._lock:
            log = self._events.setdefault(pipeline, [])
            stored = []
            for event in batch:
                row = self._keys.get((pipeline, event.idempotency_key))
                stored.append(None if row is None else self._decode(pipeline, row))
            earlier = earlier_result(batch, stored)
            if earlier is not None:
                return earlier
            last, prev = predecessor_hash(
                pipeline, tuple(log[-1]) if log else None, where=self._where
            )
            first = batch[0].sequence
            if first <= last:
                raise ConcurrencyConflictError(pipeline, first)
            if first != last + 1:
                raise InvalidAppendError(
                    f"pipeline {pipeline!r}: append at sequence {first} would leave a gap "
                    f"after {last}"
                )
            for event, text, (before, digest) in zip(batch, texts, links(prev, texts), strict=True):
                row = [event.sequence, before, digest, text]
                log.append(row)
                self._keys[(pipeline, event.idempotency_key)] = row
            return batch

    def read_chained(
        self, pipeline_id: str, after: int = 0, until: int | None = None
    ) -> Iterator[Chained]:
        with self._lock:
            log = self._events.get(pipeline_id, [])
            start = bisect.bisect_left(log, after, key=_sequence)
            end = len(log) if until is None else bisect.bisect_right(log, until, key=_sequence)
            rows = [tuple(row) for row in log[start:end]]
        yield from chained_rows(pipeline_id, after, rows, where=self._where)

    def last_sequence(self, pipeline_id: str) -> int:
        with self._lock:
            log = self._events.get(pipeline_id)
            return int(log[-1][0]) if log else 0

    def _put_snapshot(self, pipeline_id: str, sequence: int, head: str, text: str) -> None:
        with self._lock:
            current = self._snapshots.get(pipeline_id)
            if current is None or current[0] <= sequence:
                self._snapshots[pipeline_id] = (sequence, head, text)

    def _newest_snapshot(
        self, pipeline_id: str, *, at_or_before: int | None = None
    ) -> tuple[int, str | None, str] | None:
        """Only the newest is kept: an earlier bound finds none (the fold replays)."""
        with self._lock:
            found = self._snapshots.get(pipeline_id)
        if found is not None and at_or_before is not None and found[0] > at_or_before:
            return None
        return found

    def pipelines(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(sorted(p for p, log in self._events.items() if log))

    def _decode(self, pipeline_id: str, row: list[Any]) -> Event:
        return decode_stored(row[3], pipeline_id, row[0], where=self._where, parse=from_json)


def _sequence(row: list[Any]) -> int:
    return int(row[0])


class OutboxNotifier(Notifier):
    """Pages kept in process memory, in the order sent: the local runtime's outbox (the demo
    prints it; `shipwave status` shows the recorded pages from the log). Never raises."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent: list[PersonPaged] = []

    def send(self, page: PersonPaged) -> None:
        with self._lock:
            self.sent.append(page)


class MemoryNotifications(NotificationPublisher):
    """Notifications kept in process memory, in the order published; the same id twice is
    kept once (delivery is at least once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.published: dict[str, Notification] = {}

    def publish(self, note: Notification) -> None:
        with self._lock:
            self.published.setdefault(note.id, note)
