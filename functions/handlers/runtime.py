"""The composition root of the Lambda handlers: real adapters, built once per cold start.

The local runtime swaps in its own services with `use()`; nothing else builds adapters.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import boto3
from aws_lambda_powertools.utilities import parameters

from adapters.aws_session import RETRYING, DeployRoles, aws_target
from adapters.cloudwatch import CloudWatchAlarmReader
from adapters.codebuild import CodeBuildBuilder, CodeBuildTestRuns
from adapters.codecommit_reviews import CodeCommitReviewSource
from adapters.dynamodb import DynamoDBEventStore
from adapters.github_reviews import GitHubReviewSource
from adapters.pipeline_specs import ParameterSpecs
from adapters.review_sources import SourceSystemReviews
from adapters.s3_artifacts import S3ArtifactStore
from adapters.sns import SnsNotifier
from adapters.stepfunctions import StepFunctionsExecutions, StepFunctionsWorkflow
from domain.errors import ReviewReadError, ShipwaveError
from domain.spec import PipelineSpec
from handlers.observability import emit_measures
from handlers.settings import settings
from service.engine import Engine
from service.operating import Operations
from service.pipeline_log import PipelineLog
from service.steps import PipelineSteps


class ServicesNotConfiguredError(ShipwaveError):
    """The handler has no engine for this environment."""


@dataclass
class Services:
    steps: PipelineSteps
    engine: Engine | None


_SERVICES: list[Services] = []


def system_clock() -> datetime:
    return datetime.now(UTC)


#: the specs alone, for a handler that needs no engine (the notify function)
_SPECS: list[Mapping[str, PipelineSpec]] = []

_NO_SPECS = (
    "no pipeline specs: set SHIPWAVE_SPECS_PATH to the Parameter Store folder the "
    "pipeline stacks write their specs to (/shipwave/pipelines)"
)


def use(services: Services | None) -> None:
    """Replace the services every handler uses (the local runtime); None: build from env."""
    _SERVICES.clear()
    _SPECS.clear()
    if services is not None:
        _SERVICES.append(services)


def _services() -> Services:
    if not _SERVICES:
        log = PipelineLog(DynamoDBEventStore(settings().event_log_table))
        log.observers.append(emit_measures)  # every recorded transition, measured (EMF)
        workflow = StepFunctionsWorkflow()
        path = os.environ.get("SHIPWAVE_SPECS_PATH")
        specs = ParameterSpecs(path, boto_config=RETRYING) if path else None
        _SERVICES.append(
            Services(
                # without specs no step can be checked against its pipeline: each is refused
                steps=PipelineSteps(log, workflow, system_clock, specs=specs or {}),
                engine=_aws_engine(log, workflow, specs),
            )
        )
    return _SERVICES[0]


def _aws_engine(
    log: PipelineLog, workflow: StepFunctionsWorkflow, specs: ParameterSpecs | None
) -> Engine | None:
    """The engine over AWS: the specs each pipeline stack puts in Parameter Store, targets
    and CloudWatch reached through each region's shipwave deploy roles."""
    if specs is None:
        return None
    machines = os.environ.get("STATE_MACHINE_ARN_PREFIX", "")
    # Every stage runs in this account on AWS: the handlers may assume only its deploy roles.
    roles = DeployRoles()
    return Engine(
        log=log,
        specs=specs,
        targets=lambda spec: aws_target(spec, roles),
        alarms=CloudWatchAlarmReader(roles.cloudwatch),
        artifacts=S3ArtifactStore(roles.s3_client),
        workflow=workflow,
        # each pipeline's machine is named "shipwave-<pipeline id>" (the CDK app's convention):
        # one prefix serves any number of pipelines (Lambda: 4 KB of environment at most)
        executions=StepFunctionsExecutions(
            {pipeline_id: machines + pipeline_id for pipeline_id in specs} if machines else {}
        ),
        clock=system_clock,
        # each pipeline's own source system: CodeCommit's record (merging pull requests,
        # approvals, approval rules) or GitHub's (merged pull requests, their reviews); a
        # repository whose record cannot be read has none: its change waits at source
        reviews=SourceSystemReviews(
            specs.values,
            {
                "codecommit": CodeCommitReviewSource(boto3.client("codecommit", config=RETRYING)),
                "github": GitHubReviewSource(_github_token),
            },
        ),
        builder=CodeBuildBuilder(),
        tests=CodeBuildTestRuns(),
        notifier=(
            SnsNotifier(os.environ["SHIPWAVE_PAGE_TOPIC_ARN"])
            if os.environ.get("SHIPWAVE_PAGE_TOPIC_ARN")
            else None
        ),
    )


def _github_token() -> str:
    """The GitHub token, from Secrets Manager (cached 5 minutes); without one configured the
    GitHub review record cannot be read (the change waits at source with that reason)."""
    arn = os.environ.get("GITHUB_TOKEN_SECRET_ARN", "")
    if not arn:
        raise ReviewReadError("GITHUB_TOKEN_SECRET_ARN is not set: GitHub cannot be read")
    try:
        return str(parameters.get_secret(arn, max_age=300))
    except parameters.exceptions.GetParameterError as error:
        raise ReviewReadError(f"the GitHub token could not be read ({error})") from None


def pipeline_steps() -> PipelineSteps:
    return _services().steps


def engine() -> Engine:
    built = _services().engine
    if built is None:
        raise ServicesNotConfiguredError(_NO_SPECS)
    return built


def specs() -> Mapping[str, PipelineSpec]:
    """The pipelines' specs, without building the engine's clients (deploy roles, CodeBuild,
    CodeCommit, SNS) that a handler reading specs only never uses."""
    if _SERVICES:
        return _SERVICES[0].steps.specs
    if not _SPECS:
        path = os.environ.get("SHIPWAVE_SPECS_PATH")
        if not path:
            raise ServicesNotConfiguredError(_NO_SPECS)
        _SPECS.append(ParameterSpecs(path, boto_config=RETRYING))
    return _SPECS[0]


def operations() -> Operations:
    """A person's acts (the operator endpoint), over the same log and engine."""
    built = engine()
    return Operations(
        built.log,
        built.specs,
        clock=built.clock,
        revert_stage=built.revert_stage,
        executions=built.executions,
        recovery=built,
    )
