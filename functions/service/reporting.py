"""Figures read from the log over a window of time: DORA's four keys (`domain.dora`).

A long log is read from shortly before the window, not from its start: the last event before
the window is found by bisection (`PipelineLog.last_at_or_before`), and the read starts
earlier, a span four times longer each time, only while a change counted in the window has
its merge before what was read (`domain.dora.needs_earlier`); the figures equal those of a
whole read.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.dora import Dora, dora, needs_earlier
from domain.events import Event
from service.pipeline_log import PipelineLog

#: how far before the window the first read starts (a change merged, built and deployed)
FIRST_SPAN = timedelta(days=1)


def dora_of(
    log: PipelineLog,
    pipeline_id: str,
    *,
    production: frozenset[str],
    since: datetime,
    now: datetime,
) -> Dora:
    """The four keys of one pipeline from `since` to now (or to its newest event, when the
    log runs ahead of this clock: the local runtime's virtual time)."""
    events = window_events(log, pipeline_id, since)
    until = max([now, *(e.at for e in events[-1:])])
    return dora(pipeline_id, events, production=production, since=since, until=until)


def window_events(log: PipelineLog, pipeline_id: str, since: datetime) -> list[Event]:
    """The tail of the log that holds all dora() reads of any window from `since` on."""
    span = FIRST_SPAN
    while True:
        after = log.last_at_or_before(pipeline_id, since - span)
        events = list(log.store.read(pipeline_id, after=after))
        if after == 0 or not needs_earlier(events, since=since):
            return events
        span *= 4
