"""What people may do to a running pipeline, as pure decisions: approve an emergency,
override a blocker, pause and resume it, abort a change, retry a failed one. Each is recorded
with who (the caller's identity, never a typed name) and why."""

from __future__ import annotations

from collections.abc import Sequence

from domain.conventions import execution_name
from domain.errors import ShipwaveError
from domain.events import (
    UNKNOWN_AUTHOR,
    BlockerOverridden,
    ChangeAborted,
    ChangeRetried,
    EmergencyApprovalGiven,
    EmergencyApproved,
    Event,
    PipelinePaused,
    PipelineResumed,
    Stamper,
)
from domain.state import ChangeState, PipelineState

MIN_EMERGENCY_APPROVERS = 2


class OperatorInputError(ShipwaveError):
    """A person's request cannot be applied as given."""


def _moving(state: PipelineState, change_id: str) -> ChangeState:
    change = state.changes.get(change_id)
    if change is None:
        raise OperatorInputError(
            f"pipeline {state.pipeline_id!r}: change {change_id!r} is not moving"
        )
    return change


def _emergency_terms(bake_factor: float, reason: str) -> None:
    """What any emergency approval must say: a share of each bake, and why."""
    if not 0 < bake_factor < 1:
        raise OperatorInputError(f"bake factor {bake_factor:g} must be between 0 and 1")
    if not reason.strip():
        raise OperatorInputError("an emergency needs a reason")


def _known_authors(change_id: str, authors: tuple[str, ...]) -> set[str]:
    """Who wrote the change's commits (folded), once known: never an approver of it."""
    folded = {a.casefold() for a in authors}
    if not folded or UNKNOWN_AUTHOR in folded:
        raise OperatorInputError(
            f"who wrote {change_id}'s commits is not known yet (its review has not passed): "
            "no emergency can be approved, since an author may not approve their own"
        )
    return folded


def approve_emergency(
    state: PipelineState,
    stamp: Stamper,
    *,
    change_id: str,
    approvers: tuple[str, ...],
    reason: str,
    bake_factor: float,
    senior_approvers: tuple[str, ...],
) -> list[Event]:
    """Faster bakes for one change, with the recorded approval of at least two distinct
    senior engineers the pipeline names, none of them an author of the change."""
    change = _moving(state, change_id)
    distinct = tuple(dict.fromkeys(a.strip() for a in approvers if a.strip()))
    folded = {a.casefold() for a in distinct}
    if len(folded) < MIN_EMERGENCY_APPROVERS:
        raise OperatorInputError(
            f"an emergency needs at least {MIN_EMERGENCY_APPROVERS} distinct senior approvers, "
            f"got {list(distinct)}"
        )
    senior = {a.strip().casefold() for a in senior_approvers}
    unknown = [a for a in distinct if a.casefold() not in senior]
    if unknown:
        raise OperatorInputError(
            f"pipeline {state.pipeline_id!r}: {', '.join(unknown)} "
            f"{'is' if len(unknown) == 1 else 'are'} not among its emergency approvers "
            f"{sorted(senior_approvers) or '(none named)'}"
        )
    authors = _known_authors(change_id, change.authors)
    own = [a for a in distinct if a.casefold() in authors]
    if own:
        raise OperatorInputError(
            f"{', '.join(own)} wrote commits of {change_id} and cannot approve its emergency"
        )
    _emergency_terms(bake_factor, reason)
    return [
        stamp(
            EmergencyApproved,
            f"{change_id}:emergency:{','.join(sorted(distinct))}",
            change_id=change_id,
            approvers=distinct,
            reason=reason.strip(),
            bake_factor=bake_factor,
        )
    ]


def override_blocker(
    state: PipelineState,
    stamp: Stamper,
    *,
    stage: str,
    change_id: str,
    blocker: str,
    by: str,
    why: str,
) -> list[Event]:
    """Let one change past a blocker it is held by (to ship a fix), recorded with who and why."""
    current = state.stages.get(stage)
    held = {b.blocker for b in (current.blocked if current else ()) if b.change_id == change_id}
    if blocker not in held:
        raise OperatorInputError(
            f"pipeline {state.pipeline_id!r}: change {change_id!r} is not held at {stage} by "
            f"{blocker!r}; it is held by {sorted(held) or 'nothing'}"
        )
    if not by.strip() or not why.strip():
        raise OperatorInputError("an override names who overrides and why")
    return [
        stamp(
            BlockerOverridden,
            f"{change_id}:{stage}:{blocker}:override:{by.strip()}",
            stage=stage,
            change_id=change_id,
            blocker=blocker,
            by=by.strip(),
            why=why.strip(),
        )
    ]


def _said(by: str, why: str, what: str) -> tuple[str, str]:
    if not by.strip():
        raise OperatorInputError(f"{what}: who acts is not known")
    if not why.strip():
        raise OperatorInputError(f"{what} needs a reason (--why)")
    return by.strip(), why.strip()


def pause(
    state: PipelineState, stamp: Stamper, *, by: str, why: str, team: str = ""
) -> list[Event]:
    """No new stage starts until it is resumed; a pipeline already paused is refused."""
    by, why = _said(by, why, "a pause")
    if state.paused is not None:
        raise OperatorInputError(
            f"pipeline {state.pipeline_id!r} is already paused, by {state.paused.by} since "
            f"{state.paused.since:%Y-%m-%d %H:%M} UTC ({state.paused.why})"
        )
    return [stamp(PipelinePaused, f"pause:{state.sequence}", by=by, why=why, team=team)]


def resume(
    state: PipelineState, stamp: Stamper, *, by: str, why: str, team: str = ""
) -> list[Event]:
    by, why = _said(by, why, "a resume")
    if state.paused is None:
        raise OperatorInputError(f"pipeline {state.pipeline_id!r} is not paused")
    return [stamp(PipelineResumed, f"resume:{state.sequence}", by=by, why=why, team=team)]


def abort(
    state: PipelineState, stamp: Stamper, *, change_id: str, by: str, why: str
) -> list[Event]:
    """Stop the line for one moving change (its rollbacks and its execution's stop follow)."""
    by, why = _said(by, why, "an abort")
    change = state.changes.get(change_id)
    if change is None:
        finished = state.change(change_id)
        raise OperatorInputError(
            f"pipeline {state.pipeline_id!r}: change {change_id!r} "
            + (f"has finished ({finished.status}): nothing to abort" if finished else "is unknown")
        )
    if change.status == "aborted":
        raise OperatorInputError(f"change {change_id!r} is already aborted ({change.reason})")
    return [stamp(ChangeAborted, f"{change_id}:abort", change_id=change_id, by=by, why=why)]


def give_emergency_approval(
    state: PipelineState,
    stamp: Stamper,
    *,
    change_id: str,
    by: str,
    person: str,
    reason: str,
    bake_factor: float,
    senior_approvers: tuple[str, ...],
) -> list[Event]:
    """One senior engineer's approval, by their identity; with an earlier approval of
    another one, the emergency is approved (the larger of the two bake factors: the more
    careful). Each must be among the pipeline's emergency approvers and no author of it."""
    change = _moving(state, change_id)
    if change.emergency is not None:
        approvers = ", ".join(change.emergency.approvers)
        raise OperatorInputError(f"{change_id}'s emergency is already approved, by {approvers}")
    if person.casefold() not in {a.strip().casefold() for a in senior_approvers}:
        raise OperatorInputError(
            f"pipeline {state.pipeline_id!r}: {person} ({by}) is not among its emergency "
            f"approvers {sorted(senior_approvers) or '(none named)'}"
        )
    authors = _known_authors(change_id, change.authors)
    if person.casefold() in authors:
        raise OperatorInputError(f"{person} wrote commits of {change_id} and cannot approve it")
    if any(p.casefold() == person.casefold() for _, p, _, _ in change.emergency_approvals):
        raise OperatorInputError(
            f"{person} already approved {change_id}'s emergency: a second senior engineer "
            "must approve it"
        )
    _emergency_terms(bake_factor, reason)
    events: list[Event] = [
        stamp(
            EmergencyApprovalGiven,
            f"{change_id}:emergency-approval:{person.casefold()}",
            change_id=change_id,
            by=by,
            person=person,
            reason=reason.strip(),
            bake_factor=bake_factor,
        )
    ]
    if change.emergency_approvals:
        first_by, _, first_reason, first_factor = change.emergency_approvals[0]
        events.append(
            stamp(
                EmergencyApproved,
                f"{change_id}:emergency:{first_by},{by}",
                change_id=change_id,
                approvers=(first_by, by),
                reason=first_reason,
                bake_factor=max(first_factor, bake_factor),
            )
        )
    return events


#: what a change may have ended as for a person to run it again
RETRYABLE = ("failed", "rolled-back", "rollback-failed", "build-failed", "timed-out")
#: where a retry may start besides the pipeline's stages
SOURCE, BUILD = "source", "build"


def retry_point(stages: Sequence[str], change: ChangeState) -> str:
    """Where a failed change runs again: its review if that never passed, its build if it
    made no artifact, else the first stage it did not pass (the one it failed in)."""
    if not change.reviewed:
        return SOURCE
    if change.status == "build-failed" or change.artifact is None:
        return BUILD
    return next((s for s in stages if s not in change.stages_passed), stages[-1])


def retry(
    state: PipelineState,
    stamp: Stamper,
    *,
    stages: Sequence[str],
    change_id: str,
    by: str,
    why: str,
) -> list[Event]:
    """Run a change that failed again, from where it failed, once what failed it is gone
    (an alarm that cleared, a flaky build, a review source that was down). Refused while it
    still runs or holds a stage, when it did not fail, and when a newer change has reached
    that stage or a later one since: the newer one carries its commits, and a retry would put
    older code over it."""
    by, why = _said(by, why, "a retry")
    where = f"pipeline {state.pipeline_id!r}: change {change_id!r}"
    change = state.change(change_id)
    if change is not None and change.status == "aborted":
        raise OperatorInputError(
            f"{where} was {change.reason}: a person stopped it, so it is not retried; merge "
            "its commits again to ship them"
        )
    if change is not None and change_id in state.changes:
        at = f" at {change.stage}" if change.stage else ""
        raise OperatorInputError(f"{where} is still moving ({change.status}{at}): nothing to retry")
    if change is None:
        raise OperatorInputError(
            f"{where} is not among the changes that finished lately: only a recent failure "
            "can be retried (merge the commits again)"
        )
    if change.status == "superseded":
        raise OperatorInputError(
            f"{where} was superseded by {change.superseded_by}, which carries its commits"
        )
    if change.status not in RETRYABLE:
        raise OperatorInputError(f"{where} {change.status}: only a failed change is retried")
    if not change.ended:
        raise OperatorInputError(
            f"{where} failed, but its execution's end is not recorded yet (it may still be "
            "running): retry once `shipwave history` shows its execution ended"
        )
    held = [s.stage for s in state.stages.values() if s.lease_holder == change_id]
    if held:
        raise OperatorInputError(
            f"{where} still holds {', '.join(held)}, where its rollback failed: recover the "
            "stage first (`shipwave rollback STAGE --to VERSION`, then `shipwave unblock`)"
        )
    start = retry_point(stages, change)
    first = stages.index(start) if start in stages else 0
    later = set(stages[first:])
    for other in (*state.changes.values(), *state.finished):
        if other.change_id == change_id or other.received_sequence < change.received_sequence:
            continue
        reached = {*other.stages_passed, *((other.stage,) if other.stage else ())} & later
        if reached:
            raise OperatorInputError(
                f"{where}: the newer change {other.change_id} has reached "
                f"{', '.join(s for s in stages if s in reached)} since ({other.status}); it is "
                f"built from a later commit and carries {change_id}'s code, so a retry would put "
                f"older code over it (retry {other.change_id} instead, if it failed)"
            )
    attempt = change.attempt + 1
    return [
        stamp(
            ChangeRetried,
            f"{change_id}:retry:{attempt}",
            change_id=change_id,
            from_stage=start,
            attempt=attempt,
            execution=execution_name(change_id, attempt),
            by=by,
            why=why,
        )
    ]
