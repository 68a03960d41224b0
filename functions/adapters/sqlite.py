"""The embedded event log: one SQLite file in WAL mode, the default for local runs."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from domain.chain import Chained, links
from domain.errors import (
    ConcurrencyConflictError,
    EventStoreUnavailableError,
    InvalidAppendError,
)
from domain.events import Event, from_json
from domain.ports import (
    EventStore,
    chained_rows,
    decode_stored,
    earlier_result,
    predecessor_hash,
)
from domain.state import PipelineState

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    pipeline_id     TEXT    NOT NULL,
    sequence        INTEGER NOT NULL,
    idempotency_key TEXT    NOT NULL,
    type            TEXT    NOT NULL,
    at              TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    prev            TEXT    NOT NULL,
    hash            TEXT    NOT NULL,
    PRIMARY KEY (pipeline_id, sequence)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS events_by_key ON events (pipeline_id, idempotency_key);
CREATE TABLE IF NOT EXISTS snapshots (
    pipeline_id TEXT    NOT NULL,
    sequence    INTEGER NOT NULL,
    head        TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    PRIMARY KEY (pipeline_id, sequence)
) WITHOUT ROWID;
"""

_READ_CHUNK = 2000
# A bare MAX() over the primary key is a single index probe; wrapped in COALESCE it would not
# be, and every append would scan the pipeline's whole log.
_LAST_SEQUENCE = "SELECT MAX(sequence) FROM events WHERE pipeline_id = ?"
# The newest row, what the next append chains to: one probe of the primary key, backwards.
_NEWEST_ROW = (
    "SELECT sequence, prev, hash, body FROM events WHERE pipeline_id = ? "
    "ORDER BY sequence DESC LIMIT 1"
)
#: the columns each table must have (a file of an older shipwave lacks the chain's)
_COLUMNS = {
    "events": {"pipeline_id", "sequence", "idempotency_key", "type", "at", "body", "prev", "hash"},
    "snapshots": {"pipeline_id", "sequence", "head", "body"},
}


def _last(row: tuple[int | None] | None) -> int:
    return int(row[0]) if row is not None and row[0] is not None else 0


class SQLiteEventStore(EventStore):
    """An event log in one SQLite file, safe for several threads and processes.

    Each thread gets its own connection; appends run in `BEGIN IMMEDIATE` transactions so the
    sequence check and the insert are one step. Raises ConcurrencyConflictError,
    IdempotencyKeyConflictError, InvalidAppendError, MalformedEventError, SnapshotError, and
    EventStoreUnavailableError when the file cannot be opened or read.
    """

    def __init__(self, path: str | Path, *, create: bool = True, read_only: bool = False) -> None:
        """`read_only`: open the file as SQLite's read-only mode does (nothing is ever written:
        not a journal mode, not a snapshot; an append raises); a file that is not a shipwave
        event log stays as it was."""
        if create and read_only:
            raise ValueError("a read-only event log cannot be created")
        self.path = Path(path)
        self._create = create
        self._read_only = read_only
        self._where = f"sqlite {self.path}"
        self._idle: list[sqlite3.Connection] = []
        self._idle_lock = threading.Lock()
        #: writers of this process queue here rather than in SQLite's busy handler, which
        #: sleeps in steps of up to 100 ms; other processes still meet BEGIN IMMEDIATE
        self._write_lock = threading.Lock()
        self._schema_ready = False
        with self._connection():  # fail early on an unreadable file
            pass

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection of the pool for one operation. Pooled, not per thread: the local
        runtime's interpreter runs every task on a new thread, and opening a connection (and
        checking the schema) per task cost more than the append itself."""
        with self._idle_lock:
            connection = self._idle.pop() if self._idle else None
        if connection is None:
            connection = self._open()
        try:
            yield connection
        finally:
            if connection.in_transaction:  # a failed ROLLBACK: never lend it out again
                connection.close()
            else:
                with self._idle_lock:
                    self._idle.append(connection)

    def _open(self) -> sqlite3.Connection:
        try:
            found = self.path.is_file()
        except OSError as error:  # a name too long for the file system, a denied folder
            raise EventStoreUnavailableError(f"{self._where}: cannot open ({error})") from None
        if not self._create and not found:
            raise EventStoreUnavailableError(f"{self._where}: no such event log file")
        try:
            if self._create and not self._schema_ready:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            if self._read_only:
                connection = sqlite3.connect(
                    f"{self.path.resolve().as_uri()}?mode=ro",
                    uri=True,
                    timeout=30.0,
                    isolation_level=None,
                    check_same_thread=False,
                )
            else:
                connection = sqlite3.connect(
                    self.path, timeout=30.0, isolation_level=None, check_same_thread=False
                )
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
            if not self._schema_ready:
                if self._create:
                    connection.executescript(_SCHEMA)
                self._check_schema(connection)
        except (sqlite3.Error, OSError) as error:
            raise EventStoreUnavailableError(f"{self._where}: cannot open ({error})") from None
        except EventStoreUnavailableError:
            connection.close()
            raise
        self._schema_ready = True
        return connection

    def _check_schema(self, connection: sqlite3.Connection) -> None:
        tables = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if not set(_COLUMNS) <= tables:
            raise EventStoreUnavailableError(f"{self._where}: not a shipwave event log")
        for table, wanted in _COLUMNS.items():
            columns = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
            if not wanted <= columns:
                raise EventStoreUnavailableError(
                    f"{self._where}: an event log of an earlier shipwave, without the hash "
                    f"chain (its {table} table has no {', '.join(sorted(wanted - columns))}); "
                    "move it aside and start a new one"
                )

    def close(self) -> None:
        """Close the pooled connections; call it when nothing uses the store any more."""
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def append(self, events: Sequence[Event]) -> tuple[Event, ...]:
        batch, texts = self.validate(events)
        pipeline = batch[0].pipeline_id
        try:
            with self._write_lock, self._connection() as connection:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    result = self._append_locked(connection, batch, texts)
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
                connection.execute("COMMIT")
        except sqlite3.Error as error:
            raise EventStoreUnavailableError(
                f"{self._where}: append to pipeline {pipeline!r} failed ({error})"
            ) from None
        return result

    def _append_locked(
        self, connection: sqlite3.Connection, batch: tuple[Event, ...], texts: tuple[str, ...]
    ) -> tuple[Event, ...]:
        pipeline = batch[0].pipeline_id
        keys = [e.idempotency_key for e in batch]
        marks = ",".join("?" * len(keys))
        found = {
            key: (sequence, body)
            for key, sequence, body in connection.execute(
                # Without statistics the planner would walk the primary key (the whole
                # pipeline); the key index makes the retry check one probe per key.
                "SELECT idempotency_key, sequence, body FROM events INDEXED BY events_by_key "
                f"WHERE pipeline_id = ? AND idempotency_key IN ({marks})",
                (pipeline, *keys),
            )
        }
        stored = [
            decode_stored(found[k][1], pipeline, found[k][0], where=self._where, parse=from_json)
            if k in found
            else None
            for k in keys
        ]
        earlier = earlier_result(batch, stored)
        if earlier is not None:
            return earlier
        last, prev = predecessor_hash(
            pipeline, connection.execute(_NEWEST_ROW, (pipeline,)).fetchone(), where=self._where
        )
        first = batch[0].sequence
        if first <= last:
            raise ConcurrencyConflictError(pipeline, first)
        if first != last + 1:
            raise InvalidAppendError(
                f"pipeline {pipeline!r}: append at sequence {first} would leave a gap after {last}"
            )
        connection.executemany(
            "INSERT INTO events (pipeline_id, sequence, idempotency_key, type, at, body, prev, "
            "hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    pipeline,
                    e.sequence,
                    e.idempotency_key,
                    type(e).__name__,
                    e.at.isoformat(),
                    text,
                    before,
                    digest,
                )
                for e, text, (before, digest) in zip(batch, texts, links(prev, texts), strict=True)
            ],
        )
        return batch

    def read_chained(
        self, pipeline_id: str, after: int = 0, until: int | None = None
    ) -> Iterator[Chained]:
        return chained_rows(
            pipeline_id, after, self._rows(pipeline_id, after, until), where=self._where
        )

    def _rows(
        self, pipeline_id: str, start: int, until: int | None
    ) -> Iterator[tuple[int, object, object, str]]:
        """Rows from sequence `start` up to `until`, a chunk per query."""
        bound = (1 << 62) if until is None else until
        while True:
            rows = self._query(
                "SELECT sequence, prev, hash, body FROM events WHERE pipeline_id = ? "
                "AND sequence >= ? AND sequence <= ? ORDER BY sequence LIMIT ?",
                (pipeline_id, start, bound, _READ_CHUNK),
            )
            yield from rows
            if len(rows) < _READ_CHUNK:
                return
            start = rows[-1][0] + 1

    def last_sequence(self, pipeline_id: str) -> int:
        return _last(self._query(_LAST_SEQUENCE, (pipeline_id,))[0])

    def save_snapshot(self, state: PipelineState) -> None:
        if self._read_only:
            return  # a reader keeps no snapshot: the next writer saves one on its cadence
        super().save_snapshot(state)

    def _put_snapshot(self, pipeline_id: str, sequence: int, head: str, text: str) -> None:
        try:
            with self._write_lock, self._connection() as connection:
                connection.execute(
                    "INSERT OR REPLACE INTO snapshots (pipeline_id, sequence, head, body) "
                    "VALUES (?, ?, ?, ?)",
                    (pipeline_id, sequence, head, text),
                )
        except sqlite3.Error as error:
            raise EventStoreUnavailableError(
                f"{self._where}: saving a snapshot of {pipeline_id!r} failed ({error})"
            ) from None

    def _newest_snapshot(
        self, pipeline_id: str, *, at_or_before: int | None = None
    ) -> tuple[int, str | None, str] | None:
        bound = at_or_before if at_or_before is not None else 2**62
        rows = self._query(
            "SELECT sequence, head, body FROM snapshots WHERE pipeline_id = ? AND sequence <= ? "
            "ORDER BY sequence DESC LIMIT 1",
            (pipeline_id, bound),
        )
        if not rows:
            return None
        sequence, head, body = rows[0]
        return int(sequence), head if isinstance(head, str) else None, body

    def pipelines(self) -> tuple[str, ...]:
        rows = self._query("SELECT DISTINCT pipeline_id FROM events ORDER BY pipeline_id", ())
        return tuple(row[0] for row in rows)

    def _query(self, sql: str, parameters: tuple[object, ...]) -> list[Any]:
        try:
            with self._connection() as connection:
                return connection.execute(sql, parameters).fetchall()
        except sqlite3.Error as error:
            raise EventStoreUnavailableError(f"{self._where}: read failed ({error})") from None
