"""The event-log table: the only source of truth of every pipeline."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from adapters.dynamodb import PIPELINES_INDEX, SNAPSHOT_SUFFIX

#: What a handler may read of the log.
READ_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:DescribeTable",
)

#: An event is written only inside a transaction (`dynamodb:EnclosingOperation`, the condition
#: key DynamoDB sets on each action of a TransactWriteItems call): the adapter's transaction
#: puts every event and its idempotency marker with `attribute_not_exists(pk)` and checks the
#: previous sequence is stored. IAM has no condition key for a condition expression, so a plain
#: PutItem, which could overwrite an event, is what is refused. No UpdateItem, no DeleteItem:
#: an event, once written, is never changed.
APPEND_ACTIONS = ("dynamodb:PutItem", "dynamodb:ConditionCheckItem")


class EventLogTable(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.NUMBER),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            stream=dynamodb.StreamViewType.NEW_IMAGE,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.table.add_global_secondary_index(
            index_name=PIPELINES_INDEX,
            partition_key=dynamodb.Attribute(name="gsi1pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="gsi1sk", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )

    def grant_read(self, grantee: iam.IGrantable) -> None:
        table = self.table.table_arn
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(READ_ACTIONS), resources=[table, f"{table}/index/{PIPELINES_INDEX}"]
            )
        )

    def grant_append_and_read(self, grantee: iam.IGrantable) -> None:
        principal = grantee.grant_principal
        table = self.table.table_arn
        self.grant_read(grantee)
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(APPEND_ACTIONS),
                resources=[table],
                conditions={"StringEquals": {"dynamodb:EnclosingOperation": "TransactWriteItems"}},
            )
        )
        # A snapshot is a cache of the fold, re-made from the events whenever it is missing or
        # stale: a plain PutItem may write one, only under a `<pipeline>#snapshot` partition.
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:PutItem"],
                resources=[table],
                conditions={
                    "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"*{SNAPSHOT_SUFFIX}"]},
                    "Null": {"dynamodb:LeadingKeys": "false"},
                },
            )
        )
