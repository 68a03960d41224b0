"""CodeCommit's own review record: the pull request that merged each commit, its approvals
and the evaluation of its approval rules.

A commit counts as reviewed through the closed, merged pull request whose merge commit (or,
fast-forwarded, whose source commit) it is. Its author is the pull request's author (an IAM
principal: the git author name is whatever the committer typed), its approvers the principals
whose approval state is APPROVE, and only when CodeCommit evaluates the pull request's
approval rules as satisfied without an override. A commit merged without a pull request is
known with its git author and no approver. Any read that fails raises ReviewReadError: the
review gate holds the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from domain.errors import ReviewReadError
from domain.ports import ReviewSource
from domain.review import CommitReview

if TYPE_CHECKING:
    from mypy_boto3_codecommit.client import CodeCommitClient

#: closed pull requests read at most per review (newest first as CodeCommit lists them)
MAX_PULL_REQUESTS = 500

_UNKNOWN_COMMIT = {"CommitIdDoesNotExistException", "CommitDoesNotExistException"}


class CodeCommitReviewSource(ReviewSource):
    def __init__(self, client: CodeCommitClient) -> None:
        self._client = client

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

    def _commit(self, repository: str, commit_id: str) -> tuple[str, tuple[str, ...]] | None:
        """(git author name, parents) of the commit; None when CodeCommit has no such commit."""
        try:
            commit = self._client.get_commit(repositoryName=repository, commitId=commit_id)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _UNKNOWN_COMMIT:
                return None
            raise
        found = commit["commit"]
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
                for commit in self._merges(pull, repository) & (commits - set(found)):
                    found[commit] = self._review(pull, commit)
                if len(found) == len(commits):
                    return found
        return found

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
