"""Builds and integration test runs, both CodeBuild builds: `Build` and `<Stage> ·
Integration tests` (callback tasks) start them; CodeBuild's "Build State Change" event
(EventBridge) reports their end; `Build · Failed` and `<Stage> · Tests failed` record a run
that never reported.

A build's end names its change through the environment variables the start passed
(`SHIPWAVE_PIPELINE_ID`, `SHIPWAVE_CHANGE_ID`, and `SHIPWAVE_STAGE` for a test run, echoed in
the event's `additional-information.environment`), and is recorded only for the build or run
the log holds as started for that change.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from domain.builds import BuildReport, Phase
from domain.conventions import (
    BUILD_CHANGE_VARIABLE,
    BUILD_PIPELINE_VARIABLE,
    BUILD_STAGE_VARIABLE,
)
from handlers.models import ChangeInput, StepRequest, failure_reason
from handlers.observability import logger, metrics, tracer
from handlers.runtime import engine


class BuildRequestError(ValueError):
    """Neither a `Build` step nor a CodeBuild build state change this handler serves."""


class _Dashed(BaseModel):
    """CodeBuild's event spells its fields with dashes."""

    model_config = ConfigDict(
        extra="ignore", alias_generator=lambda name: name.replace("_", "-"), populate_by_name=True
    )


class CodeBuildArtifact(_Dashed):
    location: str = ""
    sha256sum: str = ""


class CodeBuildVariable(_Dashed):
    name: str
    value: str = ""


class CodeBuildEnvironment(_Dashed):
    environment_variables: list[CodeBuildVariable] = []


class CodeBuildLogs(_Dashed):
    deep_link: str = ""


class CodeBuildPhase(_Dashed):
    phase_type: str
    phase_status: str = ""
    phase_context: list[str] = []


class CodeBuildInformation(_Dashed):
    artifact: CodeBuildArtifact = CodeBuildArtifact()
    environment: CodeBuildEnvironment
    logs: CodeBuildLogs = CodeBuildLogs()
    phases: list[CodeBuildPhase] = []


class CodeBuildDetail(_Dashed):
    build_status: str
    project_name: str
    build_id: str = Field(min_length=1)
    additional_information: CodeBuildInformation


class CodeBuildStateChange(EventBridgeModel):
    """CodeBuild's "Build State Change" event (CodeBuild User Guide, "Build notifications
    input format reference"; tests/fixtures/aws has the published sample)."""

    detail: CodeBuildDetail


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("source") == "aws.codebuild":
        return _finished(CodeBuildStateChange.model_validate(event))
    request = StepRequest.model_validate(event)
    change = ChangeInput.model_validate(request.input)
    if request.action == "start" and request.token:
        started = engine().start_build(change.pipeline_id, change.change_id, request.token)
        if started["started"]:
            metrics.add_metric(name="BuildsStarted", unit=MetricUnit.Count, value=1)
        return started
    if request.action == "failed":
        return engine().build_abandoned(
            change.pipeline_id, change.change_id, failure_reason(request.input)
        )
    if request.action == "test" and request.token and request.stage:
        return engine().start_tests(
            change.pipeline_id, change.change_id, request.stage, request.token
        )
    if request.action == "tests-failed" and request.stage:
        return engine().tests_abandoned(
            change.pipeline_id, change.change_id, request.stage, failure_reason(request.input)
        )
    raise BuildRequestError(
        "build: expected action 'start' or 'test' (with a stage) with a task token, "
        f"'failed' or 'tests-failed'; got {request.action!r}"
    )


def _finished(event: CodeBuildStateChange) -> dict[str, Any]:
    detail = event.detail
    variables = {
        v.name: v.value for v in detail.additional_information.environment.environment_variables
    }
    pipeline_id = variables.get(BUILD_PIPELINE_VARIABLE, "")
    change_id = variables.get(BUILD_CHANGE_VARIABLE, "")
    if not pipeline_id or not change_id:
        raise BuildRequestError(
            f"build {detail.build_id} of {detail.project_name}: no {BUILD_PIPELINE_VARIABLE} / "
            f"{BUILD_CHANGE_VARIABLE} in its environment: not a build shipwave started"
        )
    information = detail.additional_information
    report = BuildReport(
        build_id=detail.build_id,
        status=detail.build_status,
        phases=tuple(
            Phase(phase=p.phase_type, status=p.phase_status, context=tuple(p.phase_context))
            for p in information.phases
        ),
        artifact_location=information.artifact.location,
        sha256=information.artifact.sha256sum,
        log_url=information.logs.deep_link,
    )
    stage = variables.get(BUILD_STAGE_VARIABLE, "")
    if stage:
        tested = engine().tests_finished(pipeline_id, change_id, stage, report)
        if "IntegrationTestsFailed" in tested["recorded"]:
            metrics.add_metric(name="IntegrationTestsFailed", unit=MetricUnit.Count, value=1)
        return tested
    result = engine().build_finished(pipeline_id, change_id, report)
    if "BuildFailed" in result["recorded"]:
        metrics.add_metric(name="BuildsFailed", unit=MetricUnit.Count, value=1)
    return result
