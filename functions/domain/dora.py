"""DORA's four keys, read from a pipeline's event log (SPEC practice 19).

- Deployment frequency: changes that reached every stage (`ChangeCompleted`) in the window.
- Lead time for changes: from the merge reaching shipwave (`ChangeReceived`) to that change
  running everywhere (`ChangeCompleted`).
- Change failure rate: of the changes that deployed to production in the window, the share
  rolled back there.
- Time to restore: from the first sign of a production failure (its `AlarmFired`, or the
  `RollbackStarted` when no alarm preceded it) to the last `RollbackCompleted` of that change
  in that stage; a person's retry of the change ends that failure (a later one is another).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from domain.events import (
    AlarmFired,
    BatchDeployed,
    ChangeCompleted,
    ChangeReceived,
    ChangeRetried,
    Event,
    OneBoxDeployed,
    RollbackCompleted,
    RollbackStarted,
)


@dataclass(frozen=True)
class Summary:
    """Durations in seconds: how many, the median and the 90th percentile (None when none)."""

    count: int
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, values: Iterable[float]) -> Summary:
        ordered = sorted(values)
        if not ordered:
            return cls(0, None, None)
        p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
        return cls(len(ordered), statistics.median(ordered), p90)


@dataclass(frozen=True)
class Dora:
    pipeline_id: str
    since: datetime
    until: datetime
    deployments: int  # changes completed everywhere in the window
    per_day: float
    lead_time: Summary
    production_changes: int  # changes that deployed to production in the window
    failed_changes: int  # of those, rolled back in production
    change_failure_rate: float | None  # None: nothing deployed to production
    time_to_restore: Summary


def dora(
    pipeline_id: str,
    events: Iterable[Event],
    *,
    production: frozenset[str],
    since: datetime,
    until: datetime,
) -> Dora:
    """The four keys over [since, until], `production` naming the pipeline's production
    stages. Raises ValueError for an empty or inverted window."""
    if until <= since:
        raise ValueError(f"the window ends ({until.isoformat()}) before it starts")
    received: dict[str, datetime] = {}
    lead_times: list[float] = []
    deployed: set[str] = set()
    failed: set[str] = set()
    first_sign: dict[tuple[str, str], datetime] = {}
    restored: dict[tuple[str, str], datetime] = {}
    restores: list[float] = []  # failures a retry ended

    def close(change: str) -> None:
        for key in [k for k in first_sign if k[0] == change]:
            start = first_sign.pop(key)
            end = restored.pop(key, None)
            if end is not None:
                restores.append((end - start).total_seconds())

    for event in events:
        inside = since <= event.at <= until
        if isinstance(event, ChangeReceived):
            received[event.change_id] = event.at
        elif isinstance(event, ChangeCompleted) and inside:
            merged = received.get(event.change_id)
            if merged is not None:
                lead_times.append((event.at - merged).total_seconds())
            else:
                lead_times.append(math.nan)  # received before the log began: counted, not timed
        elif isinstance(event, OneBoxDeployed | BatchDeployed):
            if inside and event.stage in production:
                deployed.add(event.change_id)
        elif isinstance(event, AlarmFired | RollbackStarted):
            if event.change_id is None or event.stage not in production:
                continue
            key = (event.change_id, event.stage)
            first_sign.setdefault(key, event.at)
            if isinstance(event, RollbackStarted) and inside:
                failed.add(event.change_id)
        elif isinstance(event, RollbackCompleted) and event.stage in production and inside:
            restored[(event.change_id, event.stage)] = event.at
        elif isinstance(event, ChangeRetried):
            close(event.change_id)
    timed = [t for t in lead_times if not math.isnan(t)]
    restore = restores + [
        (end - first_sign[key]).total_seconds()
        for key, end in restored.items()
        if key in first_sign
    ]
    days = (until - since).total_seconds() / 86400
    production_changes = deployed | failed
    return Dora(
        pipeline_id=pipeline_id,
        since=since,
        until=until,
        deployments=len(lead_times),
        per_day=len(lead_times) / days,
        lead_time=Summary.of(timed),
        production_changes=len(production_changes),
        failed_changes=len(failed),
        change_failure_rate=len(failed) / len(production_changes) if production_changes else None,
        time_to_restore=Summary.of(restore),
    )


#: what dora() counts of a change inside its window (every one of them needs the change's
#: merge, or its whole failure, from the events read)
_COUNTED = (
    ChangeCompleted,
    OneBoxDeployed,
    BatchDeployed,
    AlarmFired,
    RollbackStarted,
    RollbackCompleted,
    ChangeRetried,
)


def needs_earlier(events: Iterable[Event], *, since: datetime) -> bool:
    """Whether `events` (a tail of the log) start too late for dora() over a window from
    `since` to equal dora() over the whole log: some change it counts in the window has its
    merge (`ChangeReceived`) before them. No event of a change comes before its merge, so
    a tail holding the merge of every counted change holds all that dora() reads of it."""
    received: set[str] = set()
    counted: set[str] = set()
    for event in events:
        if isinstance(event, ChangeReceived):
            received.add(event.change_id)
        elif isinstance(event, _COUNTED) and since <= event.at:
            change = event.change_id
            if change:
                counted.add(change)
    return bool(counted - received)
