"""A team's pipeline, in the home region: its state machine, its build project, and its
spec, where the controller's handlers read it. `cdk deploy shipwave-pipeline-<id>` also
deploys, first, the team's stack in each of the pipeline's regions (its alarms and deploy
role): the stacks it depends on. It depends on no stack of the platform's.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from adapters.pipeline_specs import ADVANCED_TIER_MAX, STANDARD_TIER_MAX, encode_spec
from domain.conventions import spec_parameter_name
from domain.notifications import SOURCE, Severity, at_least
from domain.spec import PipelineSpec
from infra.constructs.build_project import BuildProject
from infra.constructs.dead_letters import DeadLetters
from infra.constructs.handlers import HANDLERS, function_arn
from infra.constructs.pipeline_machine import PipelineStateMachine


class SpecTooLargeError(ValueError):
    """A spec does not fit a Parameter Store value even compressed."""


class PipelineStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: PipelineSpec,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # the handlers are the controller's, named by convention: no reference to its stack
        arns = {
            handler.placeholder: function_arn(self, handler.name)
            for handler in HANDLERS
            if handler.placeholder
        }
        self.machine = PipelineStateMachine(self, "Pipeline", spec=spec, function_arns=arns).machine
        self.build = BuildProject(self, "Build", spec=spec).project
        value = encode_spec(spec)
        if len(value) > ADVANCED_TIER_MAX:
            raise SpecTooLargeError(
                f"pipeline {spec.pipeline_id}: its spec is {len(value):,} characters stored "
                f"(compressed), over Parameter Store's {ADVANCED_TIER_MAX:,}: split its alarms "
                "or stages over more pipelines"
            )
        self.spec_parameter = ssm.StringParameter(
            self,
            "Spec",
            parameter_name=spec_parameter_name(spec.pipeline_id),
            string_value=value,
            description=f"shipwave spec of pipeline {spec.pipeline_id} (base64 of zlib JSON)",
            tier=(
                ssm.ParameterTier.STANDARD
                if len(value) <= STANDARD_TIER_MAX
                else ssm.ParameterTier.ADVANCED
            ),
        )
        if spec.notify is not None:
            self._notify(spec)

    def _notify(self, spec: PipelineSpec) -> None:
        """The team's topic: every notification of this pipeline of the chosen severity or
        worse, by an ordinary EventBridge rule on the default bus (`source: shipwave`)."""
        notify = spec.notify
        assert notify is not None
        # EventBridge publishes to an encrypted topic only with a key whose policy lets the
        # events service use it (SNS Developer Guide, "Enabling compatibility between event
        # sources from AWS services and encrypted topics")
        key = kms.Key(
            self,
            "NotifyKey",
            description=f"shipwave notifications of {spec.pipeline_id}",
            enable_key_rotation=True,
        )
        key.grant(
            iam.ServicePrincipal("events.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        self.notify_topic = sns.Topic(
            self,
            "Notifications",
            display_name=f"shipwave {spec.pipeline_id}",
            enforce_ssl=True,
            master_key=key,
        )
        for address in notify.emails:
            self.notify_topic.add_subscription(subscriptions.EmailSubscription(address))
        events.Rule(
            self,
            "NotifyRule",
            description=f"{spec.pipeline_id}: shipwave notifications of severity "
            f"{notify.severity} or worse to the team's topic",
            event_pattern=notification_pattern(spec.pipeline_id, notify.severity),
            targets=[
                targets.SnsTopic(
                    self.notify_topic,
                    retry_attempts=20,
                    dead_letter_queue=DeadLetters(
                        self,
                        "NotifyDeadLetters",
                        holds=f"queue of {spec.pipeline_id}'s notifications SNS refused",
                        alarm_name=f"shipwave-{spec.pipeline_id}-notify-dead-letters",
                    ).queue,
                )
            ],
        )
        CfnOutput(self, "NotificationsTopicArn", value=self.notify_topic.topic_arn)


def notification_pattern(pipeline_id: str, severity: Severity) -> events.EventPattern:
    """shipwave's events of one pipeline, of `severity` or worse."""
    return events.EventPattern(
        source=[SOURCE],
        detail={"pipeline_id": [pipeline_id], "severity": list(at_least(severity))},
    )
