"""Whether the alarms a step watches can vouch for it: SPEC practice 18 for alarms.

An alarm says "healthy" only when it exists, is in OK, and (where it must) has its actions
enabled. Missing, INSUFFICIENT_DATA and unreadable are not healthy: they are *unconfirmed*,
and an unconfirmed step waits (the next batch, the stage) or cannot pass its bake. Only
ALARM rolls back.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from domain.spec import PipelineSpec

AlarmStateValue = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]


@dataclass(frozen=True, kw_only=True)
class AlarmStatus:
    """One alarm as CloudWatch describes it."""

    name: str
    state: AlarmStateValue
    actions_enabled: bool = True
    updated_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Watched:
    """The alarms a step watches in one region, and what each must show."""

    region: str
    names: tuple[str, ...]
    #: these must have reported data (not INSUFFICIENT_DATA); the rest only exist
    need_data: frozenset[str] = field(default_factory=frozenset)
    #: these must have their actions enabled (they notify people and fire the rollback)
    need_actions: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, kw_only=True)
class Health:
    in_alarm: tuple[str, ...] = ()  # the watched alarms in ALARM: roll back
    unconfirmed: tuple[str, ...] = ()  # why the rest cannot vouch: wait

    @property
    def healthy(self) -> bool:
        return not self.in_alarm and not self.unconfirmed


def assess(
    watched: Watched, statuses: Mapping[str, AlarmStatus] | None, *, read_error: str = ""
) -> Health:
    """What the statuses read (None: the read failed, `read_error` says how) say of the step."""
    region = watched.region
    if statuses is None:
        return Health(unconfirmed=(f"alarm-read-failed: {read_error or 'no answer'} in {region}",))
    in_alarm: list[str] = []
    unconfirmed: list[str] = []
    for name in watched.names:
        status = statuses.get(name)
        if status is None:
            unconfirmed.append(f"alarm-missing: {name} in {region}")
            continue
        if status.state == "ALARM":
            in_alarm.append(name)
        elif status.state == "INSUFFICIENT_DATA" and name in watched.need_data:
            unconfirmed.append(f"insufficient-data: {name} in {region}")
        if name in watched.need_actions and not status.actions_enabled:
            unconfirmed.append(f"actions-disabled: {name} in {region}")
    return Health(in_alarm=tuple(in_alarm), unconfirmed=tuple(unconfirmed))


def merge(healths: Sequence[Health]) -> Health:
    return Health(
        in_alarm=tuple(dict.fromkeys(n for h in healths for n in h.in_alarm)),
        unconfirmed=tuple(dict.fromkeys(r for h in healths for r in h.unconfirmed)),
    )


def watched_by_step(
    spec: PipelineSpec, region: str, *, one_box: bool, extra: Collection[str] = ()
) -> Watched:
    """A deploy or bake step: the service's high-severity composite and the team aggregate,
    with the composite's metric alarms (a composite of children without data stays OK, so the
    children are read themselves); in a one-box step also the one-box composite and its
    metrics. Every one of them must have data; the composites must have actions enabled."""
    names = spec.alarm_names
    high = (
        *(a.name for a in spec.alarms.high_severity),
        *(a.name for a in spec.alarms.anomaly),
    )
    composites = [names.high_severity_composite, names.team_aggregate]
    children = list(high)
    if one_box:
        composites.append(names.one_box_composite)
        children += [a.name for a in spec.alarms.one_box]
    listed = tuple(dict.fromkeys((*composites, *children, *extra)))
    return Watched(
        region=region,
        names=listed,
        need_data=frozenset((*composites, *children)),
        need_actions=frozenset(composites),
    )


def watched_at_stage_entry(spec: PipelineSpec, region: str, *, production: bool) -> Watched:
    """The stage preflight: every alarm any step of the stage will watch exists and has its
    actions enabled; the service's own metrics have reported data. The one-box metrics have
    none before a one-box runs, so they need only exist; company-wide blockers are watched
    before production stages."""
    step = watched_by_step(spec, region, one_box=True)
    one_box_metrics = {a.name for a in spec.alarms.one_box}
    blockers = spec.alarm_names.blockers if production else ()
    return Watched(
        region=region,
        names=tuple(dict.fromkeys((*step.names, *blockers))),
        need_data=frozenset(step.need_data - one_box_metrics),
        need_actions=step.need_actions,
    )
