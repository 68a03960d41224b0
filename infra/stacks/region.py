"""A target region (the platform owner's, one per catalogue region): the artifact bucket, the
platform's deploy role (alarm reads and artifact copies for every team) and alarm forwarding.

It knows no service: each team's alarms and the role that deploys its targets are in the
team's own stack of the region (`infra.stacks.team`).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from domain.artifacts import artifact_bucket
from domain.conventions import deploy_role_name
from infra.constructs.alarm_events import FORWARDING_DEAD_LETTERS_ALARM, acted_on_alarms
from infra.constructs.dead_letters import DeadLetters
from infra.constructs.handlers import deploy_role_trust
from infra.constructs.nag import account, acknowledge, partition


class RegionStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        home_region: str,
        company_alarms: tuple[str, ...],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.deploy_role = self._deploy_role(home_region)
        self.artifacts = self._artifacts(home_region)
        if self.region != home_region:
            self._forward_alarm_changes(company_alarms, home_region)

    def _forward_alarm_changes(self, company_alarms: tuple[str, ...], home_region: str) -> None:
        """ALARM changes shipwave acts on, to the home event bus; what cannot be delivered
        waits in a dead-letter queue here, whose alarm is forwarded home and pages."""
        home_bus = events.EventBus.from_event_bus_arn(
            self,
            "HomeBus",
            f"arn:{self.partition}:events:{home_region}:{self.account}:event-bus/default",
        )
        dead_letters = DeadLetters(
            self,
            "ForwardingDeadLetters",
            holds=f"queue of the alarm forwarding from {self.region} to {home_region}",
            alarm_name=FORWARDING_DEAD_LETTERS_ALARM,
        )
        events.Rule(
            self,
            "ForwardAlarmChanges",
            description=f"alarm changes shipwave acts on, to the controller in {home_region}",
            event_pattern=acted_on_alarms(company_alarms, FORWARDING_DEAD_LETTERS_ALARM),
            targets=[targets.EventBus(home_bus, dead_letter_queue=dead_letters.queue)],
        )

    def _artifacts(self, home_region: str) -> s3.Bucket:
        """This region's copies of the build artifacts (the home region's bucket is where the
        build puts them): a Lambda function's code comes only from a bucket in its region.

        Its name is the convention every role and handler finds it by; it is kept when the
        stack is deleted (the artifacts of past deployments are what rollbacks return to); its
        name is static, so `cdk deploy --import-existing-resources` takes the kept bucket back
        into a re-created stack."""
        bucket = s3.Bucket(
            self,
            "Artifacts",
            bucket_name=artifact_bucket(self.account, self.region),
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=Duration.days(90))],
        )
        cfn = bucket.node.default_child
        assert isinstance(cfn, s3.CfnBucket)
        # The copy into this region reads the home object and writes this one; reading a key
        # that is not there answers 404 only with s3:ListBucket (403 without it), and a copy
        # not there yet must read as "not yet", never as a failure to read.
        home = artifact_bucket(self.account, home_region)
        self.deploy_role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[f"arn:{self.partition}:s3:::{home}/*", bucket.arn_for_objects("*")],
            )
        )
        self.deploy_role.add_to_policy(
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects("*")])
        )
        self.deploy_role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn, f"arn:{self.partition}:s3:::{home}"],
            )
        )
        acknowledge(
            self.deploy_role,
            f"AwsSolutions-IAM5[Resource::arn:{partition(self)}:s3:::"
            f"{artifact_bucket(account(self), home_region)}/*]",
            "The deploy role copies any artifact of the home region's artifact bucket into this "
            "region: artifact keys are not known when the stack is built.",
        )
        acknowledge(
            self.deploy_role,
            f"AwsSolutions-IAM5[Resource::<{self.resolve(self.get_logical_id(cfn))}.Arn>/*]",
            "The deploy role writes and reads the copies of every artifact in this region's "
            "artifact bucket: artifact keys are not known when the stack is built.",
        )
        Validations.of(bucket).acknowledge(
            Acknowledgment(
                id="AwsSolutions-S1",
                reason="Objects are immutable build outputs written and read only by the "
                "shipwave deploy roles; CloudTrail records every role's S3 data events.",
            )
        )
        return bucket

    def _deploy_role(self, home_region: str) -> iam.Role:
        """What the controller does here for every team: read alarms (state, history,
        datapoints) and copy artifacts in. Deploying a team's target is its own role's."""
        role = iam.Role(
            self,
            "DeployRole",
            role_name=deploy_role_name(self.region),
            description="assumed by the shipwave controller to watch alarms and copy artifacts "
            "in this region",
            assumed_by=deploy_role_trust(self, home_region),
        )
        # "To use this operation and return information about composite alarms, you must be
        # signed on with the cloudwatch:DescribeAlarms permission that is scoped to *. You
        # can't return information about composite alarms if your cloudwatch:DescribeAlarms
        # permission has a narrower scope." (CloudWatch API Reference, DescribeAlarms). Scoped
        # to the alarms' ARNs, the composites every bake reads would come back missing.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData"],
                resources=["*"],
            )
        )
        # the history of any alarm of this region: every team's alarms and the company's
        # blockers, whatever services the teams add (this stack knows none of them)
        alarms = f"arn:{self.partition}:cloudwatch:{self.region}:{self.account}:alarm:*"
        role.add_to_policy(
            iam.PolicyStatement(actions=["cloudwatch:DescribeAlarmHistory"], resources=[alarms])
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::arn:{partition(self)}:cloudwatch:{self.region}:"
            f"{account(self)}:alarm:*]",
            "Reading the state history of the alarms of this region (read only): the teams' "
            "alarms are added by their own stacks, after this one.",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "cloudwatch:DescribeAlarms returns composite alarms only when granted on '*' "
            "(CloudWatch API Reference, DescribeAlarms); cloudwatch:GetMetricData (datapoint "
            "counts at bake end) supports no resource-level permissions. Both only read.",
        )
        return role
