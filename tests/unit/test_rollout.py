"""The pure deployment maths: one-box share, batches, bakes, extensions, windows, blockers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.catalogue import DEFAULT_CATALOGUE
from domain.rollout import (
    MIN_EXTENSION_SECONDS,
    bake_seconds,
    bake_verdict,
    batch_size,
    check_alarm_blockers,
    check_window,
    extension_seconds,
    healthy_percent,
    one_box_traffic_percent,
)
from domain.spec import Datapoints, Rolling, TimeWindow

US_EAST_2 = DEFAULT_CATALOGUE.region("us-east-2")
AP_NORTHEAST_1 = DEFAULT_CATALOGUE.region("ap-northeast-1")
BUSINESS_HOURS = TimeWindow(days=(0, 1, 2, 3, 4), start_hour=9, end_hour=17)


# --- one-box and rolling ---------------------------------------------------------------------


def test_one_box_serves_at_most_its_configured_share() -> None:
    assert one_box_traffic_percent(12, 10.0) == pytest.approx(100 / 12)  # one box of twelve
    assert one_box_traffic_percent(12, 5.0) == 5.0
    assert one_box_traffic_percent(20, 10.0) == 5.0  # one box of twenty serves 5 %
    with pytest.raises(ValueError, match="at least one box"):
        one_box_traffic_percent(0, 10.0)


@given(boxes=st.integers(min_value=1, max_value=500), fast=st.booleans())
def test_a_batch_never_exceeds_33_percent_nor_leaves_less_than_66_healthy(
    boxes: int, fast: bool
) -> None:
    rolling = Rolling(fast_rollback=fast)
    size = batch_size(boxes, rolling)
    assert size >= 1
    if boxes >= 4:  # below four boxes a single box is already a third or more
        assert size <= boxes * 0.33 + 1e-9
    if boxes >= 3:
        assert healthy_percent(boxes, size) >= 66.0 - 1e-9
    if fast and boxes >= 20:
        assert size <= boxes * 0.05 + 1e-9  # 5 % forward
        assert batch_size(boxes, rolling, rollback=True) > size  # 33 % back


# --- bakes -----------------------------------------------------------------------------------


def test_an_emergency_bakes_faster_but_never_under_a_minute() -> None:
    assert bake_seconds(3600, None) == 3600
    assert bake_seconds(3600, 0.25) == 900
    assert bake_seconds(3600, 0.001) == 600  # never below the floor (10 minutes)
    assert bake_seconds(3600, 0.001, 120) == 120
    assert bake_seconds(300, 0.5) == 300  # a bake shorter than the floor is not lengthened


@pytest.mark.parametrize(
    ("seen", "extensions", "breached", "policy", "verdict"),
    [
        (500, 0, True, "extend", "rollback"),  # the alarm-history backstop wins
        (100, 0, False, "extend", "pass"),
        (99, 0, False, "extend", "extend"),
        (99, 3, False, "extend", "hold"),  # out of extensions
        (99, 0, False, "hold", "hold"),
        (0, 0, False, "proceed", "pass"),
    ],
)
def test_bake_verdict(
    seen: int, extensions: int, breached: bool, policy: str, verdict: str
) -> None:
    datapoints = Datapoints(minimum=100, policy=policy, max_extensions=3)  # type: ignore[arg-type]
    assert (
        bake_verdict(
            seen=seen, datapoints=datapoints, extensions=extensions, alarm_breached=breached
        )
        == verdict
    )


def test_an_extension_lasts_as_long_as_the_traffic_seen_needs_to_make_up_the_rest() -> None:
    # 20 requests in a minute, 100 required: 80 more take 4 minutes, with a 20 % margin
    assert extension_seconds(seen=20, required=100, baked_seconds=60, bake_seconds=60) == 288
    # nearly there: never less than a minute
    assert (
        extension_seconds(seen=99, required=100, baked_seconds=3600, bake_seconds=3600)
        == MIN_EXTENSION_SECONDS
    )


def test_an_extension_is_at_most_half_the_bake_and_at_least_an_hour_by_default() -> None:
    # thin traffic: capped at the default (half the bake, at least an hour)
    assert extension_seconds(seen=1, required=10**9, baked_seconds=3600, bake_seconds=3600) == 3600
    assert (
        extension_seconds(seen=1, required=10**9, baked_seconds=43200, bake_seconds=43200) == 21600
    )
    # no traffic at all: no rate to go by
    assert extension_seconds(seen=0, required=100, baked_seconds=3600, bake_seconds=3600) == 3600


# --- windows and blockers --------------------------------------------------------------------


def test_a_window_is_read_in_the_regions_local_time() -> None:
    # Tuesday 14:00 UTC is 09:00 in Ohio (EST) and 23:00 in Tokyo
    tuesday = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    assert not check_window(tuesday, US_EAST_2, BUSINESS_HOURS).is_blocked
    tokyo = check_window(tuesday, AP_NORTHEAST_1, BUSINESS_HOURS)
    assert tokyo.is_blocked
    (blocked,) = tokyo.blocked
    assert ("time_zone", "Asia/Tokyo") in blocked.inputs
    assert tokyo.wait_seconds == 10 * 3600  # until 09:00 on Wednesday in Tokyo


def test_a_public_holiday_keeps_the_window_closed_unless_told_otherwise() -> None:
    thanksgiving = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)  # 10:00 in Ohio
    check = check_window(thanksgiving, US_EAST_2, BUSINESS_HOURS)
    (blocked,) = check.blocked
    assert "Thanksgiving" in blocked.reason
    assert check.wait_seconds == 23 * 3600  # Friday 09:00 local
    anyway = TimeWindow(days=(0, 1, 2, 3, 4), start_hour=9, end_hour=17, skip_holidays=False)
    assert not check_window(thanksgiving, US_EAST_2, anyway).is_blocked


def test_no_fridays_and_latest_start() -> None:
    friday = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    assert check_window(friday, US_EAST_2, TimeWindow(no_fridays=True)).is_blocked
    late = datetime(2026, 11, 24, 21, 30, tzinfo=UTC)  # Tuesday 16:30 in Ohio
    assert not check_window(late, US_EAST_2, TimeWindow()).is_blocked
    assert check_window(late, US_EAST_2, TimeWindow(latest_start_hour=16)).is_blocked


def test_alarm_blockers_name_the_alarm_and_say_when_to_look_again() -> None:
    clear = check_alarm_blockers(alarms_in_alarm=(), team_aggregate="orders-aggregate")
    assert (clear.is_blocked, clear.wait_seconds) == (False, 0)
    check = check_alarm_blockers(
        alarms_in_alarm=(("orders-aggregate", "us-east-1"), ("company-event", "eu-west-1")),
        team_aggregate="orders-aggregate",
    )
    assert [b.blocker for b in check.blocked] == ["aggregate-alarm", "company-alarm"]
    assert ("region", "eu-west-1") in check.blocked[1].inputs
    assert check.wait_seconds == 600


def test_a_long_hold_is_checked_less_often_but_at_least_hourly() -> None:
    def wait(held_for: float) -> int:
        return check_alarm_blockers(
            alarms_in_alarm=(("company-event", "eu-west-1"),),
            team_aggregate="orders-aggregate",
            blocked_for_seconds=held_for,
        ).wait_seconds

    assert [wait(0), wait(1800), wait(3 * 3600), wait(7 * 86400)] == [600, 900, 3600, 3600]
