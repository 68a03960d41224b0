"""DORA's keys read from a tail of the log: the same figures as a whole read, from as little
of the log as holds every counted change's merge."""

from __future__ import annotations

from datetime import timedelta

from adapters.memory import InMemoryEventStore
from domain.dora import dora
from domain.events import OneBoxDeployed
from service.pipeline_log import PipelineLog
from service.reporting import dora_of, window_events
from tests.builders import T0, artifact
from tests.unit.test_dora import PIPELINE, PRODUCTION, History


def history() -> History:
    """`slow` merged on day 0 completes on day 40; `a` runs on days 36-37, `b` on 50-51."""
    h = History()
    h.merge("slow", T0)
    for day in range(1, 40, 3):  # slow's gamma, again and again: days of its own events
        h.add(
            OneBoxDeployed,
            T0 + timedelta(days=day),
            f"slow:gamma:onebox:{day}",
            stage="gamma",
            scope="us-east-1",
            change_id="slow",
            artifact=artifact("slow"),
            traffic_percent=10.0,
        )
    h.merge("a", T0 + timedelta(days=36))
    h.deploy("a", "wave1", T0 + timedelta(days=36, hours=2))
    h.complete("a", T0 + timedelta(days=37))
    h.deploy("slow", "wave1", T0 + timedelta(days=39))
    h.complete("slow", T0 + timedelta(days=40))
    h.merge("b", T0 + timedelta(days=50))
    h.deploy("b", "wave1", T0 + timedelta(days=50, hours=2))
    h.complete("b", T0 + timedelta(days=51))
    return h


def _log(h: History) -> PipelineLog:
    store = InMemoryEventStore()
    store.append(tuple(h.events))
    return PipelineLog(store)


def test_a_window_with_a_change_merged_long_before_it_reads_back_to_that_merge() -> None:
    h = history()
    log = _log(h)
    since, now = T0 + timedelta(days=35), T0 + timedelta(days=60)

    figures = dora_of(log, PIPELINE, production=PRODUCTION, since=since, now=now)

    assert figures == dora(PIPELINE, h.events, production=PRODUCTION, since=since, until=now)
    assert figures.lead_time.count == 3  # slow's 40 days among them, measured from day 0
    assert figures.lead_time.p90 == 40 * 86400
    assert window_events(log, PIPELINE, since)[0].sequence == 1  # slow's merge: the start


def test_a_window_whose_changes_all_merged_inside_it_reads_only_its_tail() -> None:
    h = history()
    log = _log(h)
    since, now = T0 + timedelta(days=45), T0 + timedelta(days=60)

    tail = window_events(log, PIPELINE, since)
    figures = dora_of(log, PIPELINE, production=PRODUCTION, since=since, now=now)

    assert figures == dora(PIPELINE, h.events, production=PRODUCTION, since=since, until=now)
    assert figures.deployments == 1
    assert [e.sequence for e in tail] == [e.sequence for e in h.events[-3:]]  # b's three
