"""Pipeline state: a fold over the event log, and nothing else.

`evolve(state, event)` returns a new `PipelineState`; the old one is never changed, so a
state can be shared, cached or snapshotted freely. `project(events)` folds a whole stream.
A snapshot is simply a state serialised to JSON together with the sequence it covers:
state = snapshot + fold of the tail.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

from domain import codec
from domain.conventions import execution_name
from domain.errors import (
    EventOutOfOrderError,
    SnapshotError,
    StaleSnapshotError,
    UnknownEventTypeError,
)
from domain.events import (
    UNKNOWN_AUTHOR,
    AlarmFired,
    AlarmsUnconfirmed,
    Artifact,
    ArtifactBuilt,
    BakeCompleted,
    BakeStarted,
    BatchDeployed,
    BlockerCleared,
    BlockerHit,
    BlockerOverridden,
    BuildFailed,
    BuildStarted,
    ChangeAborted,
    ChangeCompleted,
    ChangePromoted,
    ChangeReceived,
    ChangeRetried,
    ChangeSuperseded,
    CommitExcluded,
    DatapointsInsufficient,
    DatapointsReached,
    EmergencyApprovalGiven,
    EmergencyApproved,
    Event,
    ExecutionEnded,
    HealthCheckFailed,
    HealthCheckPassed,
    IntegrationTestsFailed,
    IntegrationTestsPassed,
    IntegrationTestsStarted,
    OneBoxDeployed,
    PersonPaged,
    PipelinePaused,
    PipelineResumed,
    ReviewHeld,
    ReviewPassed,
    RollbackCompleted,
    RollbackFailed,
    RollbackStarted,
    ScopeAdopted,
    StageFailed,
    StageLeaseAcquired,
    StageLeaseReleased,
    StageLeaseWaiting,
    StageRecovered,
    StageSucceeded,
    StageUnblocked,
)

#: How many finished changes the state keeps; older ones live on in the log (`history`).
FINISHED_KEPT = 50

ChangeStatus = Literal[
    "received",
    "building",
    "built",
    "build-failed",
    "held-at-source",
    "reviewed",
    "waiting",
    "blocked",
    "deploying",
    "baking",
    "testing",
    "promoting",
    "rolling-back",
    "rolled-back",
    "rollback-failed",
    "failed",
    "superseded",
    "completed",
    "aborted",
    "timed-out",
    "retrying",
]

T = TypeVar("T")
E = TypeVar("E", bound=Event)


@dataclass(frozen=True, kw_only=True)
class ScopeState:
    """One region or AZ/cell of a stage."""

    scope: str
    deployed: Artifact | None = None  # the newest artifact serving traffic here
    traffic_percent: float = 0.0  # share of the scope's traffic `deployed` serves
    known_good: Artifact | None = None  # what a rollback returns to
    change_id: str | None = None  # the change that deployed `deployed`
    batch: int = 0  # the newest rolling batch recorded for `change_id` (0: none, or a one-box)
    activity: str = "idle"
    health: str = "unknown"
    bake_ends_at: datetime | None = None
    bake_started_at: datetime | None = None
    bake_token: str = ""  # the running bake's callback token, while it runs
    datapoints: str = ""
    last_alarm: str | None = None
    #: rollbacks here that failed: a later attempt (the stage's) is a new attempt, not a retry
    failed_rollbacks: int = 0
    updated_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Waiter:
    change_id: str
    callback_token: str
    since: datetime


@dataclass(frozen=True, kw_only=True)
class Blocker:
    """Why a stage does not move, with the inputs that made the decision."""

    blocker: str
    change_id: str
    reason: str
    inputs: tuple[tuple[str, str], ...]
    since: datetime


@dataclass(frozen=True, kw_only=True)
class StageState:
    stage: str
    lease_holder: str | None = None
    waiting: tuple[Waiter, ...] = ()
    blocked: tuple[Blocker, ...] = ()
    scopes: Mapping[str, ScopeState] = field(default_factory=dict)
    last_succeeded: str | None = None


@dataclass(frozen=True, kw_only=True)
class Override:
    stage: str
    blocker: str
    by: str
    why: str
    at: datetime


@dataclass(frozen=True, kw_only=True)
class Emergency:
    approvers: tuple[str, ...]
    reason: str
    bake_factor: float


@dataclass(frozen=True, kw_only=True)
class ChangeState:
    """Where one change is and how it got there."""

    change_id: str
    received_at: datetime
    source: str
    repository: str
    branch: str
    commits: tuple[str, ...]
    head: str = ""  # the commit the change's build checks out
    previous: str = ""  # the branch's head before the merge ("" when unknown or new)
    authors: tuple[str, ...] = ()  # who wrote the commits (never an emergency's approver)
    excluded: tuple[tuple[str, str], ...] = ()  # (commit id, reason)
    held_for: tuple[tuple[str, str], ...] = ()  # (commit id, reason) it waits at source for
    held_since: datetime | None = None
    reviewed: bool = False  # every commit passed the review gate
    artifact: Artifact | None = None
    build_id: str = ""  # the build making `artifact`, once started
    build_token: str = ""  # the execution's Build task, which the build's completion resumes
    test_run: str = ""  # the integration test run under way (or last run) at `stage`
    test_token: str = ""  # the execution's task waiting for that run's end
    status: ChangeStatus = "received"
    stage: str | None = None
    stages_passed: tuple[str, ...] = ()
    riding_along: tuple[str, ...] = ()  # superseded changes whose commits this one carries
    superseded_by: str | None = None
    emergency: Emergency | None = None
    #: (identity, person, reason, bake factor) of each emergency approval so far
    emergency_approvals: tuple[tuple[str, str, str, float], ...] = ()
    overrides: tuple[Override, ...] = ()
    reason: str = ""
    last_alarm: str = ""  # the latest alarm that fired against this change
    first_alarm: str = ""  # the first: what a failure names (later ones are its path)
    received_sequence: int = 0  # the sequence of its ChangeReceived: which change is newer
    attempt: int = 1  # its run: 2 and more after a person retried it
    ended: bool = False  # the current run's execution end is recorded (failed, timed out)
    retried_from: str = ""  # where a person's retry started the current run
    updated_at: datetime | None = None

    @property
    def execution(self) -> str:
        """The current run's execution name: the change's, or its retry's."""
        return execution_name(self.change_id, self.attempt)


@dataclass(frozen=True, kw_only=True)
class Page:
    """A notification people got (the local outbox shows these)."""

    key: str
    at: datetime
    stage: str
    change_id: str
    subject: str


#: how many pages the state keeps (older ones stay in the log)
PAGES_KEPT = 50


@dataclass(frozen=True, kw_only=True)
class Pause:
    by: str
    why: str
    since: datetime
    team: str = ""


@dataclass(frozen=True, kw_only=True)
class PipelineState:
    pipeline_id: str
    sequence: int = 0  # the last event folded in
    updated_at: datetime | None = None
    stages: Mapping[str, StageState] = field(default_factory=dict)
    changes: Mapping[str, ChangeState] = field(default_factory=dict)  # still moving
    finished: tuple[ChangeState, ...] = ()  # the most recent finished, oldest first
    pages: tuple[Page, ...] = ()  # the most recent notifications, oldest first
    paused: Pause | None = None  # no new stage starts while set

    def change(self, change_id: str) -> ChangeState | None:
        """The change if it is moving or among the recently finished ones."""
        found = self.changes.get(change_id)
        if found is not None:
            return found
        return next((c for c in reversed(self.finished) if c.change_id == change_id), None)

    def attempts(self) -> dict[str, int]:
        """The run of each change a person retried (a Stamper keys their events by it)."""
        return {
            c.change_id: c.attempt
            for c in (*self.finished, *self.changes.values())
            if c.attempt > 1
        }

    def rollback_target(self, stage: str, scope: str) -> Artifact | None:
        """The last known-good artifact of a scope: what a rollback there returns to."""
        stage_state = self.stages.get(stage)
        scope_state = stage_state.scopes.get(scope) if stage_state else None
        return scope_state.known_good if scope_state else None

    def in_flight(self) -> tuple[tuple[str, str, ScopeState], ...]:
        """(stage, scope, scope state) wherever a change is deploying, baking or rolling back."""
        busy = ("one-box", "rolling", "baking", "rolling back", "bake extended", "held")
        return tuple(
            (stage.stage, scope.scope, scope)
            for stage in self.stages.values()
            for scope in stage.scopes.values()
            if scope.activity.startswith(busy)
        )


_new = object.__new__
_set = object.__setattr__


def _replace(obj: T, changes: dict[str, Any]) -> T:
    """A copy of a frozen dataclass with some fields changed.

    The fold runs this several times per event; dataclasses.replace re-runs __init__ and
    costs five times as much.
    """
    new: T = _new(type(obj))
    _set(new, "__dict__", {**obj.__dict__, **changes})
    return new


def _with(obj: T, **changes: Any) -> T:
    return _replace(obj, changes)


def evolve(state: PipelineState, event: Event) -> PipelineState:
    """The state after `event`; the event must be the next one of the same pipeline."""
    if event.sequence != state.sequence + 1 or event.pipeline_id != state.pipeline_id:
        raise EventOutOfOrderError(
            f"pipeline {state.pipeline_id!r} at sequence {state.sequence} cannot take "
            f"event {event.sequence} of pipeline {event.pipeline_id!r}"
        )
    fold = _FOLDS.get(type(event))
    if fold is None:
        raise UnknownEventTypeError(
            f"pipeline {event.pipeline_id!r} sequence {event.sequence}: "
            f"no fold for event type {type(event).__name__}"
        )
    return fold(event, state)


def project(events: Iterable[Event], initial: PipelineState | None = None) -> PipelineState:
    """Fold events onto `initial` (or onto an empty state of the first event's pipeline)."""
    state = initial
    folds = _FOLDS
    for event in events:
        if state is None:
            state = PipelineState(pipeline_id=event.pipeline_id)
        fold = folds.get(type(event))
        if (
            fold is None
            or event.sequence != state.sequence + 1
            or event.pipeline_id != state.pipeline_id
        ):
            state = evolve(state, event)  # raises the precise error
            continue
        state = fold(event, state)
    if state is None:
        raise ValueError("project() needs events or an initial state")
    return state


# --- snapshots -------------------------------------------------------------------------------


#: Bump whenever the fold or PipelineState changes meaning: snapshots made by another version
#: are stale, and the state is rebuilt from the events (the only source of truth).
FOLD_VERSION = 13


def snapshot_to_json(state: PipelineState) -> str:
    return json.dumps(
        {"fold_version": FOLD_VERSION, "state": codec.encode(state)},
        separators=(",", ":"),
        sort_keys=True,
    )


def snapshot_from_json(text: str | bytes, *, pipeline_id: str, sequence: int) -> PipelineState:
    """Decode a snapshot, checking it is the pipeline and sequence the store says it is.

    Raises StaleSnapshotError for a snapshot of another fold version (rebuild from events)
    and SnapshotError for one that cannot be read."""
    try:
        data = json.loads(text)
    except (ValueError, TypeError, RecursionError) as error:
        raise SnapshotError(
            f"pipeline {pipeline_id!r}: snapshot at sequence {sequence} is unreadable "
            f"({error or type(error).__name__})"
        ) from None
    found = data.get("fold_version") if isinstance(data, dict) else None
    # exactly this integer: 9.0 or True is no fold version (a forged or damaged snapshot)
    if type(found) is not int or found != FOLD_VERSION:
        raise StaleSnapshotError(
            f"pipeline {pipeline_id!r}: snapshot at sequence {sequence} was made by fold "
            f"version {found}, this is {FOLD_VERSION}"
        )
    try:
        state = codec.decode(PipelineState, data.get("state"))
    except (ValueError, RecursionError, OverflowError) as error:
        raise SnapshotError(
            f"pipeline {pipeline_id!r}: snapshot at sequence {sequence} is unreadable ({error})"
        ) from None
    if state.pipeline_id != pipeline_id or state.sequence != sequence:
        raise SnapshotError(
            f"pipeline {pipeline_id!r}: snapshot stored at sequence {sequence} holds "
            f"pipeline {state.pipeline_id!r} at sequence {state.sequence}"
        )
    return state


# --- the fold ----------------------------------------------------------------------------------


Fold = Callable[[Any, PipelineState], PipelineState]
_FOLDS: dict[type[Event], Fold] = {}


def _folds(event_type: type[E]) -> Callable[[Callable[[E, PipelineState], PipelineState]], Fold]:
    """Register the fold of one event type (a dict lookup: cheaper than singledispatch)."""

    def register(fold: Callable[[E, PipelineState], PipelineState]) -> Fold:
        _FOLDS[event_type] = fold
        return fold

    return register


def _moved(
    state: PipelineState,
    event: Event,
    *,
    stages: Mapping[str, StageState] | None = None,
    changes: Mapping[str, ChangeState] | None = None,
    finished: tuple[ChangeState, ...] | None = None,
) -> PipelineState:
    fields: dict[str, Any] = {"sequence": event.sequence, "updated_at": event.at}
    if stages is not None:
        fields["stages"] = stages
    if changes is not None:
        fields["changes"] = changes
    if finished is not None:
        fields["finished"] = finished
    return _with(state, **fields)


def _stage(state: PipelineState, name: str) -> StageState:
    found = state.stages.get(name)
    return found if found is not None else StageState(stage=name)


def _put_stage(state: PipelineState, stage: StageState) -> dict[str, StageState]:
    stages = dict(state.stages)
    stages[stage.stage] = stage
    return stages


def _put_scope(stage: StageState, scope: ScopeState) -> StageState:
    scopes = dict(stage.scopes)
    scopes[scope.scope] = scope
    return _with(stage, scopes=scopes)


def _scope(stage: StageState, name: str) -> ScopeState:
    found = stage.scopes.get(name)
    return found if found is not None else ScopeState(scope=name)


def _on_change(
    state: PipelineState,
    change_id: str | None,
    event: Event,
    /,
    *,
    finish: bool = False,
    **fields: Any,
) -> tuple[Mapping[str, ChangeState], tuple[ChangeState, ...]]:
    """(changes, finished) with one moving change updated; with `finish` it moves out."""
    current = state.changes.get(change_id) if change_id is not None else None
    if current is None:
        # The change already finished (or predates the log): the stage/scope part still applies.
        return state.changes, state.finished
    if current.status == "aborted":
        # a person aborted it: what its stopping execution records after that (a stage
        # failed, rolled back) does not make it anything but aborted, by whom and why
        fields = {k: v for k, v in fields.items() if k not in ("status", "reason")}
    if not finish:
        attributes = current.__dict__
        for name, value in fields.items():
            if attributes[name] != value:
                break
        else:
            return state.changes, state.finished  # nothing about the change itself moved
    fields["updated_at"] = event.at
    updated = _replace(current, fields)
    changes = dict(state.changes)
    if finish:
        del changes[current.change_id]
        return changes, (*state.finished, updated)[-FINISHED_KEPT:]
    changes[current.change_id] = updated
    return changes, state.finished


def _change_and_stage(
    state: PipelineState,
    event: Event,
    change_id: str | None,
    stage_state: StageState,
    /,
    **change_fields: Any,
) -> PipelineState:
    changes, finished = _on_change(state, change_id, event, **change_fields)
    return _moved(
        state, event, stages=_put_stage(state, stage_state), changes=changes, finished=finished
    )


def _scope_event(
    state: PipelineState,
    event: Event,
    stage_name: str,
    scope_name: str,
    change_id: str | None,
    scope_fields: dict[str, Any],
    /,
    **change_fields: Any,
) -> PipelineState:
    # The hot path of the fold (most events are about one scope), written out flat.
    stage = state.stages.get(stage_name) or StageState(stage=stage_name)
    scopes = dict(stage.scopes)
    scope = scopes.get(scope_name) or ScopeState(scope=scope_name)
    scope_fields["updated_at"] = event.at
    scopes[scope_name] = _replace(scope, scope_fields)
    stages = dict(state.stages)
    stages[stage_name] = _replace(stage, {"scopes": scopes})
    if change_fields:
        changes, finished = _on_change(state, change_id, event, **change_fields)
    else:
        changes, finished = state.changes, state.finished
    return _replace(
        state,
        {
            "sequence": event.sequence,
            "updated_at": event.at,
            "stages": stages,
            "changes": changes,
            "finished": finished,
        },
    )


@_folds(ChangeReceived)
def _(event: ChangeReceived, state: PipelineState) -> PipelineState:
    change = ChangeState(
        change_id=event.change_id,
        received_at=event.at,
        source=event.source,
        repository=event.repository,
        branch=event.branch,
        commits=tuple(c.commit_id for c in event.commits),
        head=event.head or (event.commits[-1].commit_id if event.commits else ""),
        previous=event.previous,
        authors=tuple(dict.fromkeys(c.author for c in event.commits)),
        received_sequence=event.sequence,
        updated_at=event.at,
    )
    changes = dict(state.changes)
    changes[event.change_id] = change
    return _moved(state, event, changes=changes)


@_folds(CommitExcluded)
def _(event: CommitExcluded, state: PipelineState) -> PipelineState:
    current = state.changes.get(event.change_id)
    if current is None:
        return _moved(state, event)
    changes, finished = _on_change(
        state,
        event.change_id,
        event,
        commits=tuple(c for c in current.commits if c != event.commit_id),
        excluded=(*current.excluded, (event.commit_id, event.reason)),
    )
    return _moved(state, event, changes=changes, finished=finished)


@_folds(ReviewHeld)
def _(event: ReviewHeld, state: PipelineState) -> PipelineState:
    current = state.changes.get(event.change_id)
    if current is None:
        return _moved(state, event)
    held = (
        *(h for h in current.held_for if h[0] != event.commit_id),
        (event.commit_id, event.reason),
    )
    changes, finished = _on_change(
        state,
        event.change_id,
        event,
        status="held-at-source",
        stage=None,
        held_for=held,
        held_since=current.held_since or event.at,
        reason=f"held at source: commit {event.commit_id} by {event.author}: {event.reason}",
    )
    return _moved(state, event, changes=changes, finished=finished)


def _authors(state: PipelineState, event: ReviewPassed) -> tuple[str, ...]:
    """The change's authors once the review record named them (an unknown one replaced)."""
    current = state.changes.get(event.change_id)
    known = [a for a in (current.authors if current else ()) if a != UNKNOWN_AUTHOR]
    return tuple(dict.fromkeys([*known, *(author for _, author in event.authors if author)]))


@_folds(ReviewPassed)
def _(event: ReviewPassed, state: PipelineState) -> PipelineState:
    changes, finished = _on_change(
        state,
        event.change_id,
        event,
        status="reviewed",
        reviewed=True,
        authors=_authors(state, event),
        held_for=(),
        held_since=None,
        reason="",
    )
    return _moved(state, event, changes=changes, finished=finished)


@_folds(BuildStarted)
def _(event: BuildStarted, state: PipelineState) -> PipelineState:
    changes, finished = _on_change(
        state,
        event.change_id,
        event,
        build_id=event.build_id,
        build_token=event.callback_token,
        status="building",
        reason=f"building {event.commit_id[:12]} ({event.build_id})",
    )
    return _moved(state, event, changes=changes, finished=finished)


@_folds(ArtifactBuilt)
def _(event: ArtifactBuilt, state: PipelineState) -> PipelineState:
    changes, finished = _on_change(
        state,
        event.change_id,
        event,
        artifact=event.artifact,
        status="built",
        reason="",
    )
    return _moved(state, event, changes=changes, finished=finished)


@_folds(BuildFailed)
def _(event: BuildFailed, state: PipelineState) -> PipelineState:
    log = f" (log: {event.log_url})" if event.log_url else ""
    changes, finished = _on_change(
        state,
        event.change_id,
        event,
        finish=True,
        status="build-failed",
        reason=f"build failed in {event.phase}: {event.reason}{log}"[:1000],
    )
    return _moved(state, event, changes=changes, finished=finished)


@_folds(IntegrationTestsStarted)
def _(event: IntegrationTestsStarted, state: PipelineState) -> PipelineState:
    changes, finished = _on_change(
        state,
        event.change_id,
        event,
        status="testing",
        stage=event.stage,
        test_run=event.run_id,
        test_token=event.callback_token,
        reason=f"integration tests at {event.stage} ({event.run_id.rsplit(':', 1)[-1]})",
    )
    return _moved(state, event, changes=changes, finished=finished)


@_folds(IntegrationTestsPassed)
def _(event: IntegrationTestsPassed, state: PipelineState) -> PipelineState:
    changes, finished = _on_change(state, event.change_id, event, status="deploying", reason="")
    return _moved(state, event, changes=changes, finished=finished)


@_folds(IntegrationTestsFailed)
def _(event: IntegrationTestsFailed, state: PipelineState) -> PipelineState:
    names = ", ".join(event.failed_tests) or "no test named"
    changes, finished = _on_change(
        state,
        event.change_id,
        event,
        status="rolling-back",
        reason=f"integration tests failed at {event.stage}: {names} ({event.reason})"[:1000],
    )
    return _moved(state, event, changes=changes, finished=finished)


@_folds(ScopeAdopted)
def _(event: ScopeAdopted, state: PipelineState) -> PipelineState:
    return _scope_event(
        state,
        event,
        event.stage,
        event.scope,
        None,
        {
            "deployed": event.artifact,
            "known_good": event.artifact,
            "traffic_percent": 100.0,
            "change_id": None,
            "activity": "idle",
        },
    )


@_folds(StageLeaseAcquired)
def _(event: StageLeaseAcquired, state: PipelineState) -> PipelineState:
    stage = _stage(state, event.stage)
    stage = _with(
        stage,
        lease_holder=event.change_id,
        waiting=tuple(w for w in stage.waiting if w.change_id != event.change_id),
    )
    return _change_and_stage(
        state, event, event.change_id, stage, status="deploying", stage=event.stage
    )


@_folds(StageLeaseWaiting)
def _(event: StageLeaseWaiting, state: PipelineState) -> PipelineState:
    stage = _stage(state, event.stage)
    already = next((w for w in stage.waiting if w.change_id == event.change_id), None)
    if already is not None:  # a retried task's new token: same place in the queue, same since
        renewed = _with(already, callback_token=event.callback_token)
        waiting = tuple(renewed if w is already else w for w in stage.waiting)
    else:
        waiter = Waiter(
            change_id=event.change_id, callback_token=event.callback_token, since=event.at
        )
        waiting = (*stage.waiting, waiter)
    stage = _with(stage, waiting=waiting)
    return _change_and_stage(
        state, event, event.change_id, stage, status="waiting", stage=event.stage
    )


@_folds(StageLeaseReleased)
def _(event: StageLeaseReleased, state: PipelineState) -> PipelineState:
    stage = _stage(state, event.stage)
    if stage.lease_holder == event.change_id:
        stage = _with(stage, lease_holder=None)
    return _moved(state, event, stages=_put_stage(state, stage))


@_folds(ChangeSuperseded)
def _(event: ChangeSuperseded, state: PipelineState) -> PipelineState:
    stages = state.stages
    if event.stage in stages:  # not at source, which is no stage of the pipeline
        stage = _stage(state, event.stage)
        waiting = tuple(w for w in stage.waiting if w.change_id != event.change_id)
        stages = _put_stage(state, _with(stage, waiting=waiting))
    old = state.changes.get(event.change_id)
    changes, finished = _on_change(
        state,
        event.change_id,
        event,
        finish=True,
        status="superseded",
        superseded_by=event.superseded_by,
    )
    newer = changes.get(event.superseded_by)
    if newer is not None:
        carried = tuple(c for c in (old.commits if old else ()) if c not in newer.commits)
        changes = dict(changes)
        changes[newer.change_id] = _with(
            newer,
            riding_along=(*newer.riding_along, event.change_id),
            commits=(*carried, *newer.commits),
            updated_at=event.at,
        )
    return _moved(state, event, stages=stages, changes=changes, finished=finished)


def _known_good_before(scope: ScopeState, artifact: Artifact) -> Artifact | None:
    """What a rollback returns to once `artifact` starts to replace the scope's fleet."""
    if scope.known_good is None and scope.deployed is not None and scope.deployed != artifact:
        return scope.deployed
    return scope.known_good


@_folds(OneBoxDeployed)
def _(event: OneBoxDeployed, state: PipelineState) -> PipelineState:
    known_good = _known_good_before(_scope(_stage(state, event.stage), event.scope), event.artifact)
    return _scope_event(
        state,
        event,
        event.stage,
        event.scope,
        event.change_id,
        {
            "deployed": event.artifact,
            "traffic_percent": event.traffic_percent,
            "known_good": known_good,
            "change_id": event.change_id,
            "batch": 0,
            "activity": "one-box",
            "health": "unknown",
            "last_alarm": None,  # an alarm against an earlier change is history here
        },
        status="deploying",
        stage=event.stage,
    )


@_folds(BatchDeployed)
def _(event: BatchDeployed, state: PipelineState) -> PipelineState:
    scope = _scope(_stage(state, event.stage), event.scope)
    known_good = _known_good_before(scope, event.artifact)
    fields: dict[str, Any] = {
        "deployed": event.artifact,
        "traffic_percent": event.fleet_percent_on_new,
        "known_good": known_good,
        "change_id": event.change_id,
        "batch": event.batch,
        "activity": f"rolling: batch {event.batch}",
        "health": f"{event.healthy_percent:g}% healthy",
    }
    if scope.change_id != event.change_id:
        fields["last_alarm"] = None  # an alarm against an earlier change is history here
    return _scope_event(
        state,
        event,
        event.stage,
        event.scope,
        event.change_id,
        fields,
        status="deploying",
        stage=event.stage,
    )


@_folds(HealthCheckPassed)
def _(event: HealthCheckPassed, state: PipelineState) -> PipelineState:
    return _scope_event(
        state,
        event,
        event.stage,
        event.scope,
        event.change_id,
        {"health": f"healthy ({len(event.boxes)} checked)"},
    )


@_folds(HealthCheckFailed)
def _(event: HealthCheckFailed, state: PipelineState) -> PipelineState:
    return _scope_event(
        state,
        event,
        event.stage,
        event.scope,
        event.change_id,
        {"health": f"unhealthy: {event.reason}"},
        reason=f"health check failed in {event.scope}: {event.reason}",
    )


@_folds(BakeStarted)
def _(event: BakeStarted, state: PipelineState) -> PipelineState:
    scope = _scope(_stage(state, event.stage), event.scope)
    # An extended or held bake goes on: its datapoints and alarm history count from the start
    # of the whole bake, not from the extension.
    goes_on = scope.change_id == event.change_id and scope.activity in ("bake extended", "held")
    return _scope_event(
        state,
        event,
        event.stage,
        event.scope,
        event.change_id,
        {
            "activity": "baking one-box" if event.phase == "one-box" else "baking",
            "bake_ends_at": event.ends_at,
            "bake_started_at": scope.bake_started_at if goes_on else event.at,
            "bake_token": event.callback_token,
            "change_id": event.change_id,
            "datapoints": f"0/{event.min_datapoints} {event.metric}",
        },
        status="baking",
        stage=event.stage,
    )


@_folds(BakeCompleted)
def _(event: BakeCompleted, state: PipelineState) -> PipelineState:
    scope = _scope(_stage(state, event.stage), event.scope)
    # A scope's artifact becomes known good only when its whole stage succeeds (StageSucceeded):
    # a later bake of the same stage can still roll it back.
    del scope
    fields: dict[str, Any] = {
        "activity": f"baked ({event.phase})",
        "bake_ends_at": None,
        "bake_token": "",
    }
    return _scope_event(
        state, event, event.stage, event.scope, event.change_id, fields, status="deploying"
    )


@_folds(DatapointsReached)
def _(event: DatapointsReached, state: PipelineState) -> PipelineState:
    return _scope_event(
        state,
        event,
        event.stage,
        event.scope,
        event.change_id,
        {"datapoints": f"{event.seen}/{event.required} {event.metric}"},
    )


@_folds(DatapointsInsufficient)
def _(event: DatapointsInsufficient, state: PipelineState) -> PipelineState:
    seen = f"{event.seen}/{event.required} {event.metric}"
    scope_fields: dict[str, Any] = {"datapoints": seen}
    if event.action == "extend":
        scope_fields["activity"] = "bake extended"
    elif event.action == "hold":
        scope_fields["activity"] = "held"
    state = _scope_event(state, event, event.stage, event.scope, event.change_id, scope_fields)
    if event.action != "hold":
        return state
    blocker = Blocker(
        blocker="insufficient-datapoints",
        change_id=event.change_id,
        reason=f"{event.scope}: only {seen} datapoints",
        inputs=(
            ("metric", event.metric),
            ("required", str(event.required)),
            ("seen", str(event.seen)),
            ("scope", event.scope),
        ),
        since=event.at,
    )
    return _block(state, event, event.stage, blocker)


@_folds(AlarmsUnconfirmed)
def _(event: AlarmsUnconfirmed, state: PipelineState) -> PipelineState:
    held = event.action == "hold"
    activity = "held" if held else "bake extended"
    state = _scope_event(
        state,
        event,
        event.stage,
        event.scope,
        event.change_id,
        {"activity": f"{activity} (alarms unconfirmed)", "health": "unconfirmed"},
    )
    if not held:
        return state
    blocker = Blocker(
        blocker=f"alarm-health:{event.scope}",
        change_id=event.change_id,
        reason=f"{event.scope}: {'; '.join(event.problems)}",
        inputs=tuple((f"problem {n}", p) for n, p in enumerate(event.problems, start=1)),
        since=event.at,
    )
    return _block(state, event, event.stage, blocker)


@_folds(AlarmFired)
def _(event: AlarmFired, state: PipelineState) -> PipelineState:
    described = f"alarm {event.alarm_name} in {event.region}: {event.reason}"
    current = state.changes.get(event.change_id) if event.change_id else None
    return _scope_event(
        state,
        event,
        event.stage,
        event.scope,
        event.change_id,
        {"last_alarm": event.alarm_name},
        reason=f"alarm {event.alarm_name} in {event.region}: {event.reason}",
        last_alarm=described,
        first_alarm=(current.first_alarm if current and current.first_alarm else described),
    )


@_folds(RollbackStarted)
def _(event: RollbackStarted, state: PipelineState) -> PipelineState:
    return _scope_event(
        state,
        event,
        event.stage,
        event.scope,
        event.change_id,
        {"activity": "rolling back", "bake_ends_at": None, "bake_token": ""},
        status="rolling-back",
        reason=event.reason,
    )


@_folds(RollbackCompleted)
def _(event: RollbackCompleted, state: PipelineState) -> PipelineState:
    return _scope_event(
        state,
        event,
        event.stage,
        event.scope,
        event.change_id,
        {
            "deployed": event.artifact,
            "traffic_percent": 100.0 if event.artifact is not None else 0.0,
            "known_good": event.artifact,
            "change_id": None,
            "activity": "rolled back",
        },
        status="rolled-back",
    )


@_folds(RollbackFailed)
def _(event: RollbackFailed, state: PipelineState) -> PipelineState:
    state = _scope_event(
        state,
        event,
        event.stage,
        event.scope,
        event.change_id,
        {
            "activity": "rollback failed",
            "failed_rollbacks": _scope(_stage(state, event.stage), event.scope).failed_rollbacks
            + 1,
        },
        status="rollback-failed",
        reason=event.reason,
    )
    blocker = Blocker(
        blocker="rollback-failed",
        change_id=event.change_id,
        reason=f"rollback in {event.scope} failed: {event.reason}",
        inputs=(("scope", event.scope),),
        since=event.at,
    )
    return _block(state, event, event.stage, blocker)


def _block(state: PipelineState, event: Event, stage_name: str, blocker: Blocker) -> PipelineState:
    stage = _stage(state, stage_name)
    others = tuple(
        b for b in stage.blocked if (b.blocker, b.change_id) != (blocker.blocker, blocker.change_id)
    )
    stage = _with(stage, blocked=(*others, blocker))
    return _change_and_stage(
        state, event, blocker.change_id, stage, status="blocked", reason=blocker.reason
    )


def _unblock(
    state: PipelineState,
    event: Event,
    stage_name: str,
    change_id: str,
    blocker: str,
    /,
    **change_fields: Any,
) -> PipelineState:
    stage = _stage(state, stage_name)
    stage = _with(
        stage,
        blocked=tuple(b for b in stage.blocked if (b.blocker, b.change_id) != (blocker, change_id)),
    )
    current = state.changes.get(change_id)
    if current is not None and current.status == "blocked":
        holder = stage.lease_holder == change_id
        change_fields["status"] = "deploying" if holder else "waiting"
        change_fields["reason"] = ""
    return _change_and_stage(state, event, change_id, stage, **change_fields)


@_folds(BlockerHit)
def _(event: BlockerHit, state: PipelineState) -> PipelineState:
    blocker = Blocker(
        blocker=event.blocker,
        change_id=event.change_id,
        reason=event.reason,
        inputs=event.inputs,
        since=event.at,
    )
    return _block(state, event, event.stage, blocker)


@_folds(BlockerCleared)
def _(event: BlockerCleared, state: PipelineState) -> PipelineState:
    return _unblock(state, event, event.stage, event.change_id, event.blocker)


@_folds(BlockerOverridden)
def _(event: BlockerOverridden, state: PipelineState) -> PipelineState:
    current = state.changes.get(event.change_id)
    override = Override(
        stage=event.stage, blocker=event.blocker, by=event.by, why=event.why, at=event.at
    )
    extra: dict[str, Any] = {}
    if current is not None:
        extra["overrides"] = (*current.overrides, override)
    return _unblock(state, event, event.stage, event.change_id, event.blocker, **extra)


@_folds(EmergencyApproved)
def _(event: EmergencyApproved, state: PipelineState) -> PipelineState:
    emergency = Emergency(
        approvers=event.approvers, reason=event.reason, bake_factor=event.bake_factor
    )
    changes, finished = _on_change(state, event.change_id, event, emergency=emergency)
    return _moved(state, event, changes=changes, finished=finished)


@_folds(ChangePromoted)
def _(event: ChangePromoted, state: PipelineState) -> PipelineState:
    changes, finished = _on_change(
        state, event.change_id, event, status="promoting", stage=event.to_stage
    )
    return _moved(state, event, changes=changes, finished=finished)


@_folds(StageSucceeded)
def _(event: StageSucceeded, state: PipelineState) -> PipelineState:
    stage = _stage(state, event.stage)
    # The stage passed: its scopes run the change (known good now), and an alarm that once
    # fired against an earlier change is no longer what a row of it says.
    scopes = {
        name: _with(scope, known_good=scope.deployed, activity="idle", last_alarm=None)
        if scope.change_id == event.change_id
        else _with(scope, last_alarm=None)
        for name, scope in stage.scopes.items()
    }
    stage = _with(stage, scopes=scopes, last_succeeded=event.change_id)
    current = state.changes.get(event.change_id)
    passed = (*current.stages_passed, event.stage) if current is not None else ()
    return _change_and_stage(
        state, event, event.change_id, stage, status="promoting", stages_passed=passed
    )


@_folds(StageFailed)
def _(event: StageFailed, state: PipelineState) -> PipelineState:
    stages = state.stages
    stage = stages.get(event.stage)
    if stage is not None:  # a change that gave up waiting no longer waits, nor bakes
        waiting = tuple(w for w in stage.waiting if w.change_id != event.change_id)
        scopes = {
            name: _stopped(scope, "stopped: stage failed")
            if scope.change_id == event.change_id
            else scope
            for name, scope in stage.scopes.items()
        }
        stages = _put_stage(state, _with(stage, waiting=waiting, scopes=scopes))
    current = state.changes.get(event.change_id)
    rolled_back = current is not None and current.status in ("rolling-back", "rolled-back")
    changes, finished = _on_change(
        state,
        event.change_id,
        event,
        finish=True,
        status="rolled-back" if rolled_back else "failed",
        reason=event.reason,
    )
    return _moved(state, event, stages=stages, changes=changes, finished=finished)


@_folds(ChangeCompleted)
def _(event: ChangeCompleted, state: PipelineState) -> PipelineState:
    changes, finished = _on_change(
        state, event.change_id, event, finish=True, status="completed", stage=None, reason=""
    )
    return _moved(state, event, changes=changes, finished=finished)


_BUSY = ("one-box", "rolling", "baking", "bake extended", "held")


def _stopped(scope: ScopeState, activity: str) -> ScopeState:
    """Nothing runs here for the change any more: no bake is under way."""
    if not scope.activity.startswith(_BUSY):
        return scope
    return _with(scope, activity=activity, bake_ends_at=None, bake_token="")


_ENDED_STATUS: dict[str, ChangeStatus] = {
    "FAILED": "failed",
    "TIMED_OUT": "timed-out",
    "ABORTED": "aborted",
}


@_folds(ExecutionEnded)
def _(event: ExecutionEnded, state: PipelineState) -> PipelineState:
    """The change leaves every waiting list and every blocker of stages it no longer holds;
    still moving, it finishes with the execution's status."""
    stages = dict(state.stages)
    for name, stage in state.stages.items():
        waiting = tuple(w for w in stage.waiting if w.change_id != event.change_id)
        blocked = stage.blocked
        if stage.lease_holder != event.change_id:
            blocked = tuple(b for b in blocked if b.change_id != event.change_id)
        scopes = {
            scope_name: _stopped(scope, f"stopped: execution {event.status}")
            if scope.change_id == event.change_id
            else scope
            for scope_name, scope in stage.scopes.items()
        }
        if waiting != stage.waiting or blocked != stage.blocked or scopes != stage.scopes:
            stages[name] = _with(stage, waiting=waiting, blocked=blocked, scopes=scopes)
    current = state.changes.get(event.change_id)
    if current is None:
        # it finished first (a stage failed, its build failed): its run's end is now known
        finished = tuple(
            _with(c, ended=True) if c.change_id == event.change_id else c for c in state.finished
        )
        return _moved(state, event, stages=stages, finished=finished)
    changes, finished = _on_change(
        state,
        event.change_id,
        event,
        finish=True,
        status=_ENDED_STATUS[event.status],
        reason=f"execution {event.status}: {event.cause}"[:500],
        ended=True,
    )
    return _moved(state, event, stages=stages, changes=changes, finished=finished)


@_folds(PersonPaged)
def _(event: PersonPaged, state: PipelineState) -> PipelineState:
    page = Page(
        key=event.idempotency_key,
        at=event.at,
        stage=event.stage,
        change_id=event.change_id,
        subject=event.subject,
    )
    return _with(_moved(state, event), pages=(*state.pages, page)[-PAGES_KEPT:])


@_folds(StageRecovered)
def _(event: StageRecovered, state: PipelineState) -> PipelineState:
    stage = _stage(state, event.stage)
    scopes = dict(stage.scopes)
    for name in event.scopes:
        scopes[name] = _with(
            _scope(stage, name),
            deployed=event.artifact,
            known_good=event.artifact,
            traffic_percent=100.0,
            change_id=None,
            activity=f"recovered by {event.by}",
            health="unknown",
            updated_at=event.at,
        )
    return _moved(state, event, stages=_put_stage(state, _with(stage, scopes=scopes)))


@_folds(StageUnblocked)
def _(event: StageUnblocked, state: PipelineState) -> PipelineState:
    stage = _stage(state, event.stage)
    stage = _with(
        stage,
        blocked=tuple(
            b
            for b in stage.blocked
            if not (b.change_id == event.change_id and b.blocker == "rollback-failed")
        ),
    )
    return _moved(state, event, stages=_put_stage(state, stage))


@_folds(PipelinePaused)
def _(event: PipelinePaused, state: PipelineState) -> PipelineState:
    paused = Pause(by=event.by, why=event.why, since=event.at, team=event.team)
    return _with(_moved(state, event), paused=paused)


@_folds(PipelineResumed)
def _(event: PipelineResumed, state: PipelineState) -> PipelineState:
    return _with(_moved(state, event), paused=None)


@_folds(ChangeAborted)
def _(event: ChangeAborted, state: PipelineState) -> PipelineState:
    """The change is still moving until its execution's end (and its rollbacks) are
    recorded; its status says it was aborted, and by whom."""
    changes, finished = _on_change(
        state,
        event.change_id,
        event,
        status="aborted",
        reason=f"aborted by {event.by}: {event.why}"[:500],
    )
    return _moved(state, event, changes=changes, finished=finished)


@_folds(EmergencyApprovalGiven)
def _(event: EmergencyApprovalGiven, state: PipelineState) -> PipelineState:
    current = state.changes.get(event.change_id)
    given = (event.by, event.person, event.reason, event.bake_factor)
    approvals = (*current.emergency_approvals, given) if current else (given,)
    changes, finished = _on_change(state, event.change_id, event, emergency_approvals=approvals)
    return _moved(state, event, changes=changes, finished=finished)


@_folds(ChangeRetried)
def _(event: ChangeRetried, state: PipelineState) -> PipelineState:
    """The failed change moves again, from where it failed: what its earlier run left that
    the new run makes anew (its review from source, its artifact from the build, its alarms)
    is cleared; the stages it passed stay passed."""
    current = next((c for c in state.finished if c.change_id == event.change_id), None)
    if current is None:
        return _moved(state, event)
    fields: dict[str, Any] = {
        "status": "retrying",
        "stage": None,
        "reason": f"retried by {event.by} from {event.from_stage}: {event.why}"[:500],
        "attempt": event.attempt,
        "ended": False,
        "retried_from": event.from_stage,
        "first_alarm": "",
        "last_alarm": "",
        "test_run": "",
        "test_token": "",
        "updated_at": event.at,
    }
    if event.from_stage in ("source", "build"):
        fields.update(artifact=None, build_id="", build_token="", stages_passed=())
    if event.from_stage == "source":
        fields.update(reviewed=False, held_for=(), held_since=None)
    changes = dict(state.changes)
    changes[event.change_id] = _replace(current, fields)
    finished = tuple(c for c in state.finished if c.change_id != event.change_id)
    return _moved(state, event, changes=changes, finished=finished)
