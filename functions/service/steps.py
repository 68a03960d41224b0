"""The pipeline steps the state machine calls, over the event log and the workflow.

Each method records its transition through `PipelineLog` (idempotent: a retried Lambda
records once) and then performs the hand-offs the recorded events call for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from domain import conveyor
from domain.events import (
    ChangeCompleted,
    ChangePromoted,
    Event,
    ExecutionStatus,
    StageFailed,
    StageSucceeded,
    Stamper,
)
from domain.ports import Workflow
from domain.spec import PipelineSpec
from domain.state import PipelineState
from domain.validation import in_flight, next_stage_of, pipeline_spec, stage_of
from service.pipeline_log import PipelineLog

Clock = Callable[[], datetime]


class PipelineSteps:
    def __init__(
        self,
        log: PipelineLog,
        workflow: Workflow,
        clock: Clock,
        *,
        specs: Mapping[str, PipelineSpec],
    ) -> None:
        self.log = log
        self.workflow = workflow
        self.clock = clock
        self.specs = specs

    def _check(
        self,
        state: PipelineState,
        change_id: str,
        stage: str | None = None,
        *,
        ending: bool = False,
    ) -> PipelineSpec:
        """Before anything is stamped: the pipeline is run here, the change is in flight (or,
        for a step that ends it, was received) and the stage (if any) is its pipeline's."""
        spec = pipeline_spec(self.specs, state.pipeline_id)
        in_flight(state, change_id, ending=ending)
        if stage is not None:
            stage_of(spec, stage)
        return spec

    def _checked(
        self,
        change_id: str,
        stage: str | None,
        decide: Callable[[PipelineState, Stamper], Iterable[Event]],
        *,
        ending: bool = False,
    ) -> Callable[[PipelineState, Stamper], Iterable[Event]]:
        """`decide`, once the step's input is checked against the spec and the state."""

        def checked(state: PipelineState, stamp: Stamper) -> Iterable[Event]:
            self._check(state, change_id, stage, ending=ending)
            return decide(state, stamp)

        return checked

    def acquire(self, pipeline_id: str, change_id: str, stage: str, token: str) -> None:
        """Enter a stage, or wait behind it; the execution resumes when it holds the lease."""
        result = self.log.record(
            pipeline_id,
            self.clock(),
            self._checked(
                change_id,
                stage,
                lambda state, stamp: conveyor.acquire(
                    state, stamp, stage=stage, change_id=change_id, token=token
                ),
            ),
        )
        self._hand_off(result.events)
        current = result.state.stages.get(stage)
        if not result.events and current is not None and current.lease_holder == change_id:
            self.workflow.resume(token, {"stage": stage, "holder": change_id})

    def stage_succeeded(
        self, pipeline_id: str, change_id: str, stage: str, next_stage: str | None
    ) -> None:
        def decide(state: PipelineState, stamp: Stamper) -> list[Event]:
            next_stage_of(self._check(state, change_id, stage), stage, next_stage)
            events: list[Event] = [
                stamp(
                    StageSucceeded,
                    f"{change_id}:{stage}:succeeded",
                    stage=stage,
                    change_id=change_id,
                )
            ]
            events += conveyor.release(state, stamp, stage=stage, change_id=change_id)
            if next_stage is not None:
                events.append(
                    stamp(
                        ChangePromoted,
                        f"{change_id}:{stage}:promoted",
                        change_id=change_id,
                        from_stage=stage,
                        to_stage=next_stage,
                    )
                )
            return events

        self._hand_off(self.log.record(pipeline_id, self.clock(), decide).events)

    def stage_failed(self, pipeline_id: str, change_id: str, stage: str, reason: str) -> None:
        def decide(state: PipelineState, stamp: Stamper) -> list[Event]:
            self._check(state, change_id, stage, ending=True)
            change = state.changes.get(change_id)
            why = reason
            if change and change.first_alarm:
                why = f"rolled back after {change.first_alarm}"
                if change.last_alarm != change.first_alarm:
                    why += f" (then {change.last_alarm})"
            events: list[Event] = [
                stamp(
                    StageFailed,
                    f"{change_id}:{stage}:failed",
                    stage=stage,
                    change_id=change_id,
                    reason=why,
                )
            ]
            return events + conveyor.release(state, stamp, stage=stage, change_id=change_id)

        self._hand_off(self.log.record(pipeline_id, self.clock(), decide).events)

    def rollback_failed(self, pipeline_id: str, change_id: str, stage: str, reason: str) -> None:
        """The stage stays leased and blocked: nobody else deploys over a half-rolled-back scope."""
        self.log.record(
            pipeline_id,
            self.clock(),
            self._checked(
                change_id,
                stage,
                lambda _, stamp: [
                    stamp(
                        StageFailed,
                        f"{change_id}:{stage}:failed",
                        stage=stage,
                        change_id=change_id,
                        reason=f"rollback failed: {reason}",
                    )
                ],
                ending=True,
            ),
        )

    def change_completed(self, pipeline_id: str, change_id: str) -> None:
        self.log.record(
            pipeline_id,
            self.clock(),
            self._checked(
                change_id,
                None,
                lambda _, stamp: [
                    stamp(ChangeCompleted, f"{change_id}:completed", change_id=change_id)
                ],
                ending=True,
            ),
        )

    def execution_ended(
        self,
        pipeline_id: str,
        change_id: str,
        *,
        status: ExecutionStatus,
        cause: str,
        execution: str,
    ) -> None:
        """An execution ended abnormally: record it and hand what it held to who waits."""
        result = self.log.record(
            pipeline_id,
            self.clock(),
            lambda state, stamp: conveyor.execution_ended(
                state,
                stamp,
                change_id=change_id,
                status=status,
                cause=cause,
                execution=execution,
            ),
        )
        self._hand_off(result.events)

    def _hand_off(self, recorded: tuple[Event, ...]) -> None:
        hand_off(self.workflow, recorded)


def hand_off(workflow: Workflow, recorded: tuple[Event, ...]) -> tuple[list[str], list[str]]:
    """Tell Step Functions what the recorded lease events call for: superseded executions
    end, the newest waiter resumes. Returns (changes that take a stage, those resumed: a
    waiter whose execution is gone is not)."""
    hand = conveyor.handoffs(recorded)
    for change, token in hand.supersede:
        workflow.fail(token, "Superseded", f"a newer change took the stage from {change}")
    resumed = [
        change for change, token in hand.resume if workflow.resume(token, {"holder": change})
    ]
    return [change for change, _ in hand.resume], resumed
