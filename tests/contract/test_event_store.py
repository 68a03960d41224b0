"""One contract for every EventStore: memory, SQLite, DynamoDB (moto in-process and server)."""

from __future__ import annotations

import dataclasses
import itertools
import sqlite3
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from adapters.dynamodb import DynamoDBEventStore
from adapters.memory import InMemoryEventStore
from adapters.sqlite import SQLiteEventStore
from domain.chain import ChainHead, genesis, link
from domain.errors import (
    ConcurrencyConflictError,
    IdempotencyKeyConflictError,
    InvalidAppendError,
    MalformedEventError,
    PipelineNotFoundError,
    SnapshotError,
    TamperedEventError,
)
from domain.events import ChangeReceived, Event, to_json
from domain.ports import MAX_EVENTS_PER_APPEND, EventStore
from domain.state import project
from service.pipeline_log import PipelineLog
from statemachines.local.moto_patches import isolate_dynamodb
from tests.builders import change_received, rollout

isolate_dynamodb()

_tables = itertools.count()


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(params=["memory", "sqlite", "dynamodb", "dynamodb-server"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    kind = request.param
    if kind == "memory":
        yield InMemoryEventStore()
    elif kind == "sqlite":
        sqlite_store = SQLiteEventStore(tmp_path / "events.db")
        yield sqlite_store
        sqlite_store.close()
    elif kind == "dynamodb":
        with mock_aws():
            dynamodb_store = DynamoDBEventStore(
                "events", client=boto3.client("dynamodb", region_name="us-east-1")
            )
            dynamodb_store.create_table()
            yield dynamodb_store
    else:
        endpoint = request.getfixturevalue("moto_server")
        server_store = DynamoDBEventStore(
            f"events-{next(_tables)}", region="us-east-1", endpoint_url=endpoint
        )
        server_store.create_table()
        yield server_store


def damage(
    store: EventStore, pipeline_id: str, sequence: int, stored_text: str, *, rechain: bool = True
) -> None:
    """Replace a stored event's body from outside the adapter, as a damaged disk, a faulty
    writer or a raw PutItem would: the adapters have no way to do it themselves.

    `rechain`: the row's own hash is recomputed for the new body (a writer that chained what it
    wrote, or a forger who knows the scheme); otherwise only the body changes."""
    if isinstance(store, InMemoryEventStore):
        with store._lock:
            row = next(r for r in store._events[pipeline_id] if r[0] == sequence)
            row[3] = stored_text
            if rechain:
                row[2] = link(row[1], stored_text)
    elif isinstance(store, SQLiteEventStore):
        with sqlite3.connect(store.path) as connection:
            (prev,) = connection.execute(
                "SELECT prev FROM events WHERE pipeline_id = ? AND sequence = ?",
                (pipeline_id, sequence),
            ).fetchone()
            connection.execute(
                "UPDATE events SET body = ?, hash = CASE WHEN ? THEN ? ELSE hash END "
                "WHERE pipeline_id = ? AND sequence = ?",
                (stored_text, rechain, link(prev, stored_text), pipeline_id, sequence),
            )
    else:
        assert isinstance(store, DynamoDBEventStore)
        key = {"pk": {"S": pipeline_id}, "sk": {"N": str(sequence)}}
        item = store._client.get_item(TableName=store.table_name, Key=key)["Item"]
        item["body"] = {"S": stored_text}
        if rechain:
            item["hash"] = {"S": link(item["prev"]["S"], stored_text)}
        store._client.put_item(TableName=store.table_name, Item=item)


def remove(store: EventStore, pipeline_id: str, sequence: int) -> None:
    """Delete a stored event from outside the adapter, as a raw DeleteItem would."""
    if isinstance(store, InMemoryEventStore):
        with store._lock:
            log = store._events[pipeline_id]
            log[:] = [row for row in log if row[0] != sequence]
    elif isinstance(store, SQLiteEventStore):
        with sqlite3.connect(store.path) as connection:
            connection.execute(
                "DELETE FROM events WHERE pipeline_id = ? AND sequence = ?",
                (pipeline_id, sequence),
            )
    else:
        assert isinstance(store, DynamoDBEventStore)
        store._client.delete_item(
            TableName=store.table_name,
            Key={"pk": {"S": pipeline_id}, "sk": {"N": str(sequence)}},
        )


def history(pipeline: str = "orders-app") -> list[Event]:
    return [change_received(pipeline, 1, "c1"), *rollout(pipeline, 2, "c1", "alpha", "us-east-1")]


# --- ordering ------------------------------------------------------------------------------


def test_events_read_back_in_order_and_equal(store: EventStore) -> None:
    # Given a history appended in three batches
    events = history()
    store.append(events[:1])
    store.append(events[1:4])
    store.append(events[4:])

    # When it is read back
    read = list(store.read("orders-app"))

    # Then every event comes back equal, in sequence order
    assert read == events
    assert store.last_sequence("orders-app") == len(events)
    assert list(store.read("orders-app", after=7)) == events[7:]


def test_pipelines_are_listed_and_kept_apart(store: EventStore) -> None:
    store.append(history("orders-app"))
    store.append(history("billing-infra")[:2])

    assert store.pipelines() == ("billing-infra", "orders-app")
    assert store.last_sequence("billing-infra") == 2
    assert store.last_sequence("nobody") == 0
    assert list(store.read("nobody")) == []


# --- conflicts -----------------------------------------------------------------------------


def test_taken_sequence_is_a_conflict_and_writes_nothing(store: EventStore) -> None:
    events = history()
    store.append(events[:3])
    rival = change_received("orders-app", 3, "c2")

    with pytest.raises(ConcurrencyConflictError) as raised:
        store.append([rival])

    assert raised.value.sequence == 3
    assert list(store.read("orders-app")) == events[:3]


def test_append_leaving_a_gap_is_refused(store: EventStore) -> None:
    store.append(history()[:2])

    with pytest.raises(InvalidAppendError, match="gap"):
        store.append([change_received("orders-app", 5, "c9")])

    assert store.last_sequence("orders-app") == 2


def test_concurrent_writers_lose_and_duplicate_nothing(store: EventStore) -> None:
    # Given 8 writers that each append 10 events, retrying on conflict
    writers, per_writer = 8, 10
    conflicts = [0] * writers

    def write(writer: int) -> None:
        for n in range(per_writer):
            while True:
                sequence = store.last_sequence("orders-app") + 1
                event = change_received("orders-app", sequence, f"w{writer}-{n}")
                try:
                    store.append([event])
                    break
                except ConcurrencyConflictError:
                    conflicts[writer] += 1

    # When they run at once
    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then every event is stored exactly once, with contiguous sequences
    read = list(store.read("orders-app"))
    assert [e.sequence for e in read] == list(range(1, writers * per_writer + 1))
    keys = [e.idempotency_key for e in read]
    assert sorted(keys) == sorted(
        f"w{w}-{n}:received" for w in range(writers) for n in range(per_writer)
    )


# --- idempotency ---------------------------------------------------------------------------


def test_retried_append_returns_the_earlier_result_and_writes_nothing(store: EventStore) -> None:
    events = history()
    first = store.append(events[:3])

    # A retried Lambda rebuilds the same events a little later
    retry = [dataclasses.replace(e, at=e.at + timedelta(seconds=30)) for e in events[:3]]
    again = store.append(retry)

    assert again == first
    assert store.last_sequence("orders-app") == 3


def test_retry_after_another_writer_moved_on_still_finds_the_earlier_result(
    store: EventStore,
) -> None:
    events = history()
    store.append(events[:2])
    store.append(events[2:4])

    # The retry was built when the log ended at 2; the same keys now sit at 3 and 4
    retry = [dataclasses.replace(e, sequence=e.sequence + 2) for e in events[2:4]]
    again = store.append(retry)

    assert [e.sequence for e in again] == [3, 4]
    assert store.last_sequence("orders-app") == 4


def test_key_reused_for_a_different_event_is_refused(store: EventStore) -> None:
    store.append([change_received("orders-app", 1, "c1", key="merge-1")])

    other = change_received("orders-app", 2, "c2", key="merge-1")
    with pytest.raises(IdempotencyKeyConflictError, match="merge-1"):
        store.append([other])

    assert store.last_sequence("orders-app") == 1


# --- atomic batches --------------------------------------------------------------------------


def test_batch_is_all_or_nothing(store: EventStore) -> None:
    # Given a stored event whose key the last event of a new batch reuses
    store.append([change_received("orders-app", 1, "c1", key="k-used")])
    batch = [
        change_received("orders-app", 2, "c2", key="k-2"),
        change_received("orders-app", 3, "c3", key="k-3"),
        change_received("orders-app", 4, "c4", key="k-used"),
    ]

    # When the batch is appended, it fails as a whole
    with pytest.raises(IdempotencyKeyConflictError):
        store.append(batch)

    # Then none of it was written, and the log goes on from 1
    assert store.last_sequence("orders-app") == 1
    store.append([change_received("orders-app", 2, "c2", key="k-2")])
    assert store.last_sequence("orders-app") == 2


def test_largest_batch_is_accepted_and_a_larger_one_refused(store: EventStore) -> None:
    batch = [change_received("orders-app", n, f"c{n}") for n in range(1, MAX_EVENTS_PER_APPEND + 1)]
    store.append(batch)
    assert store.last_sequence("orders-app") == MAX_EVENTS_PER_APPEND

    too_many = [
        change_received("orders-app", n, f"d{n}")
        for n in range(MAX_EVENTS_PER_APPEND + 1, 2 * MAX_EVENTS_PER_APPEND + 2)
    ]
    with pytest.raises(InvalidAppendError, match=f"at most {MAX_EVENTS_PER_APPEND}"):
        store.append(too_many)
    assert store.last_sequence("orders-app") == MAX_EVENTS_PER_APPEND


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ([], "at least one event"),
        (
            [change_received("orders-app", 1, "c1"), change_received("orders-app", 3, "c3")],
            "contiguous",
        ),
        (
            [change_received("orders-app", 1, "c1"), change_received("billing", 2, "c2")],
            "one pipeline",
        ),
        ([change_received("orders app!", 1, "c1")], "pipeline id"),
        (
            [
                change_received("orders-app", 1, "c1", key="k"),
                change_received("orders-app", 2, "c2", key="k"),
            ],
            "twice",
        ),
        # 450 KB: the memory and SQLite stores would keep it, DynamoDB could not
        ([change_received("orders-app", 1, "c1", message="x" * 450_000)], "more than 350,000"),
        ([change_received("orders-app", 1, "c1", key="k" * 513)], "more than 512"),
    ],
)
def test_malformed_appends_are_refused(store: EventStore, batch: list[Event], message: str) -> None:
    with pytest.raises(InvalidAppendError, match=message):
        store.append(batch)
    assert store.pipelines() == ()


# --- pagination ------------------------------------------------------------------------------


def test_reads_page_beyond_one_megabyte(store: EventStore) -> None:
    # Given about 1.5 MB of events (DynamoDB returns at most 1 MB per query page)
    message = "x" * 6000
    total = 250
    for first in range(1, total + 1, MAX_EVENTS_PER_APPEND):
        last = min(first + MAX_EVENTS_PER_APPEND, total + 1)
        store.append(
            [change_received("orders-app", n, f"c{n}", message=message) for n in range(first, last)]
        )
    assert sum(len(to_json(e)) for e in store.read("orders-app")) > 1_400_000

    # Then every event is read, in order
    assert [e.sequence for e in store.read("orders-app")] == list(range(1, total + 1))


# --- snapshots -------------------------------------------------------------------------------


def test_snapshot_plus_tail_equals_full_replay(store: EventStore) -> None:
    events = [*history(), *rollout("orders-app", 11, "c2", "beta", "eu-west-1")]
    store.append(events)
    assert store.latest_snapshot("orders-app") is None

    store.save_snapshot(project(events[:4]))
    store.save_snapshot(project(events[:7]))

    snapshot = store.latest_snapshot("orders-app")
    assert snapshot is not None
    assert snapshot.sequence == 7
    assert snapshot == project(events[:7])
    tail = list(store.read("orders-app", after=snapshot.sequence))
    assert project(tail, snapshot) == project(events)


def test_the_state_at_a_time_starts_from_a_snapshot_before_it_and_equals_the_replay(
    store: EventStore,
) -> None:
    written = [*history(), *rollout("orders-app", 11, "c2", "beta", "eu-west-1")]
    start = written[0].at
    # a log's events are appended in time order: a minute apart here
    events = [dataclasses.replace(e, at=start + timedelta(minutes=e.sequence)) for e in written]
    store.append(events)
    store.save_snapshot(project(events[:4]))
    store.save_snapshot(project(events[:7]))
    log = PipelineLog(store)

    for index, event in enumerate(events):
        assert log.state_at("orders-app", event.at) == project(events[: index + 1]), index
        between = event.at + timedelta(seconds=30)
        assert log.state_at("orders-app", between) == project(events[: index + 1]), index
    found = store.snapshot_at_or_before("orders-app", 6)
    if found is not None:  # the memory store keeps only the newest snapshot
        assert found.sequence == 4
    assert store.snapshot_at_or_before("orders-app", 3) is None
    with pytest.raises(PipelineNotFoundError, match="no events at or before"):
        log.state_at("orders-app", events[0].at - timedelta(seconds=1))


# --- damaged storage ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored_text", "message"),
    [
        ("{not json", "not valid JSON"),
        (
            '{"type": "ChangeTeleported", "pipeline_id": "orders-app", "sequence": 2}',
            "unknown event type 'ChangeTeleported'",
        ),
        ('{"type": "ChangeReceived", "pipeline_id": "orders-app", "sequence": 2}', "missing"),
    ],
)
def test_malformed_stored_item_is_reported_with_its_place_not_skipped(
    store: EventStore, stored_text: str, message: str
) -> None:
    store.append(history()[:4])
    damage(store, "orders-app", 2, stored_text)

    read: list[Event] = []
    with pytest.raises(MalformedEventError, match=message) as raised:
        read.extend(store.read("orders-app"))

    assert "'orders-app' sequence 2" in str(raised.value)
    assert [e.sequence for e in read] == [1]


def test_item_claiming_another_place_is_reported(store: EventStore) -> None:
    events = history()[:3]
    store.append(events)
    misplaced = dataclasses.replace(events[0], sequence=9)
    assert isinstance(misplaced, ChangeReceived)
    damage(store, "orders-app", 2, to_json(misplaced))

    with pytest.raises(MalformedEventError, match="holds pipeline 'orders-app' sequence 9"):
        list(store.read("orders-app"))


# --- the hash chain ----------------------------------------------------------------------------


def test_every_event_chains_to_the_one_before_it_from_the_pipelines_genesis(
    store: EventStore,
) -> None:
    events = history()
    store.append(events[:4])
    store.append(events[4:])

    chained = list(store.read_chained("orders-app"))

    prev = genesis("orders-app")
    for item, event in zip(chained, events, strict=True):
        assert item.event == event
        assert item.hash == link(prev, to_json(event))
        prev = item.hash
    assert store.head("orders-app") == ChainHead(len(events), prev)
    assert store.hash_at("orders-app", 3) == chained[2].hash
    assert store.hash_at("orders-app", 99) is None
    assert store.head("nobody") == ChainHead(0, genesis("nobody"))
    assert [c.hash for c in store.read_chained("orders-app", after=2, until=5)] == [
        c.hash for c in chained[2:5]
    ]


def test_an_event_edited_in_place_breaks_the_chain_where_it_was_edited(store: EventStore) -> None:
    events = history()
    store.append(events)
    forged = dataclasses.replace(events[2], at=events[2].at + timedelta(hours=1))
    damage(store, "orders-app", 3, to_json(forged), rechain=False)

    read: list[Event] = []
    with pytest.raises(TamperedEventError, match="does not hash to the hash stored") as raised:
        read.extend(store.read("orders-app"))

    assert (raised.value.pipeline_id, raised.value.sequence) == ("orders-app", 3)
    assert "pipeline 'orders-app' sequence 3" in str(raised.value)
    assert read == events[:2]  # what precedes the break is still read
    with pytest.raises(TamperedEventError):
        list(store.read("orders-app", after=3))  # a read from it checks it too


def test_an_event_edited_with_its_hash_recomputed_breaks_the_next_link(store: EventStore) -> None:
    events = history()
    store.append(events)
    forged = dataclasses.replace(events[2], at=events[2].at + timedelta(hours=1))
    damage(store, "orders-app", 3, to_json(forged), rechain=True)

    with pytest.raises(TamperedEventError, match="but event 3 hashes to") as raised:
        list(store.read("orders-app"))

    assert raised.value.sequence == 4


def test_a_removed_event_is_reported_where_it_is_missing(store: EventStore) -> None:
    store.append(history())
    remove(store, "orders-app", 4)

    with pytest.raises(TamperedEventError, match="sequence 4 is missing") as raised:
        list(store.read("orders-app"))
    assert raised.value.sequence == 4
    with pytest.raises(TamperedEventError, match="sequence 4 is missing"):
        list(store.read("orders-app", after=4))


def test_removing_the_newest_events_is_caught_by_the_snapshot_that_covered_them(
    store: EventStore,
) -> None:
    events = history()
    store.append(events)
    store.save_snapshot(project(events))
    remove(store, "orders-app", len(events))

    with pytest.raises(TamperedEventError, match=f"events {len(events)} to {len(events)} were"):
        store.latest_snapshot("orders-app")


def test_a_snapshot_keeps_the_chain_head_it_covers_and_one_that_disagrees_is_refused(
    store: EventStore,
) -> None:
    events = history()
    store.append(events)
    store.save_snapshot(project(events[:5]))
    assert store.latest_snapshot("orders-app") == project(events[:5])

    forged = dataclasses.replace(events[4], at=events[4].at + timedelta(hours=1))
    damage(store, "orders-app", 5, to_json(forged), rechain=True)  # the whole tail would match

    with pytest.raises(SnapshotError, match="at sequence 5 records chain head"):
        store.latest_snapshot("orders-app")
    with pytest.raises(SnapshotError, match="the log holds no such event"):
        store.save_snapshot(dataclasses.replace(project(events), sequence=len(events) + 5))


def test_nothing_is_chained_onto_an_edited_event(store: EventStore) -> None:
    events = history()
    store.append(events[:5])
    forged = dataclasses.replace(events[4], at=events[4].at + timedelta(hours=1))
    damage(store, "orders-app", 5, to_json(forged), rechain=False)

    with pytest.raises(TamperedEventError, match="sequence 5 does not hash"):
        store.append(events[5:])

    assert store.last_sequence("orders-app") == 5
