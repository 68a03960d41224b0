"""The review gate at `Source · Review`: gathers what the review record says and records
what `domain.review` decides."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from domain.errors import ReviewReadError
from domain.events import Event, Stamper
from domain.ports import SourceControl
from domain.review import CommitReview, ReviewDecision, commits_to_read, decide_review
from domain.spec import PipelineSpec
from domain.state import ChangeState, PipelineState
from service.pipeline_log import PipelineLog

Clock = Callable[[], datetime]

#: why nothing can be confirmed where no review record is wired in
NO_SOURCE = "review-unconfirmed: no source control is configured to read approvals from"


class ReviewGate:
    """A change goes on only when every commit its artifact holds is approved by one of the
    pipeline's reviewers other than its author; otherwise it waits at source, recorded."""

    def __init__(self, log: PipelineLog, reviews: SourceControl | None, clock: Clock) -> None:
        self.log = log
        self.reviews = reviews
        self.clock = clock

    def check(self, spec: PipelineSpec, change_id: str) -> dict[str, Any]:
        now = self.clock()
        decided: list[ReviewDecision] = []

        def decide(state: PipelineState, stamp: Stamper) -> list[Event]:
            change = state.changes.get(change_id)
            since = change.held_since if change else None
            held_for = (now - since).total_seconds() if since else 0.0
            brought, unlisted = self._brought(spec, change)
            commits = commits_to_read(state, change_id, brought)
            reviews, unreadable = (None, unlisted) if unlisted else self._read(spec, commits)
            decision = decide_review(
                state,
                stamp,
                change_id=change_id,
                reviews=reviews,
                reviewers=frozenset(spec.reviewers),
                unreadable=unreadable,
                held_for_seconds=held_for,
                brought=brought,
            )
            decided[:] = [decision]
            return list(decision.events)

        self.log.record(spec.pipeline_id, now, decide)
        decision = decided[-1]
        return {
            "outcome": decision.outcome,
            "wait_seconds": decision.wait_seconds,
            "unreviewed": [
                {"commit": u.commit_id, "author": u.author, "why": u.reason}
                for u in decision.unreviewed
            ],
        }

    def _brought(
        self, spec: PipelineSpec, change: ChangeState | None
    ) -> tuple[tuple[str, ...] | None, str]:
        """The commits the change's push brought since the branch's previous head, as the
        source control lists them (None when the change knows no previous head: a new
        branch); with why they cannot be told."""
        if change is None or not change.previous or not change.head:
            return None, ""
        if self.reviews is None:
            return None, NO_SOURCE
        try:
            return self.reviews.commits_since(spec.repository, change.previous, change.head), ""
        except ReviewReadError as error:
            return None, f"review-unconfirmed: the commits since {change.previous[:12]}: {error}"

    def _read(
        self, spec: PipelineSpec, commits: tuple[str, ...]
    ) -> tuple[dict[str, CommitReview] | None, str]:
        if self.reviews is None:
            return None, NO_SOURCE
        try:
            return self.reviews.reviews(spec.repository, commits), ""
        except ReviewReadError as error:
            return None, f"review-unconfirmed: {error}"
