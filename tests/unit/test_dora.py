"""DORA's four keys from the log, on hand-made histories with known answers."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from domain.dora import Summary, dora
from domain.events import (
    AlarmFired,
    BatchDeployed,
    ChangeCompleted,
    ChangeReceived,
    ChangeRetried,
    Commit,
    Event,
    OneBoxDeployed,
    RollbackCompleted,
    RollbackStarted,
)
from tests.builders import T0, artifact

PIPELINE = "orders-app"
PRODUCTION = frozenset({"wave1", "wave2"})


class History:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def add(self, kind: type[Event], at: datetime, key: str, **fields: object) -> None:
        self.events.append(
            kind(
                pipeline_id=PIPELINE,
                sequence=len(self.events) + 1,
                at=at,
                idempotency_key=key,
                **fields,  # type: ignore[arg-type]
            )
        )

    def merge(self, change: str, at: datetime) -> None:
        self.add(
            ChangeReceived,
            at,
            f"{change}:received",
            change_id=change,
            source="github",
            repository="orders",
            branch="main",
            commits=(Commit(commit_id=f"{change}-c1", author="ana"),),
        )

    def deploy(self, change: str, stage: str, at: datetime) -> None:
        self.add(
            OneBoxDeployed,
            at,
            f"{change}:{stage}:onebox",
            stage=stage,
            scope="eu-west-1",
            change_id=change,
            artifact=artifact(change),
            traffic_percent=10.0,
        )

    def alarm(self, change: str, at: datetime, key: str) -> None:
        """The high-severity alarm fires against `change` in wave1's eu-west-1."""
        self.add(
            AlarmFired,
            at,
            key,
            stage="wave1",
            scope="eu-west-1",
            change_id=change,
            alarm_name="orders-high-severity",
            region="eu-west-1",
            reason="5xx",
        )

    def complete(self, change: str, at: datetime) -> None:
        self.add(ChangeCompleted, at, f"{change}:completed", change_id=change)


def test_the_four_keys_of_a_week_with_two_good_changes_and_one_rolled_back() -> None:
    h = History()
    for n, change in enumerate(("a", "b")):
        start = T0 + timedelta(days=n)
        h.merge(change, start)
        h.deploy(change, "gamma", start + timedelta(hours=1))
        h.deploy(change, "wave1", start + timedelta(hours=2))
        h.complete(change, start + timedelta(hours=10 + 10 * n))  # 10 h and 20 h lead times
    bad = T0 + timedelta(days=3)
    h.merge("c", bad)
    h.deploy("c", "wave1", bad + timedelta(hours=2))
    h.alarm("c", bad + timedelta(hours=3), "c:alarm")
    h.add(
        RollbackStarted,
        bad + timedelta(hours=3, minutes=1),
        "c:rollback",
        stage="wave1",
        scope="eu-west-1",
        change_id="c",
        from_artifact=artifact("c"),
        to_artifact=artifact("b"),
        reason="alarm",
    )
    h.add(
        RollbackCompleted,
        bad + timedelta(hours=3, minutes=12),
        "c:rolled-back",
        stage="wave1",
        scope="eu-west-1",
        change_id="c",
        artifact=artifact("b"),
    )

    figures = dora(
        PIPELINE, h.events, production=PRODUCTION, since=T0, until=T0 + timedelta(days=7)
    )

    assert figures.deployments == 2
    assert figures.per_day == pytest.approx(2 / 7)
    assert figures.lead_time == Summary(2, 15 * 3600, 20 * 3600)
    assert (figures.production_changes, figures.failed_changes) == (3, 1)
    assert figures.change_failure_rate == pytest.approx(1 / 3)
    assert figures.time_to_restore == Summary(1, 12 * 60, 12 * 60)  # from the alarm


def test_only_the_window_counts_and_pre_production_failures_are_no_change_failures() -> None:
    h = History()
    h.merge("a", T0)
    h.deploy("a", "wave1", T0 + timedelta(hours=1))
    h.complete("a", T0 + timedelta(hours=5))
    h.merge("b", T0 + timedelta(days=10))
    h.add(
        BatchDeployed,
        T0 + timedelta(days=10, hours=1),
        "b:gamma:batch1",
        stage="gamma",
        scope="us-east-1",
        change_id="b",
        artifact=artifact("b"),
        batch=1,
        boxes=("box-1",),
        fleet_percent_on_new=50.0,
        healthy_percent=100.0,
    )
    h.add(
        RollbackStarted,
        T0 + timedelta(days=10, hours=2),
        "b:rollback",
        stage="gamma",
        scope="us-east-1",
        change_id="b",
        from_artifact=artifact("b"),
        to_artifact=artifact("a"),
        reason="alarm",
    )

    later = dora(
        PIPELINE,
        h.events,
        production=PRODUCTION,
        since=T0 + timedelta(days=9),
        until=T0 + timedelta(days=11),
    )

    assert later.deployments == 0
    assert later.lead_time == Summary(0, None, None)
    assert later.production_changes == 0
    assert later.change_failure_rate is None  # nothing reached production: no rate, not 0 %
    assert later.time_to_restore.count == 0
    with pytest.raises(ValueError, match="before it starts"):
        dora(PIPELINE, h.events, production=PRODUCTION, since=T0, until=T0)


def test_a_retried_change_failing_again_in_production_is_a_second_restore() -> None:
    """c fails in wave1 (alarm at 3 h, rolled back 12 min later); a person retries it a day
    later and it fails there again (alarm, rolled back in 5 min): two restores of 12 and 5
    minutes, not one that spans the day between; one failed change; its lead time runs from
    its merge to its completion after a third run."""
    h = History()
    bad = T0
    h.merge("c", bad)
    for run, (alarm_at, restore_minutes) in enumerate(
        ((timedelta(hours=3), 12), (timedelta(days=1, hours=3), 5)), start=1
    ):
        if run > 1:
            h.add(
                ChangeRetried,
                bad + alarm_at - timedelta(hours=1),
                f"c:retry:{run}",
                change_id="c",
                from_stage="wave1",
                attempt=run,
                execution=f"c-retry-{run}",
                by="local:ana",
                why="the dependency is back",
            )
        h.deploy("c", "wave1", bad + alarm_at - timedelta(minutes=30))
        h.alarm("c", bad + alarm_at, f"c:alarm:{run}")
        h.add(
            RollbackCompleted,
            bad + alarm_at + timedelta(minutes=restore_minutes),
            f"c:rolled-back:{run}",
            stage="wave1",
            scope="eu-west-1",
            change_id="c",
            artifact=artifact("b"),
        )
    h.complete("c", bad + timedelta(days=3))

    figures = dora(
        PIPELINE, h.events, production=PRODUCTION, since=T0, until=T0 + timedelta(days=7)
    )

    assert figures.time_to_restore == Summary(2, 8.5 * 60, 12 * 60)
    assert figures.lead_time == Summary(1, 3 * 86400, 3 * 86400)
