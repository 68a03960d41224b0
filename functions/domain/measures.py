"""What the handlers measure of each recorded transition: CloudWatch metrics (SPEC practice 19).

A pure function of the state before a batch of events and the events: the handlers emit
what it returns as CloudWatch embedded metric format through Powertools (namespace
`Shipwave`), the team's CloudWatch dashboard graphs them.

- `DeploymentsStarted` / `DeploymentsCompleted` (Pipeline, Stage): a change took a stage's
  lease / the stage succeeded for it; `ChangesCompleted` (Pipeline): everywhere.
- `Rollbacks` (Pipeline, Stage, Alarm): a rollback started in a scope, with the alarm that
  fired there (`none` when no alarm did: a failed deployment or health check).
- `BlockedMinutes` (Pipeline, Blocker): when a blocker is cleared or overridden, how long it
  held its change; the blocker's kind (`time-window`, `aggregate-alarm`, ...).
- `BakeExtensions` (Pipeline, Stage): a bake extended for too few datapoints.
- `LeadTimeSeconds` (Pipeline, Stage): from the merge reaching shipwave to the change
  passing the stage.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from domain.events import (
    BlockerCleared,
    BlockerOverridden,
    ChangeCompleted,
    DatapointsInsufficient,
    Event,
    RollbackStarted,
    StageLeaseAcquired,
    StageSucceeded,
)
from domain.state import PipelineState, evolve

NAMESPACE = "Shipwave"
#: every metric `measures` emits
METRIC_NAMES = (
    "DeploymentsStarted",
    "DeploymentsCompleted",
    "ChangesCompleted",
    "Rollbacks",
    "BlockedMinutes",
    "BakeExtensions",
    "LeadTimeSeconds",
)
Unit = Literal["Count", "Seconds"]


@dataclass(frozen=True)
class Measure:
    name: str
    unit: Unit
    value: float
    dimensions: tuple[tuple[str, str], ...]


def _blocked_since(state: PipelineState, stage: str, change: str, blocker: str) -> float | None:
    stage_state = state.stages.get(stage)
    for held in stage_state.blocked if stage_state else ():
        if held.change_id == change and held.blocker == blocker:
            return held.since.timestamp()
    return None


def _one(state: PipelineState, event: Event) -> Iterable[Measure]:
    pipeline = ("Pipeline", event.pipeline_id)
    if isinstance(event, StageLeaseAcquired):
        yield Measure("DeploymentsStarted", "Count", 1, (pipeline, ("Stage", event.stage)))
    elif isinstance(event, StageSucceeded):
        yield Measure("DeploymentsCompleted", "Count", 1, (pipeline, ("Stage", event.stage)))
        change = state.changes.get(event.change_id)
        if change is not None:
            lead = (event.at - change.received_at).total_seconds()
            yield Measure("LeadTimeSeconds", "Seconds", lead, (pipeline, ("Stage", event.stage)))
    elif isinstance(event, ChangeCompleted):
        yield Measure("ChangesCompleted", "Count", 1, (pipeline,))
    elif isinstance(event, RollbackStarted):
        stage_state = state.stages.get(event.stage)
        scope = stage_state.scopes.get(event.scope) if stage_state else None
        alarm = (scope.last_alarm if scope else None) or "none"
        yield Measure("Rollbacks", "Count", 1, (pipeline, ("Stage", event.stage), ("Alarm", alarm)))
    elif isinstance(event, BlockerCleared | BlockerOverridden):
        since = _blocked_since(state, event.stage, event.change_id, event.blocker)
        if since is not None:
            minutes = max(0.0, (event.at.timestamp() - since) / 60)
            kind = event.blocker.split(":", 1)[0]
            yield Measure("BlockedMinutes", "Count", minutes, (pipeline, ("Blocker", kind)))
    elif isinstance(event, DatapointsInsufficient) and event.action == "extend":
        yield Measure("BakeExtensions", "Count", 1, (pipeline, ("Stage", event.stage)))


def measures(before: PipelineState, events: Iterable[Event]) -> list[Measure]:
    """The metrics of a batch just recorded, each judged on the state as it was just
    before that event."""
    found: list[Measure] = []
    state = before
    for event in events:
        found.extend(_one(state, event))
        state = evolve(state, event)
    return found
