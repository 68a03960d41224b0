"""The controller (the platform owner's, in the home region): event log, handlers, triggers.

It knows no pipeline: each team's pipeline stack puts its spec where the handlers read it
(Parameter Store, `domain.conventions.SPECS_PATH`) and names its state machine by the
convention the intake starts it by, so a team deploys its pipelines without this stack
changing.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from domain.builds import FINAL_STATUSES
from domain.conventions import BUILD_PROJECT_PREFIX
from infra.constructs.alarm_events import FORWARDING_DEAD_LETTERS_ALARM, acted_on_alarms
from infra.constructs.dead_letters import DeadLetters
from infra.constructs.event_log import EventLogTable
from infra.constructs.handlers import Handlers
from infra.constructs.nag import acknowledge, nag_text
from infra.constructs.pipeline_machine import state_machine_arn


class ControllerStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        company_alarms: tuple[str, ...],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.event_log = EventLogTable(self, "EventLog")
        self.handlers = Handlers(
            self, "Handlers", event_log=self.event_log, home_region=self.region
        )
        self.topic = self._pages()
        self.dead_letters = self._dead_letters()
        self._intake()
        self._alarm_changes(company_alarms)
        self._execution_ends()
        self._build_ends()
        self._github_reviews()
        self._notifications()
        self._operator()
        CfnOutput(self, "EventLogTableName", value=self.event_log.table.table_name)

    def _intake(self) -> None:
        intake = self.handlers.functions["intake"]
        self._starts_pipelines(intake)
        # Every update of a branch of any CodeCommit repository of the account: the intake
        # finds the pipelines whose spec names that repository and branch, and logs each
        # update no pipeline takes (a team's pipeline is deployed without changing this rule).
        events.Rule(
            self,
            "CodeCommitMerges",
            description="a merge to a pipeline's branch starts that pipeline",
            event_pattern=events.EventPattern(
                source=["aws.codecommit"],
                detail_type=["CodeCommit Repository State Change"],
                detail={
                    "event": ["referenceCreated", "referenceUpdated"],
                    "referenceType": ["branch"],
                },
            ),
            targets=[self._target("intake")],
        )
        secret = secretsmanager.Secret(
            self,
            "GitHubWebhookSecret",
            description="shared secret of the GitHub webhook (HMAC-SHA256 signatures)",
        )
        secret.grant_read(intake)
        intake.add_environment("GITHUB_WEBHOOK_SECRET_ARN", secret.secret_arn)
        # The URL is reachable by anyone: at most this many requests run at once, so a flood
        # can neither exhaust the account's concurrency nor the event table's capacity.
        cfn_intake = intake.node.default_child
        assert isinstance(cfn_intake, lambda_.CfnFunction)
        cfn_intake.reserved_concurrent_executions = INTAKE_CONCURRENCY
        url = intake.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
        CfnOutput(self, "GitHubWebhookUrl", value=url.url)
        Validations.of(secret).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SMG4",
                reason="A webhook secret is shared with GitHub by hand; rotating it here alone "
                "would break every webhook, so it is rotated together with GitHub's side.",
            )
        )

    def _alarm_changes(self, company_alarms: tuple[str, ...]) -> None:
        events.Rule(
            self,
            "AlarmStateChanges",
            description="alarm changes (local and forwarded from every region) to the controller",
            event_pattern=acted_on_alarms(company_alarms),
            targets=[self._target("alarm")],
        )
        # a region's forwarder could not deliver: its dead-letter alarm pages from home
        events.Rule(
            self,
            "ForwardingDeadLetters",
            description="a region's alarm forwarding failed: page",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=["CloudWatch Alarm State Change"],
                detail={
                    "alarmName": [FORWARDING_DEAD_LETTERS_ALARM],
                    "state": {"value": ["ALARM"]},
                },
            ),
            targets=[
                targets.SnsTopic(
                    self.topic,
                    retry_attempts=RULE_RETRY_ATTEMPTS,
                    dead_letter_queue=self.dead_letters,
                )
            ],
        )

    def _execution_ends(self) -> None:
        """An execution of a pipeline that failed, timed out or was aborted: the handler
        releases what its change held (SPEC practice 18)."""
        events.Rule(
            self,
            "ExecutionEnds",
            description="pipeline executions that ended abnormally release their stages",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "status": ["FAILED", "TIMED_OUT", "ABORTED"],
                    # every pipeline's machine by its name prefix: one entry, whatever their
                    # number (EventBridge: a pattern of at most 2,048 characters)
                    "stateMachineArn": [{"prefix": state_machine_arn(self, "")}],
                },
            ),
            targets=[self._target("executions")],
        )

    def _build_ends(self) -> None:
        """Each pipeline's build that ended: the build handler records its artifact or its
        failure and resumes the change's execution (the `Build` task's callback)."""
        events.Rule(
            self,
            "BuildEnds",
            description="ended builds of the pipelines' projects resume their changes",
            event_pattern=events.EventPattern(
                source=["aws.codebuild"],
                detail_type=["CodeBuild Build State Change"],
                detail={
                    "build-status": list(FINAL_STATUSES),
                    "project-name": [{"prefix": BUILD_PROJECT_PREFIX}],
                },
            ),
            targets=[self._target("build")],
        )

    def _github_reviews(self) -> None:
        """The review gate reads GitHub's review record (pull requests and their reviews)
        with a token kept here: a fine-grained token with read access to pull requests of
        the teams' repositories, put in by hand (`aws secretsmanager put-secret-value`)."""
        token = secretsmanager.Secret(
            self,
            "GitHubApiToken",
            description="token the review gate reads GitHub's pull requests and reviews with",
        )
        gate = self.handlers.functions["blockers"]
        token.grant_read(gate)
        gate.add_environment("GITHUB_TOKEN_SECRET_ARN", token.secret_arn)
        Validations.of(token).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SMG4",
                reason="A GitHub token is issued by GitHub, not by AWS: it is rotated on "
                "GitHub's side and put here by hand.",
            )
        )

    def _starts_pipelines(self, function: lambda_.Function) -> None:
        """`function` may start an execution of any pipeline's state machine, and nothing
        else: the intake (a merge's run) and the operator endpoint (a person's retry). Each
        machine is named by the convention (shipwave-<pipeline id>) in its team's stack,
        which this stack does not know."""
        machines = state_machine_arn(self, "") + "*"
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[machines])
        )
        function.add_environment("STATE_MACHINE_ARN_PREFIX", state_machine_arn(self, ""))
        acknowledge(
            self.handlers,
            f"AwsSolutions-IAM5[Resource::{nag_text(self, machines)}]",
            "The intake (a merge) and the operator endpoint (a person's retry) start the "
            "pipelines' state machines, all named shipwave-<pipeline id> by the teams' "
            "pipeline stacks, which are deployed after this stack.",
        )

    def _operator(self) -> None:
        """The operator endpoint: a Function URL that only signed requests reach (AWS_IAM:
        the caller needs lambda:InvokeFunctionUrl on it, granted in the caller's own policy),
        the signer being who acts; an abort stops the change's execution, a retry starts a
        new one."""
        operator = self.handlers.functions["operator"]
        executions = (
            f"arn:{self.partition}:states:{self.region}:{self.account}:execution:shipwave-*"
        )
        operator.add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:StopExecution"],
                resources=[executions],
            )
        )
        self._starts_pipelines(operator)
        acknowledge(
            self.handlers,
            f"AwsSolutions-IAM5[Resource::{nag_text(self, executions)}]",
            "An abort stops the execution of the aborted change, of any pipeline's state "
            "machine (each named shipwave-<pipeline id> by its team's stack).",
        )
        url = operator.add_function_url(auth_type=lambda_.FunctionUrlAuthType.AWS_IAM)
        CfnOutput(self, "OperatorEndpointUrl", value=url.url)

    def _notifications(self) -> None:
        """Every event appended to the log, published to the account's default event bus as
        `source: shipwave` by one function reading the table's stream: in order (one shard
        per pipeline, one batch at a time per shard), each once (Powertools Idempotency),
        retried from the first record that failed, then to a dead-letter queue that pages."""
        notify = self.handlers.functions["notify"]
        remembered = dynamodb.Table(
            self,
            "NotifyIdempotency",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute="expiration",
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.DESTROY,  # a week of ids: rebuilt by publishing
        )
        # what Powertools Idempotency does to its table (DynamoDBPersistenceLayer)
        notify.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                ],
                resources=[remembered.table_arn],
            )
        )
        notify.add_environment("NOTIFY_IDEMPOTENCY_TABLE", remembered.table_name)
        notify.add_environment("NOTIFY_EVENT_BUS", "default")
        notify.add_to_role_policy(
            iam.PolicyStatement(
                actions=["events:PutEvents"],
                resources=[
                    f"arn:{self.partition}:events:{self.region}:{self.account}:event-bus/default"
                ],
            )
        )
        dead_letters = DeadLetters(
            self,
            "NotifyDeadLetters",
            holds="queue of the log's stream records that could not be published",
            alarm_name=NOTIFY_DEAD_LETTERS_ALARM,
        )
        dead_letters.alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))
        notify.add_event_source(
            sources.DynamoEventSource(
                self.event_log.table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=100,
                parallelization_factor=1,  # in order per partition key: per pipeline
                report_batch_item_failures=True,
                retry_attempts=NOTIFY_RETRY_ATTEMPTS,
                max_record_age=Duration.hours(24),
                on_failure=sources.SqsDlq(dead_letters.queue),
                filters=[
                    # an event item (snapshots and idempotency markers carry no `type`)
                    lambda_.FilterCriteria.filter(
                        {
                            "eventName": lambda_.FilterRule.is_equal("INSERT"),
                            "dynamodb": {"NewImage": {"type": {"S": lambda_.FilterRule.exists()}}},
                        }
                    ),
                    # a change or removal: of an event, it is tampering (the handler refuses it)
                    lambda_.FilterCriteria.filter(
                        {"eventName": lambda_.FilterRule.or_("MODIFY", "REMOVE")}
                    ),
                ],
            )
        )
        CfnOutput(self, "NotificationsDeadLetterQueueUrl", value=dead_letters.queue.queue_url)

    def _target(self, name: str) -> targets.LambdaFunction:
        """An EventBridge target that loses nothing: EventBridge retries for a day, then the
        event goes to the dead-letter queue; the function's own asynchronous retries end
        there too (its failure destination)."""
        function = self.handlers.functions[name]
        function.configure_async_invoke(
            on_failure=destinations.SqsDestination(self.dead_letters),
            retry_attempts=2,
            max_event_age=Duration.hours(6),
        )
        return targets.LambdaFunction(
            function,
            retry_attempts=RULE_RETRY_ATTEMPTS,
            max_event_age=Duration.hours(24),
            dead_letter_queue=self.dead_letters,
        )

    def _dead_letters(self) -> sqs.Queue:
        """Every merge, alarm change or execution end that no handler could take: the first
        one pages (a person re-drives it once the cause is fixed)."""
        dead_letters = DeadLetters(
            self,
            "DeadLetters",
            holds="queue of the EventBridge targets and failure destination of the handlers",
        )
        dead_letters.alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))
        CfnOutput(self, "DeadLetterQueueUrl", value=dead_letters.queue.queue_url)
        return dead_letters.queue

    def _pages(self) -> sns.Topic:
        """The topic teams subscribe to: every failed rollback, every stage blocked too long,
        every event left in the dead-letter queue.

        Its key is our own: a CloudWatch alarm cannot publish to a topic encrypted with the
        AWS managed key aws/sns, whose policy cannot let the CloudWatch service use it (SNS
        Developer Guide, "Enabling compatibility between event sources from AWS services and
        encrypted topics")."""
        key = kms.Key(
            self,
            "PagesKey",
            description="shipwave pages topic",
            enable_key_rotation=True,
        )
        for service in ("cloudwatch.amazonaws.com", "events.amazonaws.com"):
            key.grant(iam.ServicePrincipal(service), "kms:Decrypt", "kms:GenerateDataKey*")
        topic = sns.Topic(
            self,
            "Pages",
            display_name="shipwave pages",
            enforce_ssl=True,
            master_key=key,
        )
        for name, function in self.handlers.functions.items():
            if name in ("intake", "lease", "build", "notify"):
                continue  # none of them records a page
            topic.grant_publish(function)
            function.add_environment("SHIPWAVE_PAGE_TOPIC_ARN", topic.topic_arn)
        acknowledge(
            self.handlers,
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "Publishing to the encrypted pages topic needs kms:GenerateDataKey* on its one key "
            "(the grant sns.Topic.grant_publish makes); the resource is that key alone.",
        )
        CfnOutput(self, "PagesTopicArn", value=topic.topic_arn)
        return topic


#: EventBridge's retries of a target before the event goes to the dead-letter queue
RULE_RETRY_ATTEMPTS = 20

#: concurrent intake invocations at most (merges and webhooks are few; a flood is refused)
INTAKE_CONCURRENCY = 10

#: a stream batch that failed is retried this often from its first failed record, then its
#: records go to the notifications' dead-letter queue
NOTIFY_RETRY_ATTEMPTS = 10

#: the alarm of the notifications' dead-letter queue (it pages)
NOTIFY_DEAD_LETTERS_ALARM = "shipwave-notify-dead-letters"
