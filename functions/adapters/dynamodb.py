"""The event log on DynamoDB: the store the deployed controller uses.

Table layout (pk: string, sk: number):

- event:        pk = pipeline id,                 sk = sequence; body = the event's JSON.
                The first event of a pipeline also carries gsi1pk/gsi1sk, so the sparse
                index `pipelines` lists every pipeline without a scan.
- idempotency:  pk = "<pipeline>#key#<key>",       sk = 0; seq = the event's sequence.
- snapshot:     pk = "<pipeline>#snapshot",        sk = sequence covered; body = zlib JSON.

An append is one TransactWriteItems: per event a conditional put of the event (the sequence
must be free) and of its idempotency marker (the key must be unused), plus a condition check
that the predecessor exists, so a batch is all-or-nothing, no two writers take one sequence,
and no gap can open. Events are never updated or deleted.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from domain.errors import (
    ConcurrencyConflictError,
    EventStoreUnavailableError,
    InvalidAppendError,
    SnapshotError,
)
from domain.events import Event, from_json
from domain.ports import EventStore, check_contiguous, decode_stored, earlier_result
from domain.state import PipelineState, snapshot_from_json, snapshot_to_json

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
        items: list[TransactWriteItemTypeDef] = []
        for event, text in zip(batch, texts, strict=True):
            item: dict[str, Any] = {
                "pk": {"S": pipeline},
                "sk": {"N": str(event.sequence)},
                "type": {"S": type(event).__name__},
                "at": {"S": event.at.isoformat()},
                "key": {"S": event.idempotency_key},
                "body": {"S": text},
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
        first = batch[0].sequence
        if first > 1:
            items.append(
                {
                    "ConditionCheck": {
                        "TableName": self.table_name,
                        "Key": {"pk": {"S": pipeline}, "sk": {"N": str(first - 1)}},
                        "ConditionExpression": "attribute_exists(pk)",
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
            raise InvalidAppendError(
                f"pipeline {pipeline!r}: append at sequence {batch[0].sequence} would leave a "
                f"gap: sequence {batch[0].sequence - 1} is not stored"
            )
        raise self._unavailable(f"append to {pipeline!r}", error)

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

    def read(self, pipeline_id: str, after: int = 0) -> Iterator[Event]:
        expected = after + 1
        for item in self._pages(
            KeyConditionExpression="pk = :pk AND sk > :after",
            ExpressionAttributeValues={":pk": {"S": pipeline_id}, ":after": {"N": str(after)}},
        ):
            sequence = _sequence(item, self._where, pipeline_id)
            check_contiguous(pipeline_id, expected, sequence, where=self._where)
            yield self._decode(pipeline_id, sequence, item)
            expected += 1

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

    def save_snapshot(self, state: PipelineState) -> None:
        body = zlib.compress(snapshot_to_json(state).encode(), 6)
        if len(body) > MAX_SNAPSHOT_BYTES:
            raise SnapshotError(
                f"{self._where}: snapshot of {state.pipeline_id!r} at sequence {state.sequence} "
                f"is {len(body)} bytes compressed, above {MAX_SNAPSHOT_BYTES}"
            )
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item={
                    "pk": {"S": state.pipeline_id + SNAPSHOT_SUFFIX},
                    "sk": {"N": str(state.sequence)},
                    "body": {"B": body},
                },
            )
        except (ClientError, BotoCoreError) as error:
            raise self._unavailable(f"save snapshot of {state.pipeline_id!r}", error) from None

    def latest_snapshot(self, pipeline_id: str) -> PipelineState | None:
        try:
            response = self._client.query(
                TableName=self.table_name,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": pipeline_id + SNAPSHOT_SUFFIX}},
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
        except (KeyError, zlib.error) as error:
            raise SnapshotError(
                f"{self._where}: snapshot of {pipeline_id!r} at sequence {sequence} is "
                f"unreadable ({error})"
            ) from None
        return snapshot_from_json(text, pipeline_id=pipeline_id, sequence=sequence)

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
        body = item.get("body", {}).get("S")
        if body is None:
            body = json.dumps(None)  # reported below as "not a JSON object"
        return decode_stored(body, pipeline_id, sequence, where=self._where, parse=from_json)

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
