"""Every recorded transition becomes one notification: its detail-type, severity and detail."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.events import EVENT_TYPES, AlarmFired, RollbackCompleted
from domain.notifications import (
    DETAIL_TYPES,
    SOURCE,
    at_least,
    notification_id,
    notify,
)
from tests.builders import T0, artifact, change_received, rollout


def test_each_event_type_has_its_own_detail_type() -> None:
    assert len(DETAIL_TYPES) == len(EVENT_TYPES)
    assert len(set(DETAIL_TYPES)) == len(DETAIL_TYPES)
    assert all(name.startswith("Shipwave ") for name in DETAIL_TYPES)
    for name in (
        "Shipwave Change Rolled Back",
        "Shipwave Stage Blocked",
        "Shipwave Change Completed",
    ):
        assert name in DETAIL_TYPES
    assert SOURCE == "shipwave"


def test_the_detail_carries_the_event_its_place_and_what_routes_it() -> None:
    event = rollout("orders-app", 2, "c1", "gamma", "us-east-1")[2]  # the one-box

    note = notify(event)

    assert note.detail_type == "Shipwave One-Box Deployed"
    assert (
        note.id == notification_id("orders-app", event.sequence) == f"orders-app/{event.sequence}"
    )
    assert note.detail["pipeline_id"] == "orders-app"
    assert (note.detail["stage"], note.detail["scope"], note.detail["change_id"]) == (
        "gamma",
        "us-east-1",
        "c1",
    )
    assert note.detail["event"]["type"] == "OneBoxDeployed"
    assert note.detail["at"].endswith("Z")
    assert note.detail["summary"]
    assert note.severity == note.detail["severity"] == "info"


def _alarm_and_rollback(stage: str) -> tuple[AlarmFired, RollbackCompleted]:
    common = {"pipeline_id": "orders-app", "at": T0 + timedelta(hours=1), "stage": stage}
    return (
        AlarmFired(
            **common,
            sequence=5,
            idempotency_key="a",
            scope="eu-west-1",
            change_id="c1",
            alarm_name="orders-high-severity",
            region="eu-west-1",
            reason="FaultRate",
        ),
        RollbackCompleted(
            **common,
            sequence=6,
            idempotency_key="b",
            scope="eu-west-1",
            change_id="c1",
            artifact=artifact("c0"),
        ),
    )


def test_an_alarm_and_a_rollback_are_critical_in_production_and_warnings_before() -> None:
    for stage, expected in (("gamma", "warning"), ("wave1", "critical")):
        alarm, rolled_back = _alarm_and_rollback(stage)
        assert notify(alarm, production={"wave1"}).severity == expected
        note = notify(rolled_back, production={"wave1"})
        assert (note.detail_type, note.severity) == ("Shipwave Change Rolled Back", expected)


def test_the_same_event_is_the_same_notification_however_often_it_is_delivered() -> None:
    event = change_received("orders-app", 1, "c1")
    assert notify(event) == notify(event)


def test_a_subscriber_of_a_severity_gets_it_and_the_worse_ones() -> None:
    assert at_least("info") == ("info", "warning", "critical")
    assert at_least("warning") == ("warning", "critical")
    assert at_least("critical") == ("critical",)
    with pytest.raises(ValueError, match="severity 'loud': one of info, warning, critical"):
        at_least("loud")  # type: ignore[arg-type]
