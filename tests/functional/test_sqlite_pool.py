"""The SQLite store lends pooled connections: short-lived threads do not each open one."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from adapters.sqlite import SQLiteEventStore
from domain.errors import EventStoreUnavailableError
from tests.builders import change_received


def test_one_thread_after_another_reuse_one_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLiteEventStore(tmp_path / "events.db")
    opened = 0
    real_open = store._open

    def counting_open() -> sqlite3.Connection:
        nonlocal opened
        opened += 1
        return real_open()

    monkeypatch.setattr(store, "_open", counting_open)

    # Given 30 threads that each append once, one after the other (as the interpreter's
    # tasks do)
    for n in range(1, 31):
        thread = threading.Thread(
            target=store.append, args=([change_received("orders-app", n, f"c{n}")],)
        )
        thread.start()
        thread.join()

    # Then every event is stored and no new connection was opened
    assert [e.sequence for e in store.read("orders-app")] == list(range(1, 31))
    assert opened == 0
    store.close()


def test_a_closed_store_opens_again_and_a_missing_file_is_still_refused(tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "events.db")
    store.append([change_received("orders-app", 1, "c1")])
    store.close()
    assert store.last_sequence("orders-app") == 1
    with pytest.raises(EventStoreUnavailableError, match="no such event log file"):
        SQLiteEventStore(tmp_path / "absent.db", create=False)
