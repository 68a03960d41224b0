"""The event log on DynamoDB: the store the deployed controller uses.

Table layout (pk: string, sk: number):

- event:        pk = pipeline id,                 sk = sequence; body = the event's JSON,
                prev / hash = the chain hash of the event before it and its own
                (`domain.chain`). The first event of a pipeline also carries gsi1pk/gsi1sk,
                so the sparse index `pipelines` lists every pipeline without a scan.
- idempotency:  pk = "<pipeline>#key#<key>",       sk = 0; seq = the event's sequence.
- snapshot:     pk = "<pipeline>#snapshot",        sk = sequence covered; body = zlib JSON,
                head = the chain hash of the event it covers up to.

An append reads the predecessor (consistently) for its hash, then is one TransactWriteItems:
per event a conditional put of the event (the sequence must be free) and of its idempotency
marker (the key must be unused), plus a condition check that the predecessor still holds that
hash, so a batch is all-or-nothing, no two writers take one sequence, no gap can open, and
the chain links to what is stored. Events are never updated or deleted.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from domain.chain import Chained, check_row, genesis, links
from domain.errors import (
    ConcurrencyConflictError,
    EventStoreUnavailableError,
    InvalidAppendError,
    SnapshotError,
    TamperedEventError,
)
from domain.events import Event, from_json
from domain.ports import (
    EventStore,
    chained_rows,
    decode_stored,
    earlier_result,
    predecessor_hash,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

PIPELINES_INDEX = "pipelines"
_PIPELINES_PARTITION = "pipeline"
#: A DynamoDB item holds at most 400 KB; a compressed snapshot must stay well below.
MAX_SNAPSHOT_BYTES = 350_000
#: the partition of a pipeline's snapshots: `<pipeline id>#snapshot` (its events: `<pipeline id>`)
SNAPSHOT_SUFFIX = "#snapshot"


class DynamoDBEventStore(EventStore):
    """Event log on a DynamoDB table; the boto3 client can be injected.

    Raises ConcurrencyConflictError (sequence taken, or a concurrent transaction on the same
    items), IdempotencyKeyConflictError, InvalidAppendError (a gap), MalformedEventError,
    SnapshotError, and EventStoreUnavailableError for every other AWS or connection error.
    """

    def __init__(
        self,
        table_name: str,
        *,
        client: DynamoDBClient | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        self.table_name = table_name
        self._client: DynamoDBClient = client or boto3.client(
            "dynamodb", region_name=region, endpoint_url=endpoint_url
        )
        self._where = f"dynamodb table {table_name}"

    # --- table management (the CDK app owns the table in AWS; local runs create it here) ---

    def create_table(self) -> None:
        """Create the table with the layout above, if it does not exist yet."""
        try:
            self._client.create_table(
                TableName=self.table_name,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "N"},
                    {"AttributeName": "gsi1pk", "AttributeType": "S"},
                    {"AttributeName": "gsi1sk", "AttributeType": "S"},
                ],
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": PIPELINES_INDEX,
                        "KeySchema": [
                            {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                            {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "KEYS_ONLY"},
                    }
                ],
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
            )
        except ClientError as error:
            if _code(error) != "ResourceInUseException":
                raise self._unavailable("create table", error) from None

    # --- appends ------------------------------------------------------------------------------

    def append(self, events: Sequence[Event]) -> tuple[Event, ...]:
        batch, texts = self.validate(events)
        pipeline = batch[0].pipeline_id
        first = batch[0].sequence
        prev = genesis(pipeline)
        if first > 1:
            before = self._get(pipeline, first - 1)
            if before is None:
                earlier = earlier_result(batch, [self._by_key(pipeline, e) for e in batch])
                if earlier is not None:
                    return earlier
                raise self._gap(batch)
            _, prev = predecessor_hash(pipeline, self._row(first - 1, before), where=self._where)
        items: list[TransactWriteItemTypeDef] = []
        for event, text, (linked, digest) in zip(batch, texts, links(prev, texts), strict=True):
            item: dict[str, Any] = {
                "pk": {"S": pipeline},
                "sk": {"N": str(event.sequence)},
                "type": {"S": type(event).__name__},
                "at": {"S": event.at.isoformat()},
                "key": {"S": event.idempotency_key},
                "body": {"S": text},
                "prev": {"S": linked},
                "hash": {"S": digest},
            }
            if event.sequence == 1:
                item["gsi1pk"] = {"S": _PIPELINES_PARTITION}
                item["gsi1sk"] = {"S": pipeline}
            items.append(
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": item,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
            items.append(
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": {
                            "pk": {"S": _marker_pk(pipeline, event.idempotency_key)},
                            "sk": {"N": "0"},
                            "seq": {"N": str(event.sequence)},
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        if first > 1:
            items.append(
                {
                    "ConditionCheck": {
                        "TableName": self.table_name,
                        "Key": {"pk": {"S": pipeline}, "sk": {"N": str(first - 1)}},
                        "ConditionExpression": "#hash = :hash",
                        "ExpressionAttributeNames": {"#hash": "hash"},
                        "ExpressionAttributeValues": {":hash": {"S": prev}},
                    }
                }
            )
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if _code(error) != "TransactionCanceledException":
                raise self._unavailable(f"append to {pipeline!r}", error) from None
            return self._after_cancel(batch, error)
        except BotoCoreError as error:
            raise self._unavailable(f"append to {pipeline!r}", error) from None
        return batch

    def _after_cancel(self, batch: tuple[Event, ...], error: ClientError) -> tuple[Event, ...]:
        """Work out why a transaction was cancelled and answer as the port promises."""
        pipeline = batch[0].pipeline_id
        reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]
        if not reasons:
            raise self._unavailable(f"append to {pipeline!r}", error)
        marker_failed = any(
            code == "ConditionalCheckFailed" for code in reasons[1 : 2 * len(batch) : 2]
        )
        if marker_failed:
            earlier = earlier_result(batch, [self._by_key(pipeline, e) for e in batch])
            if earlier is not None:
                return earlier
        event_failed = any(
            code == "ConditionalCheckFailed" for code in reasons[0 : 2 * len(batch) : 2]
        )
        if event_failed or "TransactionConflict" in reasons:
            raise ConcurrencyConflictError(pipeline, batch[0].sequence)
        if len(reasons) > 2 * len(batch) and reasons[-1] == "ConditionalCheckFailed":
            # the predecessor read a moment ago is gone, or holds another hash: not ours
            before = self._get(pipeline, batch[0].sequence - 1)
            if before is None:
                raise self._gap(batch)
            raise TamperedEventError(
                pipeline,
                batch[0].sequence - 1,
                f"{self._where}: pipeline {pipeline!r} sequence {batch[0].sequence - 1} "
                "changed while an append chained to it",
            )
        raise self._unavailable(f"append to {pipeline!r}", error)

    def _gap(self, batch: tuple[Event, ...]) -> InvalidAppendError:
        return InvalidAppendError(
            f"pipeline {batch[0].pipeline_id!r}: append at sequence {batch[0].sequence} would "
            f"leave a gap: sequence {batch[0].sequence - 1} is not stored"
        )

    def _by_key(self, pipeline: str, event: Event) -> Event | None:
        marker = self._get(_marker_pk(pipeline, event.idempotency_key), 0)
        if marker is None:
            return None
        sequence = int(marker["seq"]["N"])
        stored = self._get(pipeline, sequence)
        if stored is None:
            raise EventStoreUnavailableError(
                f"{self._where}: idempotency key {event.idempotency_key!r} of pipeline "
                f"{pipeline!r} points at sequence {sequence}, which is not stored"
            )
        return self._decode(pipeline, sequence, stored)

    # --- reads ----------------------------------------------------------------------------------

    def read_chained(
        self, pipeline_id: str, after: int = 0, until: int | None = None
    ) -> Iterator[Chained]:
        if until is None:
            condition = "pk = :pk AND sk >= :after"
            values = {":pk": {"S": pipeline_id}, ":after": {"N": str(after)}}
        else:
            condition = "pk = :pk AND sk BETWEEN :after AND :until"
            values = {
                ":pk": {"S": pipeline_id},
                ":after": {"N": str(after)},
                ":until": {"N": str(until)},
            }
        rows = (
            self._row(_sequence(item, self._where, pipeline_id), item)
            for item in self._pages(
                KeyConditionExpression=condition, ExpressionAttributeValues=values
            )
        )
        return chained_rows(pipeline_id, after, rows, where=self._where)

    def last_sequence(self, pipeline_id: str) -> int:
        try:
            response = self._client.query(
                TableName=self.table_name,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": pipeline_id}},
                ScanIndexForward=False,
                Limit=1,
                ConsistentRead=True,
                ProjectionExpression="sk",
            )
        except (ClientError, BotoCoreError) as error:
            raise self._unavailable(f"read {pipeline_id!r}", error) from None
        items = response.get("Items", [])
        return _sequence(items[0], self._where, pipeline_id) if items else 0

    def pipelines(self) -> tuple[str, ...]:
        names: list[str] = []
        for item in self._pages(
            IndexName=PIPELINES_INDEX,
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues={":p": {"S": _PIPELINES_PARTITION}},
        ):
            names.append(item["gsi1sk"]["S"])
        return tuple(sorted(names))

    # --- snapshots ------------------------------------------------------------------------------

    def _put_snapshot(self, pipeline_id: str, sequence: int, head: str, text: str) -> None:
        body = zlib.compress(text.encode(), 6)
        if len(body) > MAX_SNAPSHOT_BYTES:
            raise SnapshotError(
                f"{self._where}: snapshot of {pipeline_id!r} at sequence {sequence} "
                f"is {len(body)} bytes compressed, above {MAX_SNAPSHOT_BYTES}"
            )
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item={
                    "pk": {"S": pipeline_id + SNAPSHOT_SUFFIX},
                    "sk": {"N": str(sequence)},
                    "head": {"S": head},
                    "body": {"B": body},
                },
            )
        except (ClientError, BotoCoreError) as error:
            raise self._unavailable(f"save snapshot of {pipeline_id!r}", error) from None

    def _newest_snapshot(
        self, pipeline_id: str, *, at_or_before: int | None = None
    ) -> tuple[int, str | None, bytes] | None:
        values: dict[str, Any] = {":pk": {"S": pipeline_id + SNAPSHOT_SUFFIX}}
        condition = "pk = :pk"
        if at_or_before is not None:
            condition += " AND sk <= :most"
            values[":most"] = {"N": str(at_or_before)}
        try:
            response = self._client.query(
                TableName=self.table_name,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=values,
                ScanIndexForward=False,
                Limit=1,
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as error:
            raise self._unavailable(f"read snapshot of {pipeline_id!r}", error) from None
        items = response.get("Items", [])
        if not items:
            return None
        sequence = _sequence(items[0], self._where, pipeline_id)
        try:
            text = zlib.decompress(items[0]["body"]["B"])
        except (KeyError, TypeError, zlib.error) as error:
            raise SnapshotError(
                f"{self._where}: snapshot of {pipeline_id!r} at sequence {sequence} is "
                f"unreadable ({error})"
            ) from None
        return sequence, items[0].get("head", {}).get("S"), text

    # --- helpers --------------------------------------------------------------------------------

    def _pages(self, **query: Any) -> Iterator[dict[str, Any]]:
        start: dict[str, Any] | None = None
        while True:
            arguments: dict[str, Any] = {"TableName": self.table_name, **query}
            if "IndexName" not in query:
                arguments["ConsistentRead"] = True
            if start is not None:
                arguments["ExclusiveStartKey"] = start
            try:
                response = self._client.query(**arguments)
            except (ClientError, BotoCoreError) as error:
                raise self._unavailable("query", error) from None
            yield from response.get("Items", [])
            start = response.get("LastEvaluatedKey")
            if start is None:
                return

    def _get(self, pk: str, sk: int) -> dict[str, Any] | None:
        try:
            response = self._client.get_item(
                TableName=self.table_name,
                Key={"pk": {"S": pk}, "sk": {"N": str(sk)}},
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as error:
            raise self._unavailable("read", error) from None
        return response.get("Item")

    def _decode(self, pipeline_id: str, sequence: int, item: dict[str, Any]) -> Event:
        _, _, _, body = self._row(sequence, item)
        return decode_stored(body, pipeline_id, sequence, where=self._where, parse=from_json)

    @staticmethod
    def _row(sequence: int, item: dict[str, Any]) -> tuple[int, object, object, str]:
        """An event item as the chain reads it: (sequence, prev, hash, JSON)."""
        body = item.get("body", {}).get("S")
        if body is None:
            body = json.dumps(None)  # reported as "not a JSON object" (or a broken link)
        return sequence, item.get("prev", {}).get("S"), item.get("hash", {}).get("S"), body

    def _unavailable(self, what: str, error: Exception) -> EventStoreUnavailableError:
        detail = str(error)
        if isinstance(error, ClientError) and _code(error) == "ResourceNotFoundException":
            detail = "the table does not exist"
        return EventStoreUnavailableError(f"{self._where}: {what} failed ({detail})")


def _marker_pk(pipeline: str, key: str) -> str:
    return f"{pipeline}#key#{key}"


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _sequence(item: dict[str, Any], where: str, pipeline_id: str) -> int:
    try:
        return int(item["sk"]["N"])
    except (KeyError, TypeError, ValueError):
        raise EventStoreUnavailableError(
            f"{where}: an item of pipeline {pipeline_id!r} has no numeric sort key"
        ) from None


def is_event_key(pk: object, sk: object) -> bool:
    """Whether the keys (as Python values) are an event item's: not a snapshot's, not an
    idempotency marker's."""
    return (
        isinstance(pk, str)
        and not pk.endswith(SNAPSHOT_SUFFIX)
        and "#key#" not in pk
        and str(sk) not in ("0", "None")
    )


def event_of_item(image: Mapping[str, Any], *, where: str) -> Event | None:
    """The event an item of the table holds, from its attributes as Python values (a stream
    record's image, deserialized); None for the table's other items (idempotency markers,
    snapshots). Its chain hash is checked: an item whose body does not hash to its hash
    raises TamperedEventError."""
    pk = image.get("pk")
    if "type" not in image or not is_event_key(pk, image.get("sk")):
        return None
    assert isinstance(pk, str)
    try:
        sequence = int(image["sk"])
    except (KeyError, TypeError, ValueError):
        raise EventStoreUnavailableError(
            f"{where}: an item of pipeline {pk!r} has no numeric sort key"
        ) from None
    body = image.get("body")
    text = body if isinstance(body, str) else json.dumps(None)
    check_row(pk, sequence, image.get("prev"), image.get("hash"), text, where=where)
    return decode_stored(text, pk, sequence, where=where, parse=from_json)
