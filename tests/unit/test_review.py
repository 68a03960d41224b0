"""The review gate: a commit counts as reviewed only when a team member other than its
author approved it, and a change holding an unreviewed commit waits at source."""

from __future__ import annotations

import pytest

from domain.events import (
    ChangeReceived,
    ChangeSuperseded,
    Commit,
    ReviewHeld,
    ReviewPassed,
    Stamper,
)
from domain.review import (
    CommitReview,
    ReviewDecision,
    check_commit,
    commits_to_review,
    decide_review,
)
from domain.state import PipelineState, project
from tests.builders import T0, StreamLog

PIPELINE = "orders-app"
TEAM = frozenset({"ana", "bo", "Chen"})


def review(commit: str, author: str, *approvers: str) -> CommitReview:
    return CommitReview(commit_id=commit, author=author, approvers=approvers)


@pytest.mark.parametrize(
    ("approvers", "code"),
    [
        ((), "no-approval"),
        (("",), "no-approval"),
        ((" ",), "no-approval"),
        (("ana",), "author-only"),
        ((" ANA ",), "author-only"),
        (("mallory",), "not-a-reviewer"),
        (("ana", "mallory"), "not-a-reviewer"),
    ],
)
def test_a_commit_without_a_team_approval_other_than_its_author_is_unreviewed(
    approvers: tuple[str, ...], code: str
) -> None:
    problem = check_commit(review("c1", "ana", *approvers), "c1", TEAM)
    assert problem is not None
    assert (problem.commit_id, problem.author, problem.code) == ("c1", "ana", code)


def test_an_approval_by_another_team_member_reviews_a_commit_whatever_the_case() -> None:
    assert check_commit(review("c1", "ana", "chen"), "c1", TEAM) is None
    assert check_commit(review("c1", "ana", "ana", "bo"), "c1", TEAM) is None


def test_a_commit_the_source_system_does_not_know_is_unreviewed() -> None:
    problem = check_commit(None, "c1", TEAM)
    assert problem is not None
    assert problem.code == "no-record"


class Log(StreamLog):
    def decide(
        self,
        change: str,
        reviews: dict[str, CommitReview] | None,
        unreadable: str = "",
    ) -> ReviewDecision:
        decision = decide_review(
            self.state,
            self.stamp(),
            change_id=change,
            reviews=reviews,
            reviewers=TEAM,
            unreadable=unreadable,
        )
        self.events += decision.events
        return decision


def test_a_reviewed_change_passes_with_its_approvals_recorded() -> None:
    log = Log("c1")
    decision = log.decide("c1", {"c1-c1": review("c1-c1", "ana", "bo")})
    assert decision.outcome == "pass"
    (passed,) = decision.events
    assert isinstance(passed, ReviewPassed)
    assert passed.approvals == (("c1-c1", "bo"),)
    assert passed.authors == (("c1-c1", "ana"),)  # as the review record names the author
    assert log.state.changes["c1"].status == "reviewed"
    assert log.state.changes["c1"].authors == ("ana",)


def test_an_unreviewed_change_holds_at_source_recorded_once_per_reason() -> None:
    log = Log("c1")
    first = log.decide("c1", {"c1-c1": review("c1-c1", "ana", "ana")})
    assert first.outcome == "hold"
    assert first.wait_seconds == 600
    (held,) = first.events
    assert isinstance(held, ReviewHeld)
    assert (held.commit_id, held.author) == ("c1-c1", "ana")
    assert "only by its author" in held.reason
    change = log.state.changes["c1"]
    assert change.status == "held-at-source"
    assert "c1-c1" in change.reason
    assert "ana" in change.reason
    again = log.decide("c1", {"c1-c1": review("c1-c1", "ana", "ana")})
    assert again.outcome == "hold"
    assert again.events == ()


def test_an_unreadable_review_record_holds_and_names_why() -> None:
    log = Log("c1")
    decision = log.decide("c1", None, unreadable="review-unconfirmed: GitHub answered 502")
    assert decision.outcome == "hold"
    assert "502" in log.state.changes["c1"].reason


def test_later_changes_wait_behind_an_unreviewed_commit_they_contain() -> None:
    log = Log("c1", "c2")
    reviews = {"c1-c1": review("c1-c1", "ana"), "c2-c1": review("c2-c1", "ana", "bo")}
    log.decide("c1", reviews)
    assert commits_to_review(log.state, "c2") == ("c1-c1", "c2-c1")
    decision = log.decide("c2", reviews)
    assert decision.outcome == "hold"
    assert [u.commit_id for u in decision.unreviewed] == ["c1-c1"]


def test_once_approved_after_the_fact_the_newest_goes_on_and_older_ones_are_superseded() -> None:
    log = Log("c1", "c2")
    unapproved = {"c1-c1": review("c1-c1", "ana"), "c2-c1": review("c2-c1", "ana", "bo")}
    log.decide("c1", unapproved)
    log.decide("c2", unapproved)
    approved = {**unapproved, "c1-c1": review("c1-c1", "ana", "chen")}
    older = log.decide("c1", approved)
    assert older.outcome == "superseded"
    (superseded,) = older.events
    assert isinstance(superseded, ChangeSuperseded)
    assert (superseded.stage, superseded.superseded_by) == ("source", "c2")
    newest = log.decide("c2", approved)
    assert newest.outcome == "pass"
    state = log.state
    assert state.finished[-1].status == "superseded"
    assert state.changes["c2"].riding_along == ("c1",)
    assert "source" not in state.stages


def test_a_held_change_is_not_superseded_by_a_newer_change_that_is_itself_held() -> None:
    log = Log("c1", "c2")
    reviews = {"c1-c1": review("c1-c1", "ana"), "c2-c1": review("c2-c1", "ana")}
    log.decide("c1", reviews)
    log.decide("c2", reviews)
    reviews["c1-c1"] = review("c1-c1", "ana", "bo")
    assert log.decide("c1", reviews).outcome == "pass"
    assert log.decide("c2", reviews).outcome == "hold"


def test_a_change_never_held_passes_even_with_a_newer_change_behind_it() -> None:
    log = Log("c1", "c2")
    reviews = {"c1-c1": review("c1-c1", "ana", "bo"), "c2-c1": review("c2-c1", "ana", "bo")}
    assert log.decide("c1", reviews).outcome == "pass"
    assert log.decide("c2", reviews).outcome == "pass"


def pushed_head_only(head: str) -> PipelineState:
    """A change received from an event that names only the new head (as CodeCommit's does),
    with the branch's previous head."""
    received = Stamper("orders-app", 1, T0)(
        ChangeReceived,
        "c1:received",
        change_id="c1",
        source="codecommit",
        repository="orders",
        branch="main",
        commits=(Commit(commit_id=head, author="unknown"),),
        head=head,
        previous="p" * 40,
    )
    return project([received])


def test_a_push_over_commits_nobody_listed_holds_the_change() -> None:
    """CodeCommit's event names only the new head: when its first parent is not the branch's
    previous head, the push carried commits that were never listed, so never reviewed."""
    state = pushed_head_only("m" * 40)

    def decide(parents: tuple[str, ...] | None) -> ReviewDecision:
        record = CommitReview(commit_id="m" * 40, author="ana", approvers=("bo",), parents=parents)
        return decide_review(
            state,
            Stamper("orders-app", 2, T0),
            change_id="c1",
            reviews={"m" * 40: record},
            reviewers=frozenset({"ana", "bo"}),
        )

    held = decide(("x" * 40, "s" * 40))  # a merge whose mainline parent is an unlisted commit
    assert held.outcome == "hold"
    assert [u.code for u in held.unreviewed] == ["unlisted"]
    assert "never listed" in held.unreviewed[0].reason
    assert decide(("p" * 40, "s" * 40)).outcome == "pass"  # a merge onto the previous head
    assert decide(None).outcome == "pass"  # the record names no parents: nothing to check


def test_every_commit_the_source_says_the_push_brought_is_reviewed_with_the_listed_ones() -> None:
    """A fast-forward of a pull request's three commits: the event names only the head; the
    source control lists all three, and each must be approved."""
    first, second, head = "1" * 40, "2" * 40, "3" * 40
    state = pushed_head_only(head)

    def decide(records: dict[str, CommitReview]) -> ReviewDecision:
        return decide_review(
            state,
            Stamper("orders-app", 2, T0),
            change_id="c1",
            reviews=records,
            reviewers=frozenset({"ana", "bo"}),
            brought=(first, second, head),
        )

    # the head's record names a parent nobody listed: with the source's list that is no hold
    approved = {
        c: CommitReview(commit_id=c, author="ana", approvers=("bo",), parents=("x" * 40,))
        for c in (first, second, head)
    }
    passed = decide(approved)
    assert passed.outcome == "pass"
    (event,) = passed.events
    assert isinstance(event, ReviewPassed)
    assert [c for c, _ in event.approvals] == [head, first, second]  # every commit recorded
    missing = dict(approved)
    del missing[second]  # the source knows no review of the middle commit
    held = decide(missing)
    assert held.outcome == "hold"
    assert [(u.commit_id, u.code) for u in held.unreviewed] == [(second, "no-record")]
