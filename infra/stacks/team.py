"""A team's stack in one target region: its services' alarms and the role that deploys its
targets there. The team deploys it (with its pipeline stacks); the platform's stacks do not
change when a team adds, changes or removes a service.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from domain.artifacts import artifact_bucket
from domain.conventions import team_deploy_role_name
from domain.spec import EcsServiceTarget, LambdaAliasTarget, PipelineSpec
from infra.constructs.alarms import RegionAlarms
from infra.constructs.canaries import Canaries
from infra.constructs.handlers import deploy_role_trust
from infra.constructs.nag import account, acknowledge, partition
from infra.constructs.team_dashboard import TeamDashboard


def team_stack_name(team: str, region: str) -> str:
    return f"shipwave-team-{team}-{region}"


class TeamRegionStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        team: str,
        specs: tuple[PipelineSpec, ...],
        home_region: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        strangers = sorted({spec.pipeline_id for spec in specs if spec.team != team})
        if strangers:
            raise ValueError(f"team {team}'s stack given other teams' pipelines: {strangers}")
        self.alarms = RegionAlarms(self, "Alarms", specs=specs)
        self.canaries = Canaries(self, "Canaries", specs=specs)
        self.deploy_role = iam.Role(
            self,
            "DeployRole",
            role_name=team_deploy_role_name(team, self.region),
            description=f"assumed by the shipwave controller to deploy team {team}'s targets "
            "in this region",
            assumed_by=deploy_role_trust(self, home_region),
        )
        self._lambda_targets(specs)
        self._ecs_targets(specs)
        if self.region == home_region:  # where the controller's handlers emit the metrics
            self.dashboard = TeamDashboard(self, "Dashboard", team=team, specs=specs)

    def _lambda_targets(self, specs: tuple[PipelineSpec, ...]) -> None:
        functions = sorted(
            {s.target.function_name for s in specs if isinstance(s.target, LambdaAliasTarget)}
        )
        if not functions:
            return
        function_arn = f"arn:{self.partition}:lambda:{self.region}:{self.account}:function:"
        self.deploy_role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "lambda:GetAlias",
                    "lambda:UpdateAlias",
                    "lambda:PublishVersion",
                    "lambda:GetFunction",
                    "lambda:UpdateFunctionCode",
                    # the alias target lists versions first (one-box, batches, rollback)
                    "lambda:ListVersionsByFunction",
                ],
                resources=[
                    arn
                    for name in functions
                    for arn in (function_arn + name, f"{function_arn}{name}:*")
                ],
            )
        )
        # "UpdateFunctionCode" from S3 reads the zip with the caller's permissions (Lambda
        # Developer Guide, deploying from Amazon S3): this role reads the region's copies
        artifacts = f"arn:{self.partition}:s3:::{artifact_bucket(self.account, self.region)}/*"
        self.deploy_role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[artifacts])
        )
        acknowledge(
            self.deploy_role,
            f"AwsSolutions-IAM5[Resource::arn:{partition(self)}:s3:::"
            f"{artifact_bucket(account(self), self.region)}/*]",
            "Updating a function's code from S3 reads the artifact's copy in this region's "
            "artifact bucket (read only): artifact keys are not known when the stack is built.",
        )
        for name in functions:
            acknowledge(
                self.deploy_role,
                f"AwsSolutions-IAM5[Resource::arn:{partition(self)}:lambda:{self.region}:"
                f"{account(self)}:function:{name}:*]",
                "Deploying a Lambda target publishes versions and moves its alias: the role "
                "needs that one function's versions and aliases.",
            )

    def _ecs_targets(self, specs: tuple[PipelineSpec, ...]) -> None:
        services = sorted(
            {
                (s.target.cluster, service)
                for s in specs
                if isinstance(s.target, EcsServiceTarget)
                for service in (s.target.service, s.target.one_box_service)
            }
        )
        if not services:
            return
        self.deploy_role.add_to_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeServices", "ecs:UpdateService"],
                resources=[
                    f"arn:{self.partition}:ecs:{self.region}:{self.account}:service/{c}/{s}"
                    for c, s in services
                ],
            )
        )
        # A deployment registers a task definition revision running the artifact's image;
        # these three actions support no resource-level permissions.
        self.deploy_role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "ecs:RegisterTaskDefinition",
                    "ecs:DescribeTaskDefinition",
                    "ecs:ListTaskDefinitions",
                ],
                resources=["*"],
            )
        )
        self.deploy_role.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=["*"],
                conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            )
        )
        acknowledge(
            self.deploy_role,
            "AwsSolutions-IAM5[Resource::*]",
            "ecs:RegisterTaskDefinition, DescribeTaskDefinition and ListTaskDefinitions "
            "support no resource-level permissions; iam:PassRole is limited to ECS tasks "
            "(the roles of the task definition a deployment registers again).",
        )
