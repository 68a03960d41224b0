"""The pipeline's build and integration tests on AWS: its CodeBuild projects
(`shipwave-build-<pipeline id>` and `shipwave-build-<pipeline id>-tests`, made by the
pipeline's stack) started on the change's head commit.

Each is started with the pipeline's and change's ids (and a test run's stage and endpoint)
as environment variables, which CodeBuild echoes in its "Build State Change" event, so its end
finds its change; a retried start within five minutes is the same build (StartBuild's
idempotency token). A test run's failed tests are read from its CodeBuild test report
(the JUnit XML the tests wrote, which CodeBuild parses into test cases).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from adapters.aws_session import RETRYING
from domain.conventions import (
    BUILD_CHANGE_VARIABLE,
    BUILD_PIPELINE_VARIABLE,
    BUILD_STAGE_VARIABLE,
    build_project_name,
    test_project_name,
)
from domain.errors import BuildStartError, IntegrationTestRunError
from domain.ports import Builder, BuildRequest, IntegrationTestRequest, IntegrationTestRuns

if TYPE_CHECKING:
    from mypy_boto3_codebuild.client import CodeBuildClient


class CodeBuildBuilder(Builder):
    def __init__(self, client: CodeBuildClient | None = None) -> None:
        self._client = client or boto3.client("codebuild", config=RETRYING)

    def start(self, request: BuildRequest) -> str:
        project = build_project_name(request.pipeline_id)
        try:
            started = self._client.start_build(
                projectName=project,
                sourceVersion=request.commit_id,
                idempotencyToken=request.run_key,
                environmentVariablesOverride=[
                    {
                        "name": BUILD_PIPELINE_VARIABLE,
                        "value": request.pipeline_id,
                        "type": "PLAINTEXT",
                    },
                    {
                        "name": BUILD_CHANGE_VARIABLE,
                        "value": request.change_id,
                        "type": "PLAINTEXT",
                    },
                ],
            )
        except (ClientError, BotoCoreError) as error:
            raise BuildStartError(
                f"{project}: the build of {request.commit_id} could not start ({error})"
            ) from None
        arn = started.get("build", {}).get("arn")
        if not arn:
            raise BuildStartError(f"{project}: StartBuild answered no build ARN")
        return arn


class CodeBuildTestRuns(IntegrationTestRuns):
    def __init__(self, client: CodeBuildClient | None = None) -> None:
        self._client = client or boto3.client("codebuild", config=RETRYING)

    def start(self, request: IntegrationTestRequest) -> str:
        project = test_project_name(request.pipeline_id)
        if not request.endpoint:
            raise IntegrationTestRunError(f"{project}: {request.stage} names no endpoint")
        variables = {
            BUILD_PIPELINE_VARIABLE: request.pipeline_id,
            BUILD_CHANGE_VARIABLE: request.change_id,
            BUILD_STAGE_VARIABLE: request.stage,
            "SHIPWAVE_ENDPOINT": request.endpoint,
        }
        try:
            started = self._client.start_build(
                projectName=project,
                sourceVersion=request.commit_id,
                idempotencyToken=request.run_key,
                environmentVariablesOverride=[
                    {"name": name, "value": value, "type": "PLAINTEXT"}
                    for name, value in variables.items()
                ],
            )
        except (ClientError, BotoCoreError) as error:
            raise IntegrationTestRunError(
                f"{project}: the tests of {request.stage} could not start ({error})"
            ) from None
        arn = started.get("build", {}).get("arn")
        if not arn:
            raise IntegrationTestRunError(f"{project}: StartBuild answered no build ARN")
        return arn

    def failed_tests(self, run_id: str) -> tuple[str, ...]:
        """The FAILED and ERROR test cases of the run's reports; a run with no report cannot
        vouch for its tests (IntegrationTestRunError: the stage fails)."""
        try:
            # the event names the build by ARN; BatchGetBuilds takes its id ("<project>:<uuid>")
            build_id = run_id.split(":build/", 1)[-1]
            builds = self._client.batch_get_builds(ids=[build_id]).get("builds", [])
            reports = builds[0].get("reportArns", []) if builds else []
            if not reports:
                raise IntegrationTestRunError(f"{run_id}: the run left no test report")
            failed: list[str] = []
            for report in reports:
                for status in ("FAILED", "ERROR"):
                    pages = self._client.get_paginator("describe_test_cases").paginate(
                        reportArn=report, filter={"status": status}
                    )
                    failed.extend(
                        f"{case.get('prefix', '')}.{case['name']}".lstrip(".")
                        for page in pages
                        for case in page.get("testCases", [])
                    )
        except (ClientError, BotoCoreError) as error:
            raise IntegrationTestRunError(
                f"{run_id}: its test report is unreadable ({error})"
            ) from None
        return tuple(failed)
