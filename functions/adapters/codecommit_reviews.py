"""CodeCommit's own review record: the pull request that merged each commit, its approvals
and the evaluation of its approval rules.

A commit counts as reviewed through the closed, merged pull request whose merge commit (or,
fast-forwarded, whose source commit) it is. Its author is the pull request's author (an IAM
principal: the git author name is whatever the committer typed), its approvers the principals
whose approval state is APPROVE, and only when CodeCommit evaluates the pull request's
approval rules as satisfied without an override. A commit merged without a pull request is
known with its git author and no approver. Every commit a fast-forwarded pull request brought
(from its merge base to its source commit) counts as reviewed through it.

The commits a push brought are found as git finds them, CodeCommit having no log API: a walk of
GetCommit parents from the new head and from the previous one, newest committer date first,
marking what each reaches, until every commit left to visit is one the previous head reaches
(git's date-ordered walk, as `git rev-list since..head`: what the previous head reaches was
not brought). A walk of more than
2 x MAX_COMMITS_SINCE commits gives up. Any read that fails raises ReviewReadError: the review
gate holds the change.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from domain.errors import ReviewReadError
from domain.ports import MAX_COMMITS_SINCE, SourceControl
from domain.review import CommitReview

if TYPE_CHECKING:
    from mypy_boto3_codecommit.client import CodeCommitClient

#: closed pull requests read at most per review (newest first as CodeCommit lists them)
MAX_PULL_REQUESTS = 500

_BROUGHT, _BEFORE = 1, 2  # reached from the new head, from the previous one
#: commits kept once read (a commit never changes: the gate's walk and its review record,
#: asked in one check, read each commit once)
_COMMITS_KEPT = 4096
_UNKNOWN_COMMIT = {"CommitIdDoesNotExistException", "CommitDoesNotExistException"}


class CodeCommitReviewSource(SourceControl):
    def __init__(self, client: CodeCommitClient) -> None:
        self._client = client
        self._commits: dict[tuple[str, str], Any] = {}

    def _get_commit(self, repository: str, commit_id: str) -> Any:
        """GetCommit's `commit`, read once per reader."""
        key = (repository, commit_id)
        found = self._commits.get(key)
        if found is None:
            found = self._client.get_commit(repositoryName=repository, commitId=commit_id)
            found = found["commit"]
            if len(self._commits) >= _COMMITS_KEPT:
                self._commits.clear()
            self._commits[key] = found
        return found

    def reviews(self, repository: str, commit_ids: Sequence[str]) -> dict[str, CommitReview]:
        name = repository.rsplit("/", 1)[-1]  # CodeCommit repositories have no owner
        wanted = list(dict.fromkeys(commit_ids))
        try:
            known = {c: found for c in wanted if (found := self._commit(name, c)) is not None}
            authors = {c: author for c, (author, _) in known.items()}
            merged = self._merged_by_pull_request(name, set(authors))
        except (ClientError, BotoCoreError) as error:
            raise ReviewReadError(f"CodeCommit repository {name}: {error}") from None
        return {
            commit: replace(
                merged.get(commit) or CommitReview(commit_id=commit, author=author, approvers=()),
                parents=known[commit][1],
            )
            for commit, author in authors.items()
        }

    def commits_since(self, repository: str, since: str, head: str) -> tuple[str, ...]:
        name = repository.rsplit("/", 1)[-1]
        try:
            return self._walk(name, head, since)
        except (ClientError, BotoCoreError) as error:
            raise ReviewReadError(f"CodeCommit repository {name}: {error}") from None

    def _walk(self, repository: str, head: str, since: str) -> tuple[str, ...]:
        """Commits reachable from `head` and not from `since`, oldest first."""
        flags: dict[str, int] = {}
        dates: dict[str, int] = {}
        parents: dict[str, tuple[str, ...]] = {}
        queue: list[tuple[int, str]] = []

        def reach(commit: str, flag: int) -> None:
            if commit not in dates:
                if len(dates) >= 2 * MAX_COMMITS_SINCE:
                    raise ReviewReadError(
                        f"CodeCommit repository {repository}: the commits since {since[:12]} "
                        f"are more than a walk of {2 * MAX_COMMITS_SINCE} commits finds"
                    )
                found = self._get_commit(repository, commit)
                dates[commit] = _seconds(found.get("committer", {}).get("date", ""))
                parents[commit] = tuple(found.get("parents", []))
                heapq.heappush(queue, (-dates[commit], commit))
            flags[commit] = flags.get(commit, 0) | flag

        reach(head, _BROUGHT)
        reach(since, _BEFORE)
        visited: list[str] = []
        while any(not flags[c] & _BEFORE for _, c in queue):
            _, commit = heapq.heappop(queue)
            visited.append(commit)
            for parent in parents[commit]:
                reach(parent, flags[commit])
        brought = [c for c in reversed(visited) if flags[c] == _BROUGHT]
        if len(brought) > MAX_COMMITS_SINCE:
            raise ReviewReadError(
                f"CodeCommit repository {repository}: more than {MAX_COMMITS_SINCE} commits "
                f"since {since[:12]}: too many to review one by one"
            )
        return tuple(brought)

    def _commit(self, repository: str, commit_id: str) -> tuple[str, tuple[str, ...]] | None:
        """(git author name, parents) of the commit; None when CodeCommit has no such commit."""
        try:
            found = self._get_commit(repository, commit_id)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _UNKNOWN_COMMIT:
                return None
            raise
        return str(found.get("author", {}).get("name", "unknown")), tuple(found.get("parents", []))

    def _merged_by_pull_request(
        self, repository: str, commits: set[str]
    ) -> dict[str, CommitReview]:
        found: dict[str, CommitReview] = {}
        if not commits:
            return found
        pages = self._client.get_paginator("list_pull_requests").paginate(
            repositoryName=repository,
            pullRequestStatus="CLOSED",
            PaginationConfig={"MaxItems": MAX_PULL_REQUESTS},
        )
        for page in pages:
            for pull_request_id in page["pullRequestIds"]:
                pull = self._client.get_pull_request(pullRequestId=pull_request_id)["pullRequest"]
                merges = self._merges(pull, repository)
                if not merges & commits:
                    continue
                wanted = commits - set(found)
                # the pull request's own commits are walked only for those its merge is not
                covered = (merges & wanted) | self._brought_by(pull, repository, wanted - merges)
                if covered:
                    review = self._review(pull, "")
                    found.update({c: replace(review, commit_id=c) for c in sorted(covered)})
                if len(found) == len(commits):
                    return found
        return found

    def _brought_by(self, pull: Any, repository: str, wanted: set[str]) -> set[str]:
        """The wanted commits the merged pull request brought: those from its merge base to
        its source commit (a fast-forward brings every commit of the branch)."""
        brought: set[str] = set()
        for target in pull.get("pullRequestTargets", []):
            base = target.get("mergeBase") or target.get("destinationCommit")
            source = target.get("sourceCommit")
            if wanted - brought and target.get("repositoryName") == repository and base and source:
                brought.update(self._walk(repository, source, base))
        return brought & wanted

    @staticmethod
    def _merges(pull: Any, repository: str) -> set[str]:
        merged: set[str] = set()
        for target in pull.get("pullRequestTargets", []):
            metadata = target.get("mergeMetadata", {})
            if target.get("repositoryName") != repository or not metadata.get("isMerged"):
                continue
            merged.update(
                c for c in (metadata.get("mergeCommitId"), target.get("sourceCommit")) if c
            )
        return merged

    def _review(self, pull: Any, commit: str) -> CommitReview:
        identifier, revision = pull["pullRequestId"], pull["revisionId"]
        evaluation = self._client.evaluate_pull_request_approval_rules(
            pullRequestId=identifier, revisionId=revision
        )["evaluation"]
        approvals = self._client.get_pull_request_approval_states(
            pullRequestId=identifier, revisionId=revision
        )["approvals"]
        confirmed = bool(evaluation.get("approved")) and not evaluation.get("overridden")
        return CommitReview(
            commit_id=commit,
            author=pull.get("authorArn", "unknown"),
            approvers=tuple(
                a["userArn"]
                for a in approvals
                if confirmed and a.get("approvalState") == "APPROVE" and a.get("userArn")
            ),
        )


def _seconds(date: str) -> int:
    """CodeCommit's commit date ("1700000000 +0000": seconds since the epoch, the offset)."""
    try:
        return int(date.split(maxsplit=1)[0])
    except (IndexError, ValueError):
        return 0
