"""A version's traffic on the local runtime comes from running its code: a reference box (the
artifact's code in its own process) serves the service's customers, and what it answered is the
version's profile. These run the example service's real code and its real load model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from examples import changes
from examples.reference import SERVICE_CODE, CreateOrderApp
from statemachines.local.traffic import (
    PLATFORM_FAULT_RATE,
    CanaryRequest,
    TrafficProfile,
    TrafficProfileError,
    profile,
    settled,
)

SPEC = CreateOrderApp.spec()
LOAD = SERVICE_CODE[SPEC.repository] / "load" / "customers.py"
CANARY = CanaryRequest("POST", "/orders", SPEC.canary.body, SPEC.canary.expect_status)


def serve(tmp_path: Path, code: str, **options: object) -> TrafficProfile:
    (tmp_path / "orders.py").write_text(code)
    arguments: dict[str, object] = {"load": LOAD, "canary": CANARY, "requests": 6_000}
    arguments.update(options)
    return profile(tmp_path, "orders.handler", **arguments)  # type: ignore[arg-type]


def test_the_services_code_fails_none_of_its_customers_and_passes_its_canary(
    tmp_path: Path,
) -> None:
    good = serve(tmp_path, changes.code())
    assert good.requests_served == 6_000
    assert set(good.faults) == {0.0}  # the refused orders are 400s: the customers' mistakes
    assert good.fault_rate(0) == good.fault_rate(10**6) == PLATFORM_FAULT_RATE
    assert set(good.canary) == {True}
    assert good.steady(0)
    assert good.first_fault == ""
    assert "load/customers.py" in good.source


def test_a_bug_fails_the_orders_that_reach_it_from_the_first_request(tmp_path: Path) -> None:
    bad = serve(tmp_path, changes.bulk_discounts())
    # one order in twenty is a bulk order, three in five of those have 30 units or more
    assert 0.02 < bad.fault_rate(0) < 0.045
    assert bad.fault_rate(0) == bad.fault_rate(5_999)  # the same code on every box, any time
    assert bad.steady(0)
    assert re.search(r"KeyError: (30|40|50)$", bad.first_fault), bad.first_fault
    assert set(bad.canary) == {True}  # the canary orders one unit: it never sees the bug


def test_a_slow_burn_fails_a_box_once_it_has_served_enough(tmp_path: Path) -> None:
    burn = serve(tmp_path, changes.slow_burn(limit=2_000))
    assert burn.fault_rate(0) == PLATFORM_FAULT_RATE
    assert burn.fault_rate(1_500) == PLATFORM_FAULT_RATE
    assert burn.fault_rate(4_000) > 0.8  # every accepted order fails once the buffer is full
    assert not burn.steady(1_500)
    assert 2_000 < burn.steady_from <= 3_000
    assert burn.steady(burn.steady_from)
    assert burn.canary_passes(0) is True
    assert burn.canary_passes(4_000) is False
    assert "BufferError: recent-order buffer full" in burn.first_fault


def test_code_that_does_not_load_cannot_be_served(tmp_path: Path) -> None:
    with pytest.raises(TrafficProfileError, match="SyntaxError"):
        serve(tmp_path, "def handler(event, context:\n")


def test_without_a_load_model_the_box_is_served_the_canarys_request(tmp_path: Path) -> None:
    alone = serve(tmp_path, changes.code(), load=None, requests=1_000)
    assert "the canary's request" in alone.source
    assert set(alone.faults) == {0.0}


def test_the_tail_where_only_the_mix_of_requests_varies_is_its_mean() -> None:
    noisy = [0.03, 0.026, 0.034, 0.028]
    assert settled(noisy, [], 500) == (0.0295,) * 4
    filling = [0.0, 0.0, 0.7, 0.95, 0.96, 0.94]
    assert settled(filling, [], 500) == (0.0, 0.0, 0.7, 0.95, 0.95, 0.95)
    # the canary's answer changing ends the tail even where the shares are alike
    assert settled([0.0, 0.0, 0.0], [True, False, False], 500) == (0.0, 0.0, 0.0)


def test_a_profile_has_one_share_and_one_canary_answer_per_window() -> None:
    with pytest.raises(ValueError, match="per window"):
        TrafficProfile(window=10, faults=(0.0,), canary=(True, False))
    with pytest.raises(ValueError, match="per window"):
        TrafficProfile(window=10, faults=())
