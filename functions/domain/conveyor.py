"""Stage leases: the conveyor of SPEC practice 8, as pure decisions.

A stage holds one change at a time. A change that finds it busy waits with its callback
token; when the holder leaves, the newest waiting change takes the stage and every older
waiting change is superseded (its commits ride along with the newer one). The decisions
return events; what the caller must tell Step Functions afterwards (`handoffs`) is read back
from the recorded events, so a retried handler repeats the same hand-offs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from domain.conventions import is_execution
from domain.errors import UnknownChangeError
from domain.events import (
    ChangeSuperseded,
    Event,
    ExecutionEnded,
    ExecutionStatus,
    StageLeaseAcquired,
    StageLeaseReleased,
    StageLeaseWaiting,
    Stamper,
)
from domain.state import ChangeState, PipelineState


@dataclass(frozen=True)
class Handoffs:
    resume: tuple[tuple[str, str], ...]  # (change, token): the stage is yours, go on
    supersede: tuple[tuple[str, str], ...]  # (change, token): end, a newer change took over


def acquire(
    state: PipelineState, stamp: Stamper, *, stage: str, change_id: str, token: str
) -> list[Event]:
    """Take the stage if it is free; otherwise wait behind it. A retried task (a new token)
    that already waits records its new token in its place in the queue, so the hand-off
    resumes the task that waits now."""
    current = state.stages.get(stage)
    holder = current.lease_holder if current else None
    if holder == change_id:
        return []  # already ours: a retry after the lease was recorded
    waiting = (
        next((w for w in current.waiting if w.change_id == change_id), None) if current else None
    )
    if waiting is not None:
        if waiting.callback_token == token:
            return []  # already waiting, with this task's token
        return [
            stamp(
                StageLeaseWaiting,
                f"{change_id}:{stage}:wait:{token_key(token)}",
                stage=stage,
                change_id=change_id,
                callback_token=token,
            )
        ]
    if holder is None:
        return [
            stamp(
                StageLeaseAcquired,
                f"{change_id}:{stage}:lease",
                stage=stage,
                change_id=change_id,
                callback_token=token,
            )
        ]
    return [
        stamp(
            StageLeaseWaiting,
            f"{change_id}:{stage}:wait",
            stage=stage,
            change_id=change_id,
            callback_token=token,
        )
    ]


def token_key(token: str) -> str:
    """A short, stable name for a task token in an idempotency key (tokens run to kilobytes)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def release(state: PipelineState, stamp: Stamper, *, stage: str, change_id: str) -> list[Event]:
    """Leave the stage; the newest waiting change takes it, older waiting ones are superseded."""
    current = state.stages.get(stage)
    if current is None or current.lease_holder != change_id:
        return []  # not ours (already released by an earlier attempt)
    events: list[Event] = [
        stamp(StageLeaseReleased, f"{change_id}:{stage}:release", stage=stage, change_id=change_id)
    ]
    if not current.waiting:
        return events
    *older, newest = current.waiting
    for waiter in older:
        events.append(
            stamp(
                ChangeSuperseded,
                f"{waiter.change_id}:{stage}:superseded",
                stage=stage,
                change_id=waiter.change_id,
                superseded_by=newest.change_id,
                callback_token=waiter.callback_token,
            )
        )
    events.append(
        stamp(
            StageLeaseAcquired,
            f"{newest.change_id}:{stage}:lease",
            stage=stage,
            change_id=newest.change_id,
            callback_token=newest.callback_token,
        )
    )
    return events


def execution_ended(
    state: PipelineState,
    stamp: Stamper,
    *,
    change_id: str,
    status: ExecutionStatus,
    cause: str,
    execution: str,
) -> list[Event]:
    """An execution that failed, timed out or was aborted: record it, and release every
    stage the change holds (each goes to its newest waiting change), except a stage where the
    change's rollback failed: nobody deploys over a half-rolled-back scope until a person
    acts (`shipwave rollback` / `shipwave unblock`)."""
    change = state.change(change_id)
    if change is None:
        raise UnknownChangeError(
            f"pipeline {state.pipeline_id!r} has no change {change_id!r} (execution {execution})"
        )
    if not is_current_run(change, execution):
        return []  # an earlier run's end, told again after a person retried the change
    events: list[Event] = [
        stamp(
            ExecutionEnded,
            f"{change_id}:execution-ended",
            change_id=change_id,
            status=status,
            cause=cause[:1000],
            execution=execution,
        )
    ]
    for stage in state.stages.values():
        if stage.lease_holder != change_id:
            continue
        rollback_failed = any(
            b.blocker == "rollback-failed" and b.change_id == change_id for b in stage.blocked
        )
        if not rollback_failed:
            events += release(state, stamp, stage=stage.stage, change_id=change_id)
    return events


def is_current_run(change: ChangeState, execution: str) -> bool:
    """Whether `execution` (an ARN or a name) is the change's current run. Before any retry
    every execution of the change is (its first run, whatever its id looked like)."""
    if change.attempt <= 1:
        return True
    return is_execution(execution, change.execution)


def handoffs(recorded: tuple[Event, ...]) -> Handoffs:
    """What Step Functions must be told after these events were recorded."""
    return Handoffs(
        resume=tuple(
            (e.change_id, e.callback_token)
            for e in recorded
            if isinstance(e, StageLeaseAcquired) and e.callback_token
        ),
        supersede=tuple(
            (e.change_id, e.callback_token)
            for e in recorded
            if isinstance(e, ChangeSuperseded) and e.callback_token
        ),
    )
