"""Notifications to EventBridge: one PutEvents entry per recorded transition."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from domain.errors import NotifyError
from domain.notifications import SOURCE, Notification
from domain.ports import NotificationPublisher

if TYPE_CHECKING:
    from mypy_boto3_events.client import EventBridgeClient

#: an entry (source, detail-type, detail and the rest) is at most 256 KB (PutEvents' limit)
MAX_ENTRY_BYTES = 256 * 1024


class EventBridgePublisher(NotificationPublisher):
    """Puts each notification on an event bus (the account's default one unless named), with
    `source: shipwave`; raises NotifyError when EventBridge refuses it after the client's
    retries, naming the entry's error (PutEvents answers 200 with failed entries too)."""

    def __init__(self, bus: str = "default", *, client: EventBridgeClient | None = None) -> None:
        self.bus = bus
        self._client: EventBridgeClient = client or boto3.client(
            "events", config=Config(retries={"mode": "standard", "max_attempts": 5})
        )

    def publish(self, note: Notification) -> None:
        detail = json.dumps(note.detail, sort_keys=True)
        size = len(SOURCE) + len(note.detail_type) + len(detail.encode())
        if size > MAX_ENTRY_BYTES:
            raise NotifyError(
                f"notification {note.id} is {size:,} bytes, over EventBridge's 256 KB entry"
            )
        try:
            response = self._client.put_events(
                Entries=[
                    {
                        "Source": SOURCE,
                        "DetailType": note.detail_type,
                        "Detail": detail,
                        "EventBusName": self.bus,
                    }
                ]
            )
        except (ClientError, BotoCoreError) as error:
            raise NotifyError(f"event bus {self.bus}: {note.id}: {error}") from None
        if response.get("FailedEntryCount", 0):
            (entry,) = response["Entries"]
            raise NotifyError(
                f"event bus {self.bus} refused {note.id}: "
                f"{entry.get('ErrorCode', '?')}: {entry.get('ErrorMessage', '')}"
            )
