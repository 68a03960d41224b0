"""What the dashboard and the HTML report show, built from the fold's state and the log.

Plain values for the templates: the templates only lay them out, so what a page says is
decided (and tested) here. Every signal is words first; a CSS class may colour it too, never
instead (a rolled-back scope says "rolled back", a blocked stage names its blocker).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from domain import codec
from domain.describe import artifact_label, change_of, concerns_change, describe, stage_and_scope
from domain.errors import UnknownChangeError
from domain.events import (
    AlarmFired,
    AlarmsUnconfirmed,
    BakeCompleted,
    BlockerCleared,
    BlockerHit,
    BlockerOverridden,
    BuildFailed,
    CommitExcluded,
    DatapointsInsufficient,
    DatapointsReached,
    EmergencyApproved,
    Event,
    HealthCheckFailed,
    HealthCheckPassed,
    IntegrationTestsFailed,
    IntegrationTestsPassed,
    ReviewHeld,
    ReviewPassed,
    RollbackCompleted,
    RollbackFailed,
    RollbackStarted,
    StageFailed,
)
from domain.spec import PipelineSpec
from domain.state import Blocker, ChangeState, PipelineState, ScopeState, StageState

#: events that record a gate's decision: the timeline shows their inputs
GATE_EVENTS: tuple[type[Event], ...] = (
    ReviewHeld,
    ReviewPassed,
    CommitExcluded,
    BlockerHit,
    BlockerCleared,
    BlockerOverridden,
    EmergencyApproved,
    BakeCompleted,
    DatapointsInsufficient,
    DatapointsReached,
    AlarmsUnconfirmed,
    HealthCheckPassed,
    HealthCheckFailed,
    IntegrationTestsPassed,
    IntegrationTestsFailed,
)
#: events that say something went wrong
FAILURE_EVENTS: tuple[type[Event], ...] = (
    AlarmFired,
    AlarmsUnconfirmed,
    BuildFailed,
    HealthCheckFailed,
    IntegrationTestsFailed,
    RollbackStarted,
    RollbackCompleted,
    RollbackFailed,
    StageFailed,
)
#: a change's statuses that mean it went wrong (its row says so in words and in colour)
BAD_STATUSES = frozenset(
    {"build-failed", "rolled-back", "rollback-failed", "failed", "aborted", "timed-out"}
)
_BOOKKEEPING = frozenset({"type", "sequence", "at", "pipeline_id", "change_id", "key"})


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def parse_utc(text: str) -> datetime | None:
    """An ISO-8601 time, UTC when it names no zone; None when the text is not one."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def remaining(seconds: float) -> str:
    """A time left as people read it: 45 s, 12 min, 3 h 20 min."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def as_of(state: PipelineState, now: datetime) -> datetime:
    """The moment a page judges time left against: now, or the newest event when the log
    runs ahead of this clock (the local runtime's virtual time)."""
    if state.updated_at is not None and state.updated_at > now:
        return state.updated_at
    return now


# --- one scope, one grid cell --------------------------------------------------------------


@dataclass(frozen=True)
class ScopeView:
    scope: str
    version: str  # what serves traffic here ("nothing" before a first deploy)
    traffic: str  # "100%", or "5%" on a one-box
    known_good: str
    change_id: str
    activity: str  # "baking (1 h 20 min left)", "rolled back", "rolling: batch 2", ...
    health: str
    alarm: str  # the alarm that fired here, "" when none
    rolled_back: bool
    baking: bool
    tone: str  # "bad", "busy", "good" or "idle": a CSS class beside the words, never instead
    name: str  # the scope inside its region: "euw1-az2", or the region for a region-wide scope
    short: str  # the version alone: "v1.4.0", "nothing"
    note: str  # what differs from the usual: "known good v1.3.0", "health unconfirmed"


def scope_view(scope: ScopeState | None, name: str, moment: datetime) -> ScopeView:
    if scope is None:
        return ScopeView(
            scope=name,
            version="nothing",
            traffic="0%",
            known_good="-",
            change_id="",
            activity="not deployed yet",
            health="unknown",
            alarm="",
            rolled_back=False,
            baking=False,
            tone="idle",
            name=name.rsplit("/", 1)[-1],
            short="nothing",
            note="",
        )
    activity = scope.activity
    baking = scope.bake_ends_at is not None
    if scope.bake_ends_at is not None:
        left = (scope.bake_ends_at - moment).total_seconds()
        activity += (
            f" ({remaining(left)} left, until {when(scope.bake_ends_at)})"
            if left > 0
            else f" (due at {when(scope.bake_ends_at)})"
        )
    rolled_back = scope.activity.startswith("rolled back") or scope.activity == "rollback failed"
    if scope.activity in ("rolling back", "rollback failed") or scope.last_alarm or rolled_back:
        tone = "bad"
    elif scope.activity == "idle" or scope.activity.startswith("baked"):
        tone = "good" if scope.deployed else "idle"
    else:
        tone = "busy"
    notes = []
    if scope.known_good is not None and scope.known_good != scope.deployed:
        notes.append(f"known good {scope.known_good.version}")
    if scope.health not in ("unknown",) and not scope.health.startswith("healthy"):
        notes.append(f"health {scope.health}")
    return ScopeView(
        name=name.rsplit("/", 1)[-1],
        short=scope.deployed.version if scope.deployed else "nothing",
        note="; ".join(notes),
        scope=name,
        version=artifact_label(scope.deployed),
        traffic=f"{scope.traffic_percent:g}%",
        known_good=artifact_label(scope.known_good) if scope.known_good else "-",
        change_id=scope.change_id or "",
        activity=activity,
        health=scope.health,
        alarm=scope.last_alarm or "",
        rolled_back=rolled_back,
        baking=baking,
        tone=tone,
    )


# --- waves × regions -----------------------------------------------------------------------


@dataclass(frozen=True)
class BlockerView:
    stage: str
    change_id: str
    blocker: str
    reason: str
    inputs: str
    since: str


@dataclass(frozen=True)
class StageRow:
    stage: str
    title: str
    production: bool
    holder: str  # the change holding the stage's lease, "" when free
    waiting: tuple[str, ...]
    last_succeeded: str
    blockers: tuple[BlockerView, ...]
    cells: tuple[tuple[ScopeView, ...] | None, ...]  # per grid region; None: not in this stage
    status: str  # "blocked: …", "rolled back in eu-west-1", "wave2 holds it", "idle"
    tone: str


@dataclass(frozen=True)
class Grid:
    pipeline_id: str
    sequence: int
    updated: str
    moment: str
    regions: tuple[str, ...]
    rows: tuple[StageRow, ...]


def _blocker_view(stage: str, blocker: Blocker) -> BlockerView:
    return BlockerView(
        stage=stage,
        change_id=blocker.change_id,
        blocker=blocker.blocker,
        reason=blocker.reason,
        inputs=", ".join(f"{k}={v}" for k, v in blocker.inputs),
        since=when(blocker.since),
    )


def _layout(
    state: PipelineState, spec: PipelineSpec | None
) -> list[tuple[str, str, bool, dict[str, list[str]]]]:
    """(stage, title, production, region → scopes) in pipeline order: the spec's when known,
    else the order the log first names each stage."""
    if spec is not None:
        layout = []
        for stage in spec.stages:
            regions: dict[str, list[str]] = {}
            for step in stage.steps:
                for scope in step.scopes:
                    scopes = regions.setdefault(scope.region, [])
                    if scope.scope not in scopes:
                        scopes.append(scope.scope)
            layout.append((stage.name, stage.title, stage.production, regions))
        return layout
    found = []
    for known in state.stages.values():
        regions = {}
        for name in known.scopes:
            regions.setdefault(name.split("/", 1)[0], []).append(name)
        found.append((known.stage, known.stage.title(), False, regions))
    return found


def _stage_status(
    stage: StageState | None, cells: Iterable[ScopeView], blockers: Sequence[BlockerView]
) -> tuple[str, str]:
    views = list(cells)
    if blockers:
        return "blocked: " + "; ".join(f"{b.blocker} ({b.reason})" for b in blockers), "bad"
    rolled = sorted({v.scope.split("/", 1)[0] for v in views if v.rolled_back})
    if rolled:
        return f"rolled back in {', '.join(rolled)}", "bad"
    if any(v.alarm for v in views):
        return "in alarm", "bad"
    if stage is not None and stage.lease_holder:
        busy = [v.activity for v in views if v.tone == "busy"]
        doing = busy[0] if busy else "holding the stage"
        return f"{stage.lease_holder}: {doing}", "busy"
    if any(v.version != "nothing" for v in views):
        return "idle", "good"
    return "not deployed yet", "idle"


def grid(state: PipelineState, spec: PipelineSpec | None, now: datetime) -> Grid:
    """The pipeline as waves × regions: per stage and region its scopes' versions, one-box or
    rolling progress, bake time left, blockers and rollbacks."""
    moment = as_of(state, now)
    layout = _layout(state, spec)
    regions: list[str] = []
    for _, _, _, by_region in layout:
        for region in by_region:
            if region not in regions:
                regions.append(region)
    rows = []
    for name, title, production, by_region in layout:
        stage = state.stages.get(name)
        scopes = stage.scopes if stage else {}
        cells: list[tuple[ScopeView, ...] | None] = []
        for region in regions:
            names = by_region.get(region)
            if names is None:
                cells.append(None)
                continue
            cells.append(tuple(scope_view(scopes.get(s), s, moment) for s in names))
        blockers = tuple(_blocker_view(name, b) for b in (stage.blocked if stage else ()))
        status, tone = _stage_status(stage, (v for cell in cells if cell for v in cell), blockers)
        rows.append(
            StageRow(
                stage=name,
                title=title,
                production=production,
                holder=(stage.lease_holder or "") if stage else "",
                waiting=tuple(w.change_id for w in stage.waiting) if stage else (),
                last_succeeded=(stage.last_succeeded or "") if stage else "",
                blockers=blockers,
                cells=tuple(cells),
                status=status,
                tone=tone,
            )
        )
    return Grid(
        pipeline_id=state.pipeline_id,
        sequence=state.sequence,
        updated=when(state.updated_at),
        moment=when(moment),
        regions=tuple(regions),
        rows=tuple(rows),
    )


# --- changes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeRow:
    change_id: str
    status: str
    stage: str
    artifact: str
    commits: int
    notes: str
    bad: bool
    finished: bool


def change_row(change: ChangeState, *, finished: bool) -> ChangeRow:
    notes = []
    if change.riding_along:
        notes.append(f"carries {', '.join(change.riding_along)}")
    if change.excluded:
        notes.append(f"excluded {', '.join(c for c, _ in change.excluded)}")
    if change.held_for:
        notes.append("; ".join(f"held for {c}: {why}" for c, why in change.held_for))
    if change.superseded_by:
        notes.append(f"superseded by {change.superseded_by}")
    if change.emergency:
        notes.append(f"emergency (bake × {change.emergency.bake_factor:g})")
    if change.reason:
        notes.append(change.reason)
    return ChangeRow(
        change_id=change.change_id,
        status=change.status,
        stage=change.stage or ("source" if change.status == "held-at-source" else "-"),
        artifact=artifact_label(change.artifact) if change.artifact else "-",
        commits=len(change.commits),
        notes="; ".join(notes) or "-",
        bad=change.status in BAD_STATUSES,
        finished=finished,
    )


def changes(state: PipelineState, *, finished: int = 10) -> tuple[ChangeRow, ...]:
    """In flight first, then the most recent finished, newest first."""
    moving = [change_row(c, finished=False) for c in state.changes.values()]
    done = [change_row(c, finished=True) for c in reversed(state.finished[-finished:])]
    return (*moving, *done)


# --- all pipelines at a glance ---------------------------------------------------------------


@dataclass(frozen=True)
class PipelineRow:
    pipeline_id: str
    sequence: int
    updated: str
    in_flight: tuple[str, ...]  # "c1 deploying at wave1"
    blocked: tuple[str, ...]  # "wave2: team-aggregate-alarm (…)"
    production: str  # the versions production runs: "v1.2.1", or "v1.2.1, v1.3.0 (mixed)"
    last_finished: str  # "v1.3.0 … rolled-back"
    rolled_back: tuple[str, ...]  # stages whose scopes were last rolled back
    tone: str
    error: str = ""  # the log could not be read: why (the row says so, nothing is guessed)


def pipeline_row(state: PipelineState, spec: PipelineSpec | None, now: datetime) -> PipelineRow:
    view = grid(state, spec, now)
    production_stages = [r for r in view.rows if r.production] or list(view.rows[-1:])
    versions = sorted(
        {
            v.version
            for row in production_stages
            for cell in row.cells
            if cell
            for v in cell
            if v.version != "nothing"
        }
    )
    production = ", ".join(versions) if versions else "nothing yet"
    if len(versions) > 1:
        production += " (mixed)"
    blocked = tuple(f"{b.stage}: {b.blocker} ({b.reason})" for r in view.rows for b in r.blockers)
    if state.paused is not None and not any(
        b.blocker == "paused" for r in view.rows for b in r.blockers
    ):
        blocked = (f"paused by {state.paused.by}: {state.paused.why}", *blocked)
    blocked += tuple(
        f"source: {c.change_id} held for review"
        for c in state.changes.values()
        if c.status == "held-at-source"
    )
    rolled_back = tuple(r.stage for r in view.rows if r.status.startswith("rolled back"))
    last = state.finished[-1] if state.finished else None
    tone = "bad" if blocked or rolled_back else ("busy" if state.changes else "good")
    return PipelineRow(
        pipeline_id=state.pipeline_id,
        sequence=state.sequence,
        updated=when(state.updated_at),
        in_flight=tuple(
            f"{c.change_id} {c.status}" + (f" at {c.stage}" if c.stage else "")
            for c in state.changes.values()
        ),
        blocked=blocked,
        production=production,
        last_finished=f"{last.change_id} {last.status}" if last else "-",
        rolled_back=rolled_back,
        tone=tone,
    )


def unreadable_row(pipeline_id: str, error: Exception) -> PipelineRow:
    """A pipeline whose log could not be read or checked: shown as such, never as healthy."""
    return PipelineRow(
        pipeline_id=pipeline_id,
        sequence=0,
        updated="-",
        in_flight=(),
        blocked=(),
        production="unknown",
        last_finished="-",
        rolled_back=(),
        tone="bad",
        error=f"cannot read this pipeline's log: {error}",
    )


# --- one change's timeline -----------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    sequence: int
    at: str
    where: str
    what: str
    kind: str  # "gate", "failure" or "step"
    inputs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Timeline:
    pipeline_id: str
    change_id: str
    status: str
    summary: ChangeRow | None
    entries: tuple[TimelineEntry, ...]
    took: str  # first to last event


def _flat(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_flat(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(_flat(v) for v in value)
    return str(value)


def entry(event: Event) -> TimelineEntry:
    fields = codec.encode(event)
    inputs = tuple(
        (name, _flat(value))
        for name, value in fields.items()
        if name not in _BOOKKEEPING and value not in ("", None, [], {})
    )
    kind = (
        "failure"
        if isinstance(event, FAILURE_EVENTS)
        else "gate"
        if isinstance(event, GATE_EVENTS)
        else "step"
    )
    return TimelineEntry(
        sequence=event.sequence,
        at=when(event.at),
        where=stage_and_scope(event) or "-",
        what=describe(event),
        kind=kind,
        inputs=inputs,
    )


def timeline(
    pipeline_id: str, change_id: str, events: Iterable[Event], state: PipelineState
) -> Timeline:
    """Every event about one change, merge to completion or rollback, each gate decision with
    the inputs it was made on."""
    chosen = [e for e in events if concerns_change(e, change_id)]
    if not chosen:
        raise UnknownChangeError(f"pipeline {pipeline_id!r} has no change {change_id!r}")
    current: Mapping[str, ChangeState] = state.changes
    summary = None
    if change_id in current:
        summary = change_row(current[change_id], finished=False)
    else:
        for change in state.finished:
            if change.change_id == change_id:
                summary = change_row(change, finished=True)
    took: timedelta = chosen[-1].at - chosen[0].at
    return Timeline(
        pipeline_id=pipeline_id,
        change_id=change_id,
        status=summary.status if summary else "finished (older than the state keeps)",
        summary=summary,
        entries=tuple(entry(e) for e in chosen),
        took=remaining(took.total_seconds()),
    )


def change_ids(events: Iterable[Event]) -> list[str]:
    """Every change the events name, in order of first mention."""
    seen: dict[str, None] = {}
    for event in events:
        change = change_of(event)
        if change:
            seen.setdefault(change, None)
    return list(seen)
