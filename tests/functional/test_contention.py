"""Sixteen writers on one pipeline, each its own PipelineLog over one store (as sixteen Lambda
invocations are), each recording its own changes: with backoff and jitter none gives up, and
every change is recorded exactly once. bench/contention.py runs 1,000 appends per writer."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from adapters.memory import InMemoryEventStore
from adapters.sqlite import SQLiteEventStore
from domain.ports import EventStore
from service.pipeline_log import PipelineLog
from tests.builders import T0
from tests.unit.test_pipeline_log import receive

PIPELINE = "orders-app"


def contend(store: EventStore, writers: int, appends: int) -> tuple[int, list[str]]:
    """Run the writers at once: (conflicts retried, errors of writers that gave up)."""
    logs = [PipelineLog(store) for _ in range(writers)]
    errors: list[str] = []

    def write(writer: int) -> None:
        try:
            for n in range(appends):
                logs[writer].record(PIPELINE, T0, receive(f"w{writer}-{n}"))
        except Exception as error:  # a writer that gave up: counted, not raised in the thread
            errors.append(f"writer {writer}: {type(error).__name__}: {error}")

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(log.conflicts for log in logs), errors


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_sixteen_writers_on_one_pipeline_all_complete(kind: str, tmp_path: Path) -> None:
    store: EventStore = (
        InMemoryEventStore() if kind == "memory" else SQLiteEventStore(tmp_path / "events.db")
    )
    writers, appends = 16, 60
    conflicts, errors = contend(store, writers, appends)
    assert errors == []
    read = list(store.read(PIPELINE))
    assert [e.sequence for e in read] == list(range(1, writers * appends + 1))
    assert sorted(e.idempotency_key for e in read) == sorted(
        f"w{w}-{n}:received" for w in range(writers) for n in range(appends)
    )
    assert conflicts > 0  # they did collide, and backed off
