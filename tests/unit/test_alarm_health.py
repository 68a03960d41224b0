"""Alarms vouch for a step only when they exist, report data and (where they must) have their
actions enabled; only ALARM rolls back."""

from __future__ import annotations

from domain.alarm_health import (
    AlarmStatus,
    Watched,
    assess,
    merge,
    watched_at_stage_entry,
    watched_by_step,
)
from examples.reference import CreateOrderApp

SPEC = CreateOrderApp.spec()
NAMES = SPEC.alarm_names


def ok(name: str, **fields: object) -> AlarmStatus:
    return AlarmStatus(name=name, state="OK", **fields)  # type: ignore[arg-type]


def statuses(watched: Watched) -> dict[str, AlarmStatus]:
    """Every watched alarm exists, in OK, its actions enabled."""
    return {name: ok(name) for name in watched.names}


def test_a_step_watches_the_composites_and_their_metric_alarms() -> None:
    step = watched_by_step(SPEC, "eu-west-1", one_box=False)
    assert {NAMES.high_severity_composite, NAMES.team_aggregate} <= set(step.names)
    assert {a.name for a in SPEC.alarms.high_severity} <= set(step.names)
    assert NAMES.one_box_composite not in step.names
    assert step.need_actions == {NAMES.high_severity_composite, NAMES.team_aggregate}
    one_box = watched_by_step(SPEC, "eu-west-1", one_box=True)
    assert {a.name for a in SPEC.alarms.one_box} <= set(one_box.names)
    assert NAMES.one_box_composite in one_box.need_actions


def test_all_healthy_vouches() -> None:
    step = watched_by_step(SPEC, "eu-west-1", one_box=True)
    assert assess(step, statuses(step)).healthy


def test_missing_insufficient_data_disabled_actions_and_unreadable_are_unconfirmed() -> None:
    step = watched_by_step(SPEC, "eu-west-1", one_box=False)
    fault = "create-order-fault-rate"
    found = statuses(step)
    del found[NAMES.team_aggregate]
    found[fault] = AlarmStatus(name=fault, state="INSUFFICIENT_DATA")
    found[NAMES.high_severity_composite] = ok(NAMES.high_severity_composite, actions_enabled=False)

    health = assess(step, found)

    assert not health.healthy
    assert health.in_alarm == ()
    assert set(health.unconfirmed) == {
        f"alarm-missing: {NAMES.team_aggregate} in eu-west-1",
        f"insufficient-data: {fault} in eu-west-1",
        f"actions-disabled: {NAMES.high_severity_composite} in eu-west-1",
    }
    unreadable = assess(step, None, read_error="Throttling: Rate exceeded")
    assert unreadable.unconfirmed == ("alarm-read-failed: Throttling: Rate exceeded in eu-west-1",)


def test_only_alarm_rolls_back() -> None:
    step = watched_by_step(SPEC, "eu-west-1", one_box=False)
    found = statuses(step)
    found[NAMES.high_severity_composite] = AlarmStatus(
        name=NAMES.high_severity_composite, state="ALARM"
    )
    health = assess(step, found)
    assert health.in_alarm == (NAMES.high_severity_composite,)
    assert health.unconfirmed == ()


def test_at_stage_entry_one_box_metrics_need_only_exist_and_blockers_are_watched() -> None:
    entry = watched_at_stage_entry(SPEC, "us-east-1", production=True)
    found = statuses(entry)
    for alarm in SPEC.alarms.one_box:  # no one-box runs yet: no data, and that is fine
        found[alarm.name] = AlarmStatus(name=alarm.name, state="INSUFFICIENT_DATA")
    assert assess(entry, found).healthy
    assert set(NAMES.blockers) <= set(entry.names)
    assert not set(NAMES.blockers) - {NAMES.team_aggregate} <= set(
        watched_at_stage_entry(SPEC, "us-east-1", production=False).names
    )


def test_merge_keeps_each_reason_once() -> None:
    step = watched_by_step(SPEC, "eu-west-1", one_box=False)
    unreadable = assess(step, None, read_error="denied")
    assert merge((unreadable, unreadable)).unconfirmed == unreadable.unconfirmed
