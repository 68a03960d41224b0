"""One pipeline's state machine, from the generator's JSON."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from domain.spec import PipelineSpec
from infra.constructs.nag import acknowledge, nag_text
from statemachines.generator import PLACEHOLDERS, to_json


def state_machine_name(pipeline_id: str) -> str:
    return f"shipwave-{pipeline_id}"


def state_machine_arn(stack: Stack, pipeline_id: str) -> str:
    return (
        f"arn:{stack.partition}:states:{stack.region}:{stack.account}:stateMachine:"
        f"{state_machine_name(pipeline_id)}"
    )


class PipelineStateMachine(Construct):
    """The very JSON the local runtime executes, with the function ARNs substituted."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: PipelineSpec,
        function_arns: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        missing = set(PLACEHOLDERS) - set(function_arns)
        if missing:
            raise ValueError(f"no function for placeholders {sorted(missing)}")
        log_group = logs.LogGroup(
            self,
            "Logs",
            # no fixed name: a retained group of a deleted stack must not block its re-creation
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=state_machine_name(spec.pipeline_id),
            comment=f"shipwave pipeline {spec.pipeline_id}",
            definition_body=sfn.DefinitionBody.from_string(to_json(spec)),
            definition_substitutions={name: function_arns[name] for name in PLACEHOLDERS},
            logs=sfn.LogOptions(
                destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
            tracing_enabled=True,
        )
        arns = sorted(function_arns[name] for name in PLACEHOLDERS)
        self.machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[*arns, *(f"{arn}:*" for arn in arns)],
            )
        )
        stack = Stack.of(self)
        for name in PLACEHOLDERS:
            acknowledge(
                self,
                f"AwsSolutions-IAM5[Resource::{nag_text(stack, function_arns[name])}:*]",
                "Invoking a handler includes its published versions and aliases; scoped to "
                "that one function.",
            )
        acknowledge(
            self,
            "AwsSolutions-IAM5[Resource::*]",
            "CloudWatch Logs delivery and X-Ray writes for the state machine (added by CDK) "
            "support no resource-level permissions.",
        )
