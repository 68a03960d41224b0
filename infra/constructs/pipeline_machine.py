"""One pipeline's state machine, from the generator's JSON."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from domain.spec import PipelineSpec
from infra.constructs.nag import acknowledge, function_arn_versions, logical_id
from statemachines.generator import PLACEHOLDERS, to_json


class PipelineStateMachine(Construct):
    """The very JSON the local runtime executes, with the function ARNs substituted."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: PipelineSpec,
        functions: dict[str, lambda_.Function],
    ) -> None:
        super().__init__(scope, construct_id)
        missing = set(PLACEHOLDERS) - set(functions)
        if missing:
            raise ValueError(f"no function for placeholders {sorted(missing)}")
        log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/vendedlogs/states/shipwave-{spec.pipeline_id}",
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=f"shipwave-{spec.pipeline_id}",
            comment=f"shipwave pipeline {spec.pipeline_id}",
            definition_body=sfn.DefinitionBody.from_string(to_json(spec)),
            definition_substitutions={name: functions[name].function_arn for name in PLACEHOLDERS},
            logs=sfn.LogOptions(
                destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
            tracing_enabled=True,
        )
        for name in PLACEHOLDERS:
            functions[name].grant_invoke(self.machine)
        function_arn_versions(self, [logical_id(functions[name]) for name in PLACEHOLDERS])
        acknowledge(
            self,
            "AwsSolutions-IAM5[Resource::*]",
            "CloudWatch Logs delivery and X-Ray writes for the state machine (added by CDK) "
            "support no resource-level permissions.",
        )
