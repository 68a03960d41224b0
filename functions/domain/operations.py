"""What people may do to a running pipeline, as pure decisions: approve an emergency,
override a blocker. Both are recorded with who and why, and apply to one change only."""

from __future__ import annotations

from domain.errors import ShipwaveError
from domain.events import UNKNOWN_AUTHOR, BlockerOverridden, EmergencyApproved, Event, Stamper
from domain.state import PipelineState

MIN_EMERGENCY_APPROVERS = 2


class OperatorInputError(ShipwaveError):
    """A person's request cannot be applied as given."""


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
    change = state.changes.get(change_id)
    if change is None:
        raise OperatorInputError(
            f"pipeline {state.pipeline_id!r}: change {change_id!r} is not moving"
        )
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
    authors = {a.casefold() for a in change.authors}
    if not authors or UNKNOWN_AUTHOR in authors:
        raise OperatorInputError(
            f"who wrote {change_id}'s commits is not known yet (its review has not passed): "
            "no emergency can be approved, since an author may not approve their own"
        )
    own = [a for a in distinct if a.casefold() in authors]
    if own:
        raise OperatorInputError(
            f"{', '.join(own)} wrote commits of {change_id} and cannot approve its emergency"
        )
    if not 0 < bake_factor < 1:
        raise OperatorInputError(f"bake factor {bake_factor:g} must be between 0 and 1")
    if not reason.strip():
        raise OperatorInputError("an emergency needs a reason")
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
