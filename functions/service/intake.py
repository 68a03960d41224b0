"""Intake: a merged change is recorded and started; the review gate; onboarding."""

from __future__ import annotations

from domain.events import (
    Artifact,
    ChangeReceived,
    Commit,
    Event,
    PersonPaged,
    ScopeAdopted,
    Stamper,
)
from domain.ports import (
    MAX_EVENTS_PER_APPEND,
)
from domain.spec import PipelineSpec
from domain.state import PipelineState
from service.core import (
    EngineCore,
    Progress,
)


class IntakeSteps(EngineCore):
    def receive(
        self,
        pipeline_id: str,
        change_id: str,
        *,
        source: str,
        commits: tuple[Commit, ...],
        head: str,
        previous: str = "",
        delivery: str = "",
    ) -> str:
        """Record a merged change and start its execution; returns the execution id. The
        same merge reported again (a redelivery) records nothing and starts nothing new.

        The execution's first state is the review gate: nothing of the change is built or
        deployed until every commit it holds is approved in the source system's record."""
        spec = self._spec(pipeline_id)

        def decide(state: PipelineState, stamp: Stamper) -> list[Event]:
            if state.change(change_id) is not None:
                return []
            return [
                stamp(
                    ChangeReceived,
                    f"{change_id}:received",
                    change_id=change_id,
                    source=source,
                    repository=spec.repository,
                    branch=spec.branch,
                    commits=commits,
                    head=head,
                    previous=previous,
                    delivery=delivery,
                )
            ]

        self.log.record(pipeline_id, self.clock(), decide)
        return self.executions.start(
            pipeline_id, change_id, {"pipeline_id": pipeline_id, "change_id": change_id}
        )

    def review(self, pipeline_id: str, change_id: str) -> Progress:
        """`Source · Review`: pass, hold (with when to look again) or superseded. A change
        held at source longer than the pipeline allows pages people, once."""
        spec = self._spec(pipeline_id)
        result = self.review_gate.check(spec, change_id)
        if result["outcome"] == "hold":
            self._page_held_at_source(spec, change_id)
        return result

    def _page_held_at_source(self, spec: PipelineSpec, change_id: str) -> None:
        now = self.clock()

        def decide(state: PipelineState, stamp: Stamper) -> list[Event]:
            change = state.changes.get(change_id)
            if change is None or change.held_since is None:
                return []
            held = (now - change.held_since).total_seconds()
            key = f"{change_id}:source:page:{change.held_since.isoformat()}"
            if held < spec.page_after_blocked_seconds or any(p.key == key for p in state.pages):
                return []
            return [
                stamp(
                    PersonPaged,
                    key,
                    stage="source",
                    change_id=change_id,
                    subject=(f"{spec.pipeline_id}: {change_id} held at source {held / 3600:.1f} h"),
                    message=f"{change_id} waits for a code review: {change.reason}",
                )
            ]

        self._send_pages(self.log.record(spec.pipeline_id, now, decide).events)

    def adopt(self, pipeline_id: str, artifact: Artifact) -> int:
        """Record that every scope of the pipeline already runs `artifact` (onboarding an
        existing service): it becomes each scope's known-good artifact. Returns the count."""
        spec = self._spec(pipeline_id)
        scopes = spec.scopes()
        for start in range(0, len(scopes), MAX_EVENTS_PER_APPEND):
            chunk = scopes[start : start + MAX_EVENTS_PER_APPEND]

            def decide(
                _: PipelineState, stamp: Stamper, chunk: tuple[tuple[str, str], ...] = chunk
            ) -> list[Event]:
                return [
                    stamp(
                        ScopeAdopted,
                        f"adopt:{artifact.version}:{stage}:{scope}",
                        stage=stage,
                        scope=scope,
                        artifact=artifact,
                    )
                    for stage, scope in chunk
                ]

            self.log.record(pipeline_id, self.clock(), decide)
        return len(scopes)
