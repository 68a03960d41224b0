"""What the source systems send, read at the edge: CodeCommit's EventBridge event (Powertools'
EventBridge model with CodeCommit's detail), GitHub's `push` webhook and the local runtime's
git repository (an EventBridge-shaped event of source `shipwave.local`), each turned into a
`Merge` or the reason it is none (domain/merges.py decides)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field

from domain.events import Commit
from domain.merges import Merge, NotAMerge, branch_moved

#: the CodeCommit events that move a reference (CodeCommit User Guide, "Monitoring CodeCommit
#: events in Amazon EventBridge and Amazon CloudWatch Events")
REFERENCE_EVENTS = ("referenceCreated", "referenceUpdated", "referenceDeleted")


class CodeCommitReference(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event: str
    repositoryName: str = Field(min_length=1)  # CodeCommit's field names
    referenceType: str
    referenceName: str
    referenceFullName: str
    commitId: str = ""
    oldCommitId: str | None = None


class CodeCommitStateChange(EventBridgeModel):
    detail: CodeCommitReference


def codecommit_merge(event: dict[str, Any]) -> Merge | NotAMerge:
    """A `CodeCommit Repository State Change` event; ValidationError when it is not one."""
    parsed = CodeCommitStateChange.model_validate(event)
    detail = parsed.detail
    if detail.event not in REFERENCE_EVENTS:
        return NotAMerge(
            code="not-a-ref",
            reason=f"{detail.repositoryName}: CodeCommit event {detail.event!r} moves no branch",
        )
    return branch_moved(
        source="codecommit",
        repository=detail.repositoryName,
        ref=detail.referenceFullName,
        new_commit="" if detail.event == "referenceDeleted" else detail.commitId,
        old_commit=detail.oldCommitId,
        delivery=parsed.id,
    )


class GitHubAuthor(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = ""
    username: str | None = None


class GitHubCommit(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    message: str = ""
    author: GitHubAuthor


class GitHubRepository(BaseModel):
    model_config = ConfigDict(extra="ignore")

    full_name: str = Field(min_length=3)


class GitHubPush(BaseModel):
    """GitHub's `push` webhook payload (the fields a merge needs)."""

    model_config = ConfigDict(extra="ignore")

    ref: str
    before: str
    after: str
    deleted: bool = False
    repository: GitHubRepository
    commits: list[GitHubCommit] = []


def github_merge(delivery: str, body: bytes) -> Merge | NotAMerge:
    """A `push` delivery's body; ValidationError when it is not a push payload."""
    push = GitHubPush.model_validate_json(body)
    return branch_moved(
        source="github",
        repository=push.repository.full_name,
        ref=push.ref,
        new_commit="" if push.deleted else push.after,
        old_commit=push.before,
        delivery=delivery,
        commits=tuple(
            Commit(
                commit_id=c.id,
                author=c.author.username or c.author.name,
                message=c.message,
            )
            for c in push.commits
        ),
    )


#: the local runtime's notification that a branch of its git repository moved
LOCAL_SOURCE = "shipwave.local"


class LocalCommit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    commit_id: str = Field(min_length=1)
    author: str = Field(min_length=1)
    message: str = ""


class LocalBranchMoved(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repository: str = Field(min_length=1)
    ref: str
    old_commit: str | None = None
    new_commit: str
    commits: list[LocalCommit]


class LocalStateChange(EventBridgeModel):
    detail: LocalBranchMoved


def local_merge(event: dict[str, Any]) -> Merge | NotAMerge:
    """The local git repository's branch moved (`git log old..new` lists the commits)."""
    parsed = LocalStateChange.model_validate(event)
    detail = parsed.detail
    return branch_moved(
        source="local",
        repository=detail.repository,
        ref=detail.ref,
        new_commit=detail.new_commit,
        old_commit=detail.old_commit,
        delivery=parsed.id,
        commits=tuple(
            Commit(commit_id=c.commit_id, author=c.author, message=c.message)
            for c in detail.commits
        ),
    )
