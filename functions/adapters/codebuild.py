"""The pipeline's build on AWS: its CodeBuild project (`shipwave-build-<pipeline id>`, made
by the pipeline's stack) started on the change's head commit.

The build is started with the pipeline's and change's ids as environment variables, which
CodeBuild echoes in its "Build State Change" event, so its end finds its change; a retried
start within five minutes is the same build (StartBuild's idempotency token).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from adapters.aws_session import RETRYING
from domain.conventions import BUILD_CHANGE_VARIABLE, BUILD_PIPELINE_VARIABLE, build_project_name
from domain.errors import BuildStartError
from domain.ports import Builder, BuildRequest

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
                idempotencyToken=f"{request.pipeline_id}/{request.change_id}",
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
