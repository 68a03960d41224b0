"""The role each of a pipeline's CodeBuild projects runs with: its own, granted nothing but
writing its project's log group and reading its repository (each project adds the rest)."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs.nag import acknowledge, nag_text


def project_role(
    scope: Construct, *, project: str, description: str, repository_arn: str | None
) -> iam.Role:
    stack = Stack.of(scope)
    role = iam.Role(
        scope,
        "Role",
        assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
        description=description,
    )
    logs = (
        f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:"
        f"/aws/codebuild/{project}"
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[logs, f"{logs}:*"],
        )
    )
    if repository_arn is not None:
        role.add_to_policy(
            iam.PolicyStatement(actions=["codecommit:GitPull"], resources=[repository_arn])
        )
    acknowledge(
        role,
        f"AwsSolutions-IAM5[Resource::{nag_text(stack, logs)}:*]",
        "CodeBuild writes each build's log stream (named by build id) in the project's own "
        "log group.",
    )
    return role
