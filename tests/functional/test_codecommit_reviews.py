"""CodeCommit's review record read through its API. botocore's Stubber checks every request
and response against CodeCommit's published service model (the shapes AWS documents), so the
adapter meets the API's real field names and types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from adapters.codecommit_reviews import CodeCommitReviewSource
from domain.errors import ReviewReadError
from domain.review import CommitReview

REPOSITORY = "create-order"
MERGE, FAST, DIRECT = "a" * 40, "b" * 40, "c" * 40
MARY = "arn:aws:iam::111122223333:user/Mary_Major"
JOE = "arn:aws:iam::111122223333:user/Joe_Reviewer"
AT = datetime(2026, 12, 1, tzinfo=UTC)


def commit(commit_id: str, author: str) -> dict[str, Any]:
    return {
        "commit": {
            "commitId": commit_id,
            "treeId": "d" * 40,
            "parents": ["e" * 40],
            "message": "change",
            "author": {
                "name": author,
                "email": f"{author}@example.com",
                "date": "1700000000 +0000",
            },
            "committer": {
                "name": author,
                "email": f"{author}@example.com",
                "date": "1700000000 +0000",
            },
        }
    }


def pull(identifier: str, *, merge_commit: str | None, source: str, merged: bool = True) -> Any:
    return {
        "pullRequest": {
            "pullRequestId": identifier,
            "title": f"pull request {identifier}",
            "pullRequestStatus": "CLOSED",
            "authorArn": MARY,
            "revisionId": f"rev-{identifier}",
            "creationDate": AT,
            "lastActivityDate": AT,
            "pullRequestTargets": [
                {
                    "repositoryName": REPOSITORY,
                    "sourceReference": "refs/heads/feature",
                    "destinationReference": "refs/heads/main",
                    "sourceCommit": source,
                    "mergeMetadata": {
                        "isMerged": merged,
                        **({"mergeCommitId": merge_commit} if merge_commit else {}),
                        "mergeOption": "THREE_WAY_MERGE" if merge_commit else "FAST_FORWARD_MERGE",
                    },
                }
            ],
        }
    }


def approvals(identifier: str, *users: str) -> tuple[str, Any, dict[str, str]]:
    return (
        "get_pull_request_approval_states",
        {"approvals": [{"userArn": u, "approvalState": "APPROVE"} for u in users]},
        {"pullRequestId": identifier, "revisionId": f"rev-{identifier}"},
    )


def evaluation(identifier: str, *, approved: bool, overridden: bool = False) -> Any:
    return (
        "evaluate_pull_request_approval_rules",
        {
            "evaluation": {
                "approved": approved,
                "overridden": overridden,
                "approvalRulesSatisfied": ["two-reviewers"] if approved else [],
                "approvalRulesNotSatisfied": [] if approved else ["two-reviewers"],
            }
        },
        {"pullRequestId": identifier, "revisionId": f"rev-{identifier}"},
    )


@pytest.fixture
def stubbed() -> tuple[Any, Stubber]:
    client = boto3.client("codecommit", region_name="us-east-1")
    return client, Stubber(client)


def test_commits_are_reviewed_by_the_pull_requests_that_merged_them(
    stubbed: tuple[Any, Stubber],
) -> None:
    client, stub = stubbed
    for commit_id, author in ((MERGE, "mary"), (FAST, "mary"), (DIRECT, "mallory")):
        stub.add_response(
            "get_commit",
            commit(commit_id, author),
            {"repositoryName": REPOSITORY, "commitId": commit_id},
        )
    stub.add_response(
        "list_pull_requests",
        {"pullRequestIds": ["7", "6", "5"]},
        {"repositoryName": REPOSITORY, "pullRequestStatus": "CLOSED"},
    )
    stub.add_response(
        "get_pull_request", pull("7", merge_commit=MERGE, source="f" * 40), {"pullRequestId": "7"}
    )
    stub.add_response(*evaluation("7", approved=True))
    stub.add_response(*approvals("7", JOE, MARY))
    stub.add_response(
        "get_pull_request", pull("6", merge_commit=None, source=FAST), {"pullRequestId": "6"}
    )
    stub.add_response(*evaluation("6", approved=True, overridden=True))
    stub.add_response(*approvals("6", JOE))
    stub.add_response(
        "get_pull_request",
        pull("5", merge_commit=None, source="9" * 40, merged=False),
        {"pullRequestId": "5"},
    )
    with stub:
        found = CodeCommitReviewSource(client).reviews("acme/create-order", [MERGE, FAST, DIRECT])
    stub.assert_no_pending_responses()
    assert found == {
        # the author is the pull request's IAM principal, not the typed git name; the parents
        # are the commit's, as GetCommit says them
        MERGE: CommitReview(
            commit_id=MERGE, author=MARY, approvers=(JOE, MARY), parents=("e" * 40,)
        ),
        # its approval rules were overridden: no approval is confirmed
        FAST: CommitReview(commit_id=FAST, author=MARY, approvers=(), parents=("e" * 40,)),
        # pushed without a pull request: known, unapproved
        DIRECT: CommitReview(commit_id=DIRECT, author="mallory", approvers=(), parents=("e" * 40,)),
    }


def test_an_unknown_commit_is_left_out_and_an_unreadable_record_fails_closed(
    stubbed: tuple[Any, Stubber],
) -> None:
    client, stub = stubbed
    stub.add_client_error("get_commit", "CommitIdDoesNotExistException")
    with stub:
        assert CodeCommitReviewSource(client).reviews("acme/create-order", [MERGE]) == {}
    stub.add_client_error("get_commit", "AccessDeniedException", http_status_code=403)
    with stub, pytest.raises(ReviewReadError, match="AccessDenied"):
        CodeCommitReviewSource(client).reviews("acme/create-order", [MERGE])


# --- the commits a push brought: GetCommit parents walked as git walks them ---------------

SINCE, BASE = "5" * 40, "4" * 40  # the branch's previous head and its parent
ONE, TWO = "1" * 40, "2" * 40  # a pull request's commits
MERGED = "6" * 40  # a three-way merge of the pull request onto the previous head


def dated(commit_id: str, seconds: int, *parents: str) -> dict[str, Any]:
    found = commit(commit_id, "mary")
    found["commit"]["parents"] = list(parents)
    found["commit"]["committer"]["date"] = f"{seconds} +0000"
    return found


def expect_commits(stub: Stubber, *answers: dict[str, Any]) -> None:
    for answer in answers:
        stub.add_response(
            "get_commit",
            answer,
            {"repositoryName": REPOSITORY, "commitId": answer["commit"]["commitId"]},
        )


def test_a_fast_forward_brings_every_commit_of_the_branch(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    expect_commits(
        stub,
        dated(TWO, 1_700_000_300, ONE),
        dated(SINCE, 1_700_000_100, BASE),
        dated(ONE, 1_700_000_200, SINCE),
    )
    with stub:
        brought = CodeCommitReviewSource(client).commits_since("acme/create-order", SINCE, TWO)
    stub.assert_no_pending_responses()
    assert brought == (ONE, TWO)


def test_a_merge_brings_the_branchs_commits_not_those_the_previous_head_has(
    stubbed: tuple[Any, Stubber],
) -> None:
    """The branch forked from BASE: walking from the merge reaches BASE twice, once through
    the previous head, so BASE (and all before it) was not brought."""
    client, stub = stubbed
    expect_commits(
        stub,
        dated(MERGED, 1_700_000_400, SINCE, TWO),
        dated(SINCE, 1_700_000_250, BASE),
        dated(TWO, 1_700_000_300, ONE),
        dated(ONE, 1_700_000_200, BASE),
        dated(BASE, 1_700_000_000, "3" * 40),
    )
    with stub:
        brought = CodeCommitReviewSource(client).commits_since("acme/create-order", SINCE, MERGED)
    stub.assert_no_pending_responses()
    assert brought == (ONE, TWO, MERGED)


def test_a_history_too_long_to_walk_fails_closed(
    stubbed: tuple[Any, Stubber], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, stub = stubbed
    monkeypatch.setattr("adapters.codecommit_reviews.MAX_COMMITS_SINCE", 1)
    expect_commits(stub, dated(TWO, 1_700_000_300, ONE), dated(SINCE, 1_700_000_100, BASE))
    with stub, pytest.raises(ReviewReadError, match="more than a walk of 2 commits"):
        CodeCommitReviewSource(client).commits_since("acme/create-order", SINCE, TWO)
    stub.add_client_error("get_commit", "CommitDoesNotExistException")
    with stub, pytest.raises(ReviewReadError, match="CommitDoesNotExist"):
        CodeCommitReviewSource(client).commits_since("acme/create-order", SINCE, TWO)


def test_each_commit_of_a_fast_forwarded_pull_request_is_reviewed_through_it(
    stubbed: tuple[Any, Stubber],
) -> None:
    client, stub = stubbed
    expect_commits(stub, dated(ONE, 1_700_000_200, SINCE), dated(TWO, 1_700_000_300, ONE))
    stub.add_response(
        "list_pull_requests",
        {"pullRequestIds": ["8"]},
        {"repositoryName": REPOSITORY, "pullRequestStatus": "CLOSED"},
    )
    fast_forward = pull("8", merge_commit=None, source=TWO)
    fast_forward["pullRequest"]["pullRequestTargets"][0].update(
        destinationCommit=SINCE, mergeBase=SINCE
    )
    stub.add_response("get_pull_request", fast_forward, {"pullRequestId": "8"})
    # the pull request's commits, from its merge base to its source commit: ONE and TWO were
    # read already (a commit never changes), only the merge base is asked for
    expect_commits(stub, dated(SINCE, 1_700_000_100, BASE))
    stub.add_response(*evaluation("8", approved=True))
    stub.add_response(*approvals("8", JOE))
    with stub:
        found = CodeCommitReviewSource(client).reviews("acme/create-order", [ONE, TWO])
    stub.assert_no_pending_responses()
    assert found == {
        ONE: CommitReview(commit_id=ONE, author=MARY, approvers=(JOE,), parents=(SINCE,)),
        TWO: CommitReview(commit_id=TWO, author=MARY, approvers=(JOE,), parents=(ONE,)),
    }
