"""The event table's stream (INSERT of an event item): each recorded transition published to
EventBridge as a `source: shipwave` event (`domain.notifications`), in order, once.

Records are handled in stream order, which is the log's order per pipeline (one partition
key, one shard). The first record that cannot be published stops the batch: it and every
record after it are reported as failed (`batchItemFailures` with its sequence number), so
Lambda retries from there and nothing is published out of order; after the retries the
records go to the dead-letter queue, whose alarm pages. A record already published (a
retried batch) is not published again: Powertools Idempotency keeps each notification's id
in its table for a week. A changed or removed event item, or one whose chain hash does not
hold, is refused as tampering, never published as if it were a transition.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import (
    DynamoDBStreamModel,
    DynamoDBStreamRecordModel,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from adapters.dynamodb import event_of_item, is_event_key
from adapters.eventbridge import EventBridgePublisher
from domain.errors import ShipwaveError, TamperedEventError
from domain.notifications import Notification
from handlers.observability import logger, metrics, tracer
from handlers.runtime import specs
from service.notifying import notification_of

#: how long a published notification's id is remembered (a stream keeps records 24 hours)
REMEMBER_SECONDS = 7 * 86400


class NotifySettingsError(ShipwaveError):
    """The notify function's environment is incomplete."""


@cache
def _publish_once() -> Callable[..., dict[str, Any]]:
    table = os.environ.get("NOTIFY_IDEMPOTENCY_TABLE", "")
    if not table:
        raise NotifySettingsError("NOTIFY_IDEMPOTENCY_TABLE is not set")
    publisher = EventBridgePublisher(os.environ.get("NOTIFY_EVENT_BUS", "default"))
    config = IdempotencyConfig(event_key_jmespath="id", expires_after_seconds=REMEMBER_SECONDS)

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="note",
        config=config,
        persistence_store=DynamoDBPersistenceLayer(table_name=table),
    )
    def publish(*, note: dict[str, Any]) -> dict[str, Any]:
        publisher.publish(Notification(note["detail_type"], note["severity"], note["detail"]))
        return {"id": note["id"], "detail_type": note["detail_type"]}

    published: Callable[..., dict[str, Any]] = publish
    return published


def _handle(record: DynamoDBStreamRecordModel) -> str:
    """What became of one record: "published <id>" or why nothing was published."""
    change = record.dynamodb
    where = f"stream record {change.SequenceNumber}"
    if record.eventName != "INSERT":
        # the stream shows new images only: a changed or removed item is known by its keys
        pk, sk = change.Keys.get("pk"), change.Keys.get("sk")
        if is_event_key(pk, sk):
            raise TamperedEventError(
                str(pk),
                int(str(sk)),
                f"{where}: {record.eventName} of an event item (events are never changed "
                "or removed)",
            )
        return f"not an event ({record.eventName} of a snapshot or a marker)"
    image = change.NewImage if isinstance(change.NewImage, dict) else {}
    event = event_of_item(image, where=where)
    if event is None:
        return "not an event (a snapshot or an idempotency marker)"
    note = notification_of(event, specs())
    _publish_once()(
        note={
            "id": note.id,
            "detail_type": note.detail_type,
            "severity": note.severity,
            "detail": note.detail,
        }
    )
    metrics.add_metric(name="NotificationsPublished", unit="Count", value=1)
    return f"published {note.id} as {note.detail_type!r}"


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch = parse(event=event, model=DynamoDBStreamModel)
    failures: list[dict[str, str]] = []
    for index, record in enumerate(batch.Records):
        try:
            outcome = _handle(record)
        except Exception as error:  # reported, retried, then dead-lettered: never dropped
            logger.exception(
                "notification not published: the batch stops here and is retried",
                extra={"record": record.dynamodb.SequenceNumber, "error": str(error)},
            )
            metrics.add_metric(name="NotificationsFailed", unit="Count", value=1)
            failures = [
                {"itemIdentifier": later.dynamodb.SequenceNumber} for later in batch.Records[index:]
            ]
            break
        logger.info(outcome, extra={"record": record.dynamodb.SequenceNumber})
    return {"batchItemFailures": failures}
