"""The review gate at `Source · Review`: gathers what the review record says and records
what `domain.review` decides."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from domain.errors import ReviewReadError
from domain.events import Event, Stamper
from domain.ports import ReviewSource
from domain.review import CommitReview, ReviewDecision, commits_to_read, decide_review
from domain.spec import PipelineSpec
from domain.state import PipelineState
from service.pipeline_log import PipelineLog

Clock = Callable[[], datetime]

#: why nothing can be confirmed where no review record is wired in
NO_SOURCE = "review-unconfirmed: no source control is configured to read approvals from"


class ReviewGate:
    """A change goes on only when every commit its artifact holds is approved by one of the
    pipeline's reviewers other than its author; otherwise it waits at source, recorded."""

    def __init__(self, log: PipelineLog, reviews: ReviewSource | None, clock: Clock) -> None:
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
            reviews, unreadable = self._read(spec, commits_to_read(state, change_id))
            decision = decide_review(
                state,
                stamp,
                change_id=change_id,
                reviews=reviews,
                reviewers=frozenset(spec.reviewers),
                unreadable=unreadable,
                held_for_seconds=held_for,
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

    def _read(
        self, spec: PipelineSpec, commits: tuple[str, ...]
    ) -> tuple[dict[str, CommitReview] | None, str]:
        if self.reviews is None:
            return None, NO_SOURCE
        try:
            return self.reviews.reviews(spec.repository, commits), ""
        except ReviewReadError as error:
            return None, f"review-unconfirmed: {error}"
