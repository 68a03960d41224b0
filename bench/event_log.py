"""Event-log benchmarks; prints its figures.

    .venv/bin/python bench/event_log.py                 # all three, full size
    .venv/bin/python bench/event_log.py --events 100000 # a smaller SQLite log

1. Fold throughput on a realistic mixed stream (target >= 200,000 events/s).
2. Time to current state of a pipeline with 1,000,000 events in SQLite: snapshot + tail
   (target <= 50 ms) vs full replay. The SQLite file is kept in bench/out/ and reused.
3. Appends with 8 concurrent writers on one pipeline, per store: appends/s, conflicts
   retried, and a final count showing lost and duplicated events.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import boto3
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from adapters.dynamodb import DynamoDBEventStore
from adapters.memory import InMemoryEventStore
from adapters.sqlite import SQLiteEventStore
from domain.errors import EventStoreUnavailableError, StaleSnapshotError
from domain.events import ChangeReceived, Commit, Event, Stamper
from domain.ports import MAX_EVENTS_PER_APPEND
from domain.state import PipelineState, project
from service.pipeline_log import DEFAULT_SNAPSHOT_EVERY, PipelineLog
from service.verify import verify
from statemachines.local.moto_patches import isolate_dynamodb
from workload import T0, stream

OUT = Path(__file__).resolve().parent / "out"
PIPELINE = "orders-service-app"


def bench_fold(count: int, rounds: int) -> None:
    events = list(stream(PIPELINE, count))
    kinds = len({type(e) for e in events})
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        project(events)
        rates.append(count / (time.perf_counter() - start))
    print(
        f"[fold] {count:,} events of {kinds} types, {rounds} rounds: "
        f"median {statistics.median(rates):,.0f} events/s, best {max(rates):,.0f} events/s "
        f"(target >= 200,000)"
    )


def _build_log(path: Path, count: int) -> None:
    """Append `count` events in batches through the store, snapshotting as PipelineLog does,
    but leaving the last 1,000 events without a snapshot: the worst-case tail."""
    store = SQLiteEventStore(path)
    state = PipelineState(pipeline_id=PIPELINE)
    batch: list[Event] = []
    start = time.perf_counter()
    last_snapshot_limit = count - DEFAULT_SNAPSHOT_EVERY + MAX_EVENTS_PER_APPEND
    for event in stream(PIPELINE, count):
        batch.append(event)
        if len(batch) == MAX_EVENTS_PER_APPEND:
            before = state.sequence
            store.append(batch)
            state = project(batch, state)
            batch = []
            crossed = state.sequence // DEFAULT_SNAPSHOT_EVERY > before // DEFAULT_SNAPSHOT_EVERY
            if crossed and state.sequence <= last_snapshot_limit:
                store.save_snapshot(state)
    if batch:
        store.append(batch)
    elapsed = time.perf_counter() - start
    print(
        f"[sqlite] wrote {count:,} events in {elapsed:.1f} s "
        f"({count / elapsed:,.0f} events/s in batches of {MAX_EVENTS_PER_APPEND})"
    )
    store.close()


def _reusable(path: Path, count: int) -> bool:
    """A log built by an earlier run, with all its events and a snapshot this fold reads."""
    if not path.exists():
        return False
    try:
        store = SQLiteEventStore(path, create=False)
    except EventStoreUnavailableError:  # made by an earlier shipwave (no hash chain)
        return False
    try:
        return (
            store.last_sequence(PIPELINE) == count and store.latest_snapshot(PIPELINE) is not None
        )
    except StaleSnapshotError:  # made by another fold version: build it again
        return False
    finally:
        store.close()


def bench_time_to_state(count: int, rounds: int) -> None:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"events-{count}.db"
    if not _reusable(path, count):
        path.unlink(missing_ok=True)
        _build_log(path, count)
    size_mb = path.stat().st_size / 1e6
    snapshot = SQLiteEventStore(path, create=False).latest_snapshot(PIPELINE)
    assert snapshot is not None
    timings = []
    for _ in range(rounds):
        start = time.perf_counter()
        store = SQLiteEventStore(path, create=False)  # a cold reader: new connection, no cache
        state = PipelineLog(store).state(PIPELINE)
        timings.append((time.perf_counter() - start) * 1000)
        store.close()
    assert state.sequence == count
    start = time.perf_counter()
    replayed = project(SQLiteEventStore(path, create=False).read(PIPELINE))
    full = time.perf_counter() - start
    assert replayed == state, "snapshot + tail differs from full replay"
    print(
        f"[sqlite] {count:,} events ({size_mb:,.0f} MB), snapshot at {snapshot.sequence:,}, "
        f"tail {count - snapshot.sequence:,} events"
    )
    later = sorted(timings[1:])
    print(
        f"[sqlite] time to current state with snapshots (new connection, no cache): first in "
        f"the process {timings[0]:.1f} ms (builds the decoders once), then median "
        f"{statistics.median(later):.1f} ms, max {later[-1]:.1f} ms over {len(later)} reads "
        f"(target <= 50 ms)"
    )
    print(
        f"[sqlite] time to current state by full replay: {full:.1f} s "
        f"({count / full:,.0f} events/s read + chain-checked + decoded + folded); states "
        "equal: yes"
    )
    start = time.perf_counter()
    verdict = verify(SQLiteEventStore(path, create=False, read_only=True), PIPELINE)
    checked = time.perf_counter() - start
    assert verdict.intact, verdict.problems
    print(
        f"[sqlite] shipwave verify of the whole log: {checked:.1f} s "
        f"({verdict.checked / checked:,.0f} links/s), intact, head {verdict.head}"
    )


def _writers(name: str, logs: list[PipelineLog], per_writer: int) -> None:
    def write(writer: int, log: PipelineLog) -> None:
        for n in range(per_writer):
            change = f"w{writer}-{n}"

            def decide(_: PipelineState, stamp: Stamper, change: str = change) -> list[Event]:
                return [
                    stamp(
                        ChangeReceived,
                        f"{change}:received",
                        change_id=change,
                        source="github",
                        repository="acme/orders",
                        branch="main",
                        commits=(Commit(commit_id=change, author="dev"),),
                    )
                ]

            log.record(PIPELINE, T0, decide)

    threads = [threading.Thread(target=write, args=(w, log)) for w, log in enumerate(logs)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    expected = len(logs) * per_writer
    events = list(logs[0].store.read(PIPELINE))
    keys = [e.idempotency_key for e in events]
    unique = set(keys)
    contiguous = [e.sequence for e in events] == list(range(1, len(events) + 1))
    wanted = {f"w{w}-{n}:received" for w in range(len(logs)) for n in range(per_writer)}
    print(
        f"[writers:{name}] {len(logs)} writers x {per_writer} appends: "
        f"{expected / elapsed:,.0f} appends/s, {sum(log.conflicts for log in logs)} conflicts "
        f"retried; stored {len(events)}, lost {len(wanted - unique)}, duplicated "
        f"{len(keys) - len(unique)}, contiguous {'yes' if contiguous else 'NO'}"
    )


def bench_writers(writers: int, per_writer: int, dynamodb_per_writer: int) -> None:
    memory = InMemoryEventStore()
    _writers("memory", [PipelineLog(memory) for _ in range(writers)], per_writer)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.db"
        # one store object per writer: separate connections, as separate processes would have
        _writers(
            "sqlite", [PipelineLog(SQLiteEventStore(path)) for _ in range(writers)], per_writer
        )
    isolate_dynamodb()
    with mock_aws():
        make: Callable[[], DynamoDBEventStore] = lambda: DynamoDBEventStore(  # noqa: E731
            "events", client=boto3.client("dynamodb", region_name="us-east-1")
        )
        make().create_table()
        _writers(
            "dynamodb (moto)", [PipelineLog(make()) for _ in range(writers)], dynamodb_per_writer
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fold-events", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--appends", type=int, default=100, help="per writer (memory, SQLite)")
    parser.add_argument("--dynamodb-appends", type=int, default=20, help="per writer (moto)")
    args = parser.parse_args()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "testing")
    bench_fold(args.fold_events, 5)
    bench_time_to_state(args.events, args.rounds)
    bench_writers(args.writers, args.appends, args.dynamodb_appends)


if __name__ == "__main__":
    main()
