"""A dead-letter queue whose first message raises an alarm: nothing is dropped unseen."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from constructs import Construct


class DeadLetters(Construct):
    """Kept 14 days; `alarm` goes to ALARM while any message waits (an idle queue stops
    reporting: missing data shows as such, never as "empty")."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        holds: str,
        alarm_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        Validations.of(self.queue).acknowledge(
            Acknowledgment(id="AwsSolutions-SQS3", reason=f"This queue is the dead-letter {holds}.")
        )
        self.alarm = cloudwatch.Alarm(
            self,
            "Waiting",
            alarm_name=alarm_name,
            alarm_description=f"the dead-letter {holds} holds events: read them, fix the "
            "cause, re-drive them",
            metric=self.queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.MISSING,
        )
