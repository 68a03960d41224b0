"""Intake: a built, checksummed change from the build step starts its pipeline.

The build system sends `{"pipeline_id", "change_id", "source", "commits": [...],
"artifact": {"version", "checksum", "uri"}}` after building and checksumming. Approvals are
not taken from this event: the execution's first state asks the source system's review
record, and the change waits there until every commit is reviewed.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from domain.events import Artifact, Commit
from handlers.observability import logger, metrics, tracer
from handlers.runtime import engine


class CommitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # an approval sent here would be ignored: refuse

    commit_id: str = Field(min_length=1)
    author: str = Field(min_length=1)
    message: str = ""


class ArtifactIn(BaseModel):
    version: str = Field(min_length=1)
    checksum: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    uri: str = ""


class ChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pipeline_id: str = Field(min_length=1, max_length=128)
    change_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
    source: str = "build"
    commits: list[CommitIn] = Field(min_length=1)
    artifact: ArtifactIn


# The intake faces the outside world (its Function URL): anonymous requests are never logged.
@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = ChangeIn.model_validate(event)
    execution = engine().receive(
        change.pipeline_id,
        change.change_id,
        source=change.source,
        commits=tuple(
            Commit(
                commit_id=c.commit_id,
                author=c.author,
                message=c.message,
            )
            for c in change.commits
        ),
        artifact=Artifact(**change.artifact.model_dump()),
    )
    return {
        "pipeline_id": change.pipeline_id,
        "change_id": change.change_id,
        "execution": execution,
    }
