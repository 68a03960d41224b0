"""The local outbox: the notifications a local run published, kept beside the event log's
SQLite file (`events.db-outbox`, table `notifications`), where `shipwave history` and the
dashboard read them. Its own file: its writes never hold the log's lock."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from domain.errors import EventStoreUnavailableError
from domain.notifications import Notification
from domain.ports import NotificationPublisher

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notifications (
    pipeline_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    detail_type TEXT NOT NULL,
    severity TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (pipeline_id, sequence)
)
"""


def outbox_path(log: Path) -> Path:
    """The outbox of the log at `log`: a sibling file, as SQLite's own -wal and -shm are."""
    return log.with_name(log.name + "-outbox")


@dataclass(frozen=True)
class Published:
    pipeline_id: str
    sequence: int
    detail_type: str
    severity: str
    summary: str
    at: str


class SQLiteOutbox(NotificationPublisher):
    """Publishing the same transition twice keeps it once (its id is its place in the log)."""

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self._read_only = read_only
        self._lock = threading.Lock()
        self._where = f"sqlite outbox {self.path}"
        try:
            if read_only:
                self._db = sqlite3.connect(
                    f"file:{self.path}?mode=ro", uri=True, check_same_thread=False
                )
            else:
                self._db = sqlite3.connect(self.path, check_same_thread=False)
                # a local copy of what was published, rebuilt by publishing again: no fsync
                # per notification (the feed runs between the local runtime's ticks)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=OFF")
                with self._db:
                    self._db.execute(_SCHEMA)
        except sqlite3.Error as error:
            raise EventStoreUnavailableError(f"{self._where}: {error}") from None

    def publish(self, note: Notification) -> None:
        if self._read_only:
            raise EventStoreUnavailableError(f"{self._where} is open read-only")
        detail = note.detail
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO notifications VALUES (?, ?, ?, ?, ?)",
                (
                    detail["pipeline_id"],
                    detail["sequence"],
                    note.detail_type,
                    note.severity,
                    json.dumps(detail, sort_keys=True),
                ),
            )

    def last_published(self, pipeline_id: str) -> int:
        rows = self._query(
            "SELECT max(sequence) FROM notifications WHERE pipeline_id = ?", (pipeline_id,)
        )
        return int(str(rows[0][0] or 0)) if rows else 0

    def published(self, pipeline_id: str, *, newest: int | None = None) -> list[Published]:
        """Oldest first; `newest`: only that many of the most recent."""
        query = (
            "SELECT pipeline_id, sequence, detail_type, severity, detail FROM notifications "
            "WHERE pipeline_id = ? ORDER BY sequence"
        )
        rows = self._query(query, (pipeline_id,))
        if newest is not None:
            rows = rows[-newest:]
        found = []
        for pipeline, sequence, detail_type, severity, text in rows:
            detail = json.loads(str(text))
            found.append(
                Published(
                    pipeline_id=str(pipeline),
                    sequence=int(str(sequence)),
                    detail_type=str(detail_type),
                    severity=str(severity),
                    summary=str(detail.get("summary", "")),
                    at=str(detail.get("at", "")),
                )
            )
        return found

    def _query(self, sql: str, values: tuple[object, ...]) -> list[tuple[object, ...]]:
        try:
            with self._lock:
                return list(self._db.execute(sql, values))
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return []  # a log no local run published from (written by another tool)
            raise EventStoreUnavailableError(f"{self._where}: {error}") from None

    def close(self) -> None:
        self._db.close()
