"""The code review gate of SPEC practice 2, as pure decisions.

Every commit an artifact contains must be approved by a member of the pipeline's reviewers
other than its author. Approvals come from the source system's review record (the
`SourceControl` port), never from whoever reported the merge. A change whose artifact holds an
unreviewed commit waits at source; later changes contain that commit too, so they wait behind
it. When the commit is approved after the fact, the newest waiting change goes on and the
older ones at source end superseded, their commits riding along.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from domain.events import (
    ChangeSuperseded,
    Event,
    ReviewHeld,
    ReviewPassed,
    Stamper,
)
from domain.rollout import recheck_seconds
from domain.state import ChangeState, PipelineState

#: the pseudo-stage a change waits at before its first stage
SOURCE = "source"
#: statuses of a change that may not yet have passed the review gate ("built": a change
#: recorded before builds followed the review, as logs of earlier versions hold them)
AT_SOURCE = ("received", "built", "held-at-source")


def at_source(change: ChangeState) -> bool:
    """Whether the change waits for (or has not yet reached) the review gate."""
    return change.status in AT_SOURCE and not change.reviewed


Outcome = Literal["pass", "hold", "superseded"]


@dataclass(frozen=True, kw_only=True)
class CommitReview:
    """One commit as the source system's review record has it."""

    commit_id: str
    author: str
    approvers: tuple[str, ...]  # who approved it (user names, IAM principals, logins)
    #: its parents, first parent first, when the record says (None: it does not)
    parents: tuple[str, ...] | None = None


@dataclass(frozen=True, kw_only=True)
class Unreviewed:
    commit_id: str
    author: str
    code: str  # "no-record", "no-approval", "author-only", "not-a-reviewer", "unconfirmed"
    reason: str


@dataclass(frozen=True, kw_only=True)
class ReviewDecision:
    outcome: Outcome
    events: tuple[Event, ...]
    wait_seconds: int  # with "hold": when to read the review record again
    unreviewed: tuple[Unreviewed, ...] = ()


def _name(who: str) -> str:
    return who.strip().casefold()


def check_commit(
    review: CommitReview | None, commit_id: str, reviewers: frozenset[str]
) -> Unreviewed | None:
    """None when the commit is approved by a team member other than its author, else why not.

    Names compare without surrounding blanks and case (GitHub logins are case-insensitive);
    a blank approval is no approval."""
    if review is None:
        return Unreviewed(
            commit_id=commit_id,
            author="unknown",
            code="no-record",
            reason="the source system has no record of this commit",
        )
    author = _name(review.author)
    approvers = {_name(a) for a in review.approvers if a.strip()}
    members = {_name(r) for r in reviewers if r.strip()}
    if not approvers:
        return Unreviewed(
            commit_id=commit_id,
            author=review.author,
            code="no-approval",
            reason="no approved code review",
        )
    others = approvers - {author}
    if not others:
        return Unreviewed(
            commit_id=commit_id,
            author=review.author,
            code="author-only",
            reason=f"approved only by its author {review.author}",
        )
    if not others & members:
        return Unreviewed(
            commit_id=commit_id,
            author=review.author,
            code="not-a-reviewer",
            reason=(
                f"approved by {', '.join(sorted(others))}, none of them among the "
                "pipeline's reviewers"
            ),
        )
    return None


def commits_to_review(
    state: PipelineState, change_id: str, brought: tuple[str, ...] | None = None
) -> tuple[str, ...]:
    """The commits the change's artifact holds that no passed review covers: its own and
    those of every earlier change still at source (their commits are in its build too), and
    those the source says its push `brought`."""
    return _with(_at_source(state, change_id, through=True), brought)


def commits_to_read(
    state: PipelineState, change_id: str, brought: tuple[str, ...] | None = None
) -> tuple[str, ...]:
    """Every commit the decision for `change_id` may look at: those of every change at source
    (a newer one may carry this one's commits on), the change's own, and those its push
    `brought`."""
    return _with(_at_source(state, change_id, through=False), brought)


def _with(commits: tuple[str, ...], brought: tuple[str, ...] | None) -> tuple[str, ...]:
    return commits + tuple(c for c in brought or () if c not in commits)


def _at_source(state: PipelineState, change_id: str, *, through: bool) -> tuple[str, ...]:
    """The commits of the changes at source and of `change_id`, in order received; with
    `through`, none received after `change_id`."""
    commits: list[str] = []
    for change in state.changes.values():
        if at_source(change) or change.change_id == change_id:
            commits.extend(c for c in change.commits if c not in commits)
        if through and change.change_id == change_id:
            break
    return tuple(commits)


def decide_review(
    state: PipelineState,
    stamp: Stamper,
    *,
    change_id: str,
    reviews: Mapping[str, CommitReview] | None,
    reviewers: frozenset[str],
    unreadable: str = "",
    held_for_seconds: float = 0.0,
    brought: tuple[str, ...] | None = None,
) -> ReviewDecision:
    """The change at source: pass, keep holding (recording each new reason), or, when it was
    held and a newer change now carries its commits onwards, end superseded by the newest.

    `brought` is what the source control says the push brought since the branch's previous
    head (None: it was not asked, the change knowing no previous head): each of those commits
    is reviewed with those the change was told of. `reviews` is what the review record says of
    them; None with `unreadable` when it could not be read: the change holds (fail closed)."""
    change = state.changes.get(change_id)
    if change is None or not at_source(change):
        return ReviewDecision(outcome="pass", events=(), wait_seconds=0)
    commits = commits_to_review(state, change_id, brought)
    if reviews is None:
        problems: tuple[Unreviewed, ...] = tuple(
            Unreviewed(commit_id=c, author="unknown", code="unconfirmed", reason=unreadable)
            for c in commits
        )
    else:
        problems = _problems(commits, reviews, reviewers)
        if brought is None:  # nobody listed the push's commits: check that none is missing
            problems += _unlisted(state, change, reviews)
    if problems:
        events: list[Event] = [
            stamp(
                ReviewHeld,
                f"{change_id}:review-held:{p.commit_id}:{p.code}",
                change_id=change_id,
                commit_id=p.commit_id,
                author=p.author,
                reason=p.reason,
            )
            for p in problems
            if (p.commit_id, p.reason) not in change.held_for
        ]
        return ReviewDecision(
            outcome="hold",
            events=tuple(events),
            wait_seconds=recheck_seconds(held_for_seconds),
            unreviewed=problems,
        )
    newer = _carrier(state, change, reviews, reviewers)
    if change.status == "held-at-source" and newer is not None:
        return ReviewDecision(
            outcome="superseded",
            events=(
                stamp(
                    ChangeSuperseded,
                    f"{change_id}:{SOURCE}:superseded",
                    stage=SOURCE,
                    change_id=change_id,
                    superseded_by=newer,
                ),
            ),
            wait_seconds=0,
        )
    approvals = tuple(
        (c, ",".join(sorted({a.strip() for a in reviews[c].approvers if a.strip()})))
        for c in commits
        if reviews is not None and c in reviews
    )
    authors = tuple(
        (c, reviews[c].author.strip()) for c in commits if reviews is not None and c in reviews
    )
    return ReviewDecision(
        outcome="pass",
        events=(
            stamp(
                ReviewPassed,
                f"{change_id}:review-passed",
                change_id=change_id,
                approvals=approvals,
                authors=authors,
            ),
        ),
        wait_seconds=0,
    )


def _unlisted(
    state: PipelineState, change: ChangeState, reviews: Mapping[str, CommitReview]
) -> tuple[Unreviewed, ...]:
    """Commits the change holds but was not told of: a listed commit whose first parent is
    neither the branch's previous head nor another commit of the change means the push moved
    the branch over commits nobody listed (CodeCommit's event names only the new head), so
    they were never reviewed. Checked where the record names parents and the change knows
    the previous head."""
    if not change.previous:
        return ()
    listed = set(change.commits)
    # the commits of changes it carries on come with the heads their pushes started from
    starts = {change.previous} | {
        carried.previous
        for carried in (state.change(c) for c in change.riding_along)
        if carried is not None and carried.previous
    }
    found = []
    for commit in change.commits:
        review = reviews.get(commit)
        if review is None or not review.parents:
            continue
        first = review.parents[0]
        if first not in starts and first not in listed:
            found.append(
                Unreviewed(
                    commit_id=commit,
                    author=review.author,
                    code="unlisted",
                    reason=(
                        f"its parent {first[:12]} is neither the branch's previous head "
                        f"{change.previous[:12]} nor a commit of the change: the push carries "
                        "commits that were never listed, so never reviewed"
                    ),
                )
            )
    return tuple(found)


def _problems(
    commits: Sequence[str], reviews: Mapping[str, CommitReview], reviewers: frozenset[str]
) -> tuple[Unreviewed, ...]:
    return tuple(
        problem
        for c in commits
        if (problem := check_commit(reviews.get(c), c, reviewers)) is not None
    )


def _carrier(
    state: PipelineState,
    change: ChangeState,
    reviews: Mapping[str, CommitReview] | None,
    reviewers: frozenset[str],
) -> str | None:
    """The newest change received after `change` that carries its commits on: one that passed
    the review gate already, or one at source whose own review now passes."""
    found = None
    seen = False
    for other in state.changes.values():
        if other.change_id == change.change_id:
            seen = True
        elif seen and (
            not at_source(other)
            or (
                reviews is not None
                and not _problems(commits_to_review(state, other.change_id), reviews, reviewers)
            )
        ):
            found = other.change_id
    return found
