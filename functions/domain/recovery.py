"""How a person rolls a stage back to a named version, as pure decisions (SPEC practice 18).

A failed rollback keeps the stage leased and blocked: nobody deploys over a half-rolled-back
scope. A person redeploys a named earlier artifact to the failed scopes (`shipwave rollback`,
checksum verified), then releases the stage once none of its scopes runs the failed change
(`shipwave unblock`); both are recorded with who and why.

The pipeline rolls back the stage whose alarm fired, not the stages a change already passed:
a version that failed later keeps running there. A person returns such a stage to a named
version too, once the pipeline is paused (so no change starts deploying there meanwhile) and
no change holds the stage.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain import conveyor
from domain.events import Artifact, Event, StageRecovered, StageUnblocked, Stamper
from domain.operations import OperatorInputError
from domain.state import PipelineState

ROLLBACK_FAILED = "rollback-failed"


@dataclass(frozen=True, kw_only=True)
class RecoveryPlan:
    change_id: str
    scopes: tuple[str, ...]
    artifact: Artifact
    #: a stage no change held (not a failed rollback's): the log's sequence it was planned at,
    #: which keys its record (the same stage may be returned to the same version again later)
    planned_at: int = 0


def _blocked_change(state: PipelineState, stage: str) -> str:
    current = state.stages.get(stage)
    held = [
        b.change_id for b in (current.blocked if current else ()) if b.blocker == ROLLBACK_FAILED
    ]
    if not held:
        raise OperatorInputError(
            f"pipeline {state.pipeline_id!r}: stage {stage!r} is not held by a failed rollback"
        )
    return held[0]


def _who(by: str, why: str) -> tuple[str, str]:
    if not by.strip() or not why.strip():
        raise OperatorInputError("a recovery names who acts and why")
    return by.strip(), why.strip()


def find_artifact(state: PipelineState, version: str) -> Artifact | None:
    """An artifact of the pipeline by version, as the log knows it (what a scope ran or runs,
    or what a change built)."""
    for stage in state.stages.values():
        for scope in stage.scopes.values():
            for artifact in (scope.known_good, scope.deployed):
                if artifact is not None and artifact.version == version:
                    return artifact
    for change in (*state.changes.values(), *state.finished):
        if change.artifact is not None and change.artifact.version == version:
            return change.artifact
    return None


def plan_recovery(
    state: PipelineState, *, stage: str, version: str, by: str, why: str
) -> RecoveryPlan:
    """Which scopes get which artifact; refuses what cannot apply."""
    _who(by, why)
    current = state.stages.get(stage)
    if current is None or not current.scopes:
        raise OperatorInputError(
            f"pipeline {state.pipeline_id!r}: stage {stage!r} has run nothing yet"
        )
    if not any(b.blocker == ROLLBACK_FAILED for b in current.blocked):
        return _plan_free_stage(state, stage, version)
    change_id = _blocked_change(state, stage)
    scopes = tuple(
        scope.scope
        for scope in state.stages[stage].scopes.values()
        if scope.change_id == change_id and scope.deployed is not None
    )
    if not scopes:
        raise OperatorInputError(f"stage {stage!r}: no scope still runs {change_id}'s version")
    artifact = find_artifact(state, version)
    if artifact is None:
        raise OperatorInputError(
            f"pipeline {state.pipeline_id!r} has no artifact {version!r} in its log"
        )
    failed = state.stages[stage].scopes[scopes[0]].deployed
    if failed is not None and failed.version == version:
        raise OperatorInputError(f"{version} is the version that failed to roll back")
    return RecoveryPlan(change_id=change_id, scopes=scopes, artifact=artifact)


def _plan_free_stage(state: PipelineState, stage: str, version: str) -> RecoveryPlan:
    """Every scope of a stage no change holds that does not run `version` goes to it."""
    current = state.stages[stage]
    pipeline = state.pipeline_id
    if current.lease_holder is not None:
        holder = state.changes.get(current.lease_holder)
        status = f" ({holder.status})" if holder else ""
        raise OperatorInputError(
            f"pipeline {pipeline!r}: stage {stage!r} is held by {current.lease_holder}{status}: "
            "a rollback --to goes to a stage no change holds (wait for it to leave, or abort "
            "it) or to one whose rollback failed"
        )
    if state.paused is None:
        raise OperatorInputError(
            f"pipeline {pipeline!r} is not paused: pause it first (shipwave pause {pipeline} "
            f"--why ...), so that no change starts deploying to {stage!r} while it is rolled "
            "back; resume it after"
        )
    artifact = find_artifact(state, version)
    if artifact is None:
        raise OperatorInputError(f"pipeline {pipeline!r} has no artifact {version!r} in its log")
    running = [
        scope
        for scope in current.scopes.values()
        if scope.deployed is not None and scope.deployed.version != version
    ]
    if not running:
        raise OperatorInputError(f"every scope of stage {stage!r} runs {version} already")
    return RecoveryPlan(
        change_id=next((s.change_id for s in running if s.change_id), ""),
        scopes=tuple(scope.scope for scope in running),
        artifact=artifact,
        planned_at=state.sequence,
    )


def recovered(
    stamp: Stamper, plan: RecoveryPlan, *, stage: str, scopes: tuple[str, ...], by: str, why: str
) -> list[Event]:
    who, reason = _who(by, why)
    again = f":at{plan.planned_at}" if plan.planned_at else ""
    return [
        stamp(
            StageRecovered,
            f"{plan.change_id}:{stage}:recovered:{plan.artifact.version}:{','.join(scopes)}{again}",
            stage=stage,
            change_id=plan.change_id,
            artifact=plan.artifact,
            scopes=scopes,
            by=who,
            why=reason,
        )
    ]


def decide_unblock(
    state: PipelineState, stamp: Stamper, *, stage: str, by: str, why: str
) -> list[Event]:
    """Release a stage held by a failed rollback once none of its scopes runs that change;
    the newest change waiting for the stage takes it."""
    who, reason = _who(by, why)
    change_id = _blocked_change(state, stage)
    still = sorted(
        scope.scope
        for scope in state.stages[stage].scopes.values()
        if scope.change_id == change_id and scope.deployed is not None
    )
    if still:
        raise OperatorInputError(
            f"stage {stage!r}: {', '.join(still)} still run {change_id}'s version; "
            "recover them first (shipwave rollback PIPELINE STAGE --to VERSION)"
        )
    events: list[Event] = [
        stamp(
            StageUnblocked,
            f"{change_id}:{stage}:unblocked",
            stage=stage,
            change_id=change_id,
            by=who,
            why=reason,
        )
    ]
    return events + conveyor.release(state, stamp, stage=stage, change_id=change_id)
