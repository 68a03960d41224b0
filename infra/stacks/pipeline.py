"""A team's pipeline, in the home region: its state machine, its build project, and its
spec, where the controller's handlers read it. `cdk deploy shipwave-pipeline-<id>` also
deploys, first, the team's stack in each of the pipeline's regions (its alarms and deploy
role): the stacks it depends on. It depends on no stack of the platform's.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from adapters.pipeline_specs import ADVANCED_TIER_MAX, STANDARD_TIER_MAX, encode_spec
from domain.conventions import spec_parameter_name
from domain.spec import PipelineSpec
from infra.constructs.build_project import BuildProject
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
