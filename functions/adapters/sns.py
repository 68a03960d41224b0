"""Pages to an SNS topic that teams subscribe to (email, chat, paging tools)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from domain.errors import NotifyError
from domain.events import PersonPaged
from domain.ports import Notifier

if TYPE_CHECKING:
    from mypy_boto3_sns.client import SNSClient

#: SNS subjects are at most 100 characters
_SUBJECT = 100


class SnsNotifier(Notifier):
    """Publishes each page (subject, text, and the page as JSON attributes for filters);
    raises NotifyError when SNS refuses it after the client's retries."""

    def __init__(self, topic_arn: str, *, client: SNSClient | None = None) -> None:
        self.topic_arn = topic_arn
        self._client: SNSClient = client or boto3.client(
            "sns", config=Config(retries={"mode": "standard", "max_attempts": 5})
        )

    def send(self, page: PersonPaged) -> None:
        body = {
            "pipeline": page.pipeline_id,
            "stage": page.stage,
            "change": page.change_id,
            "at": page.at.isoformat(),
            "subject": page.subject,
            "message": page.message,
        }
        try:
            self._client.publish(
                TopicArn=self.topic_arn,
                Subject=f"[shipwave] {page.subject}"[:_SUBJECT],
                Message=f"{page.message}\n\n{json.dumps(body, indent=2)}",
                MessageAttributes={
                    "pipeline": {"DataType": "String", "StringValue": page.pipeline_id},
                    "severity": {"DataType": "String", "StringValue": "page"},
                },
            )
        except (ClientError, BotoCoreError) as error:
            raise NotifyError(f"{self.topic_arn}: {error}") from None
