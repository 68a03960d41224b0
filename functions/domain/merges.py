"""Which notifications of a source system are merges a pipeline takes, and which are not.

A source system says a branch moved (CodeCommit's EventBridge `referenceUpdated` /
`referenceCreated`, a GitHub `push` webhook, a commit on the local repository's branch). It
is a merge for a pipeline when it moves a branch (not a tag) to a commit (not a deletion) in
the pipeline's repository and branch. Anything else is answered with the reason it starts
nothing, so no notification is dropped unexplained.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from domain.errors import ShipwaveError
from domain.events import UNKNOWN_AUTHOR, Commit
from domain.spec import PipelineSpec

SourceSystem = Literal["codecommit", "github", "local"]

#: git's name for "no commit": the old head of a new branch, the new head of a deleted one
NO_COMMIT = "0" * 40

# What a notification may carry into the log, the same for every source system: a git
# object id (SHA-1 or SHA-256, abbreviated at least to 7; letters beyond hex are let through
# because AWS's published samples write ids as "7c9cfEXAMPLE..."), names of at most 256 characters,
# and at most 2,048 commits per push (GitHub's own limit on a push payload). A commit's
# message is kept as its first line, at most 200 characters: the log records which commits
# a change holds, not their prose, and must stay below the store's event size.
COMMIT_ID = re.compile(r"[0-9A-Za-z]{7,64}")
MAX_NAME_LENGTH = 256
MAX_COMMITS_PER_PUSH = 2048
MAX_SUMMARY_LENGTH = 200


class MergeFieldError(ShipwaveError):
    """A notification names something no source system would (an id that is no git object
    id, a name longer than any repository's, more commits than one push carries)."""


def summary(message: str) -> str:
    """A commit message's first line, at most MAX_SUMMARY_LENGTH characters."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    return first if len(first) <= MAX_SUMMARY_LENGTH else first[: MAX_SUMMARY_LENGTH - 1] + "…"


@dataclass(frozen=True, kw_only=True)
class Merge:
    source: SourceSystem
    repository: str  # GitHub's "owner/name", CodeCommit's repository name
    branch: str
    commit_id: str  # the branch's new head
    previous: str | None  # its old head; None when the branch was created
    delivery: str  # the notification's id (GitHub delivery, EventBridge event id)
    commits: tuple[Commit, ...] = ()  # as the notification lists them (authors only)


@dataclass(frozen=True, kw_only=True)
class NotAMerge:
    code: str  # "tag", "deleted", "not-a-ref", "no-pipeline"
    reason: str


def branch_moved(
    *,
    source: SourceSystem,
    repository: str,
    ref: str,
    new_commit: str,
    old_commit: str | None,
    delivery: str,
    commits: tuple[Commit, ...] = (),
) -> Merge | NotAMerge:
    """A ref of `repository` moved from `old_commit` to `new_commit`; `ref` is the full ref
    (`refs/heads/main`, `refs/tags/v1`: GitHub's `ref`, CodeCommit's `referenceFullName`).
    MergeFieldError when a field is beyond what any source system sends."""
    _check_fields(repository, ref, new_commit, old_commit, delivery, commits)
    kind, name = _ref(ref)
    where = f"{repository} {ref}"
    if kind == "tag":
        return NotAMerge(code="tag", reason=f"{where}: a tag moved, not a branch")
    if kind != "branch" or not name:
        return NotAMerge(code="not-a-ref", reason=f"{where}: not a branch of the repository")
    if not new_commit or new_commit == NO_COMMIT:
        return NotAMerge(code="deleted", reason=f"{where}: the branch was deleted")
    return Merge(
        source=source,
        repository=repository,
        branch=name,
        commit_id=new_commit,
        previous=None if not old_commit or old_commit == NO_COMMIT else old_commit,
        delivery=delivery,
        commits=tuple(
            Commit(commit_id=c.commit_id, author=c.author, message=summary(c.message))
            for c in commits
        ),
    )


def _check_fields(
    repository: str,
    ref: str,
    new_commit: str,
    old_commit: str | None,
    delivery: str,
    commits: tuple[Commit, ...],
) -> None:
    for field, value in (("repository", repository), ("ref", ref), ("delivery", delivery)):
        if len(value) > MAX_NAME_LENGTH:
            raise MergeFieldError(f"{field}: {len(value)} characters, more than {MAX_NAME_LENGTH}")
    ids = [("new commit", new_commit), ("old commit", old_commit or "")]
    ids += [(f"commit {n}", c.commit_id) for n, c in enumerate(commits)]
    for field, value in ids:
        if value and not COMMIT_ID.fullmatch(value):
            raise MergeFieldError(f"{field}: {value[:80]!r} is no git object id")
    if len(commits) > MAX_COMMITS_PER_PUSH:
        raise MergeFieldError(
            f"{len(commits)} commits, more than the {MAX_COMMITS_PER_PUSH} one push carries"
        )
    for n, commit in enumerate(commits):
        if len(commit.author) > MAX_NAME_LENGTH:
            raise MergeFieldError(
                f"commit {n}: author of {len(commit.author)} characters, more than "
                f"{MAX_NAME_LENGTH}"
            )


def change_id_of(merge: Merge) -> str:
    """A merge's change is named after the commit the branch moved to: the same merge
    reported twice (a redelivery, a retried event) is the same change."""
    return f"chg-{merge.commit_id[:12]}"


def commits_of(merge: Merge) -> tuple[Commit, ...]:
    """The commits the merge brings, as the notification lists them; CodeCommit's event lists
    none, so the head stands for them (its author is read from the review record)."""
    return merge.commits or (Commit(commit_id=merge.commit_id, author=UNKNOWN_AUTHOR),)


def _ref(ref: str) -> tuple[str, str]:
    for prefix, kind in (("refs/heads/", "branch"), ("refs/tags/", "tag")):
        if ref.startswith(prefix):
            return kind, ref.removeprefix(prefix)
    return "", ""


def pipelines_for(merge: Merge, specs: Iterable[PipelineSpec]) -> tuple[str, ...] | NotAMerge:
    """The pipelines that deploy the merged repository and branch, or why there is none.
    A spec's repository is GitHub's "owner/name"; a CodeCommit repository has no owner, so
    it is matched by the name after the owner ("acme/create-order" ↔ "create-order").
    GitHub compares owners and names case-insensitively, as GitHub does."""
    taken = tuple(
        sorted(
            spec.pipeline_id
            for spec in specs
            if spec.branch == merge.branch and _same_repository(merge, spec.repository)
        )
    )
    if not taken:
        return NotAMerge(
            code="no-pipeline",
            reason=f"{merge.repository} branch {merge.branch}: no pipeline deploys it",
        )
    return taken


def _same_repository(merge: Merge, repository: str) -> bool:
    if merge.source == "github":
        return merge.repository.casefold() == repository.casefold()
    if merge.source == "codecommit":
        return merge.repository == repository.rsplit("/", 1)[-1]
    return merge.repository == repository
