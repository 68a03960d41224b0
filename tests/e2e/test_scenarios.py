"""Whole pipelines on the local runtime: the generated ASL, the real handlers, virtual time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from domain.events import (
    AlarmFired,
    BatchDeployed,
    BuildFailed,
    DatapointsInsufficient,
    Event,
    HealthCheckFailed,
    IntegrationTestsFailed,
    IntegrationTestsPassed,
    OneBoxDeployed,
    RollbackCompleted,
    StageLeaseAcquired,
    StageLeaseReleased,
    StageSucceeded,
)
from domain.spec import IntegrationTests
from domain.state import PipelineState
from examples import changes as edits
from examples.reference import CreateOrderApp
from statemachines.local.runtime import LocalRuntime
from statemachines.local.simulation import HostFaults
from tests.e2e.conftest import SmallApp, SmallHistory, ThinTraffic

Make = Callable[..., LocalRuntime]


def business_days_between(start: datetime, end: datetime) -> float:
    """Weekdays between two times, in days (Saturdays and Sundays do not count)."""
    total = 0.0
    day = start
    while day < end:
        step = min(end, (day + timedelta(days=1)).replace(hour=0, minute=0, second=0))
        if day.weekday() < 5:
            total += (step - day).total_seconds() / 86400
        day = step
    return total


def events(runtime: LocalRuntime, pipeline_id: str) -> list[Event]:
    return list(runtime.store.read(pipeline_id))


def versions(runtime: LocalRuntime, service: str, environment: str, scope: str) -> set[str]:
    return {box.version or "" for box in runtime.fleet.boxes(service, environment, scope)}


def assert_one_holder_per_stage(log: list[Event]) -> None:
    holders: dict[str, str] = {}
    for event in log:
        if isinstance(event, StageLeaseAcquired):
            assert event.stage not in holders, (
                f"{event.change_id} took {event.stage} while {holders.get(event.stage)} held it"
            )
            holders[event.stage] = event.change_id
        elif isinstance(event, StageLeaseReleased) and holders.get(event.stage) == event.change_id:
            del holders[event.stage]


def held_by_company_alarm(runtime: LocalRuntime, pipeline: str) -> str:
    """A change merged while a company-wide alarm is in ALARM, run until wave 1 holds it."""
    runtime.adopt(pipeline, "v1.0.0")
    runtime.cloudwatch.set_state("company-large-scale-event", "af-south-1", "ALARM")
    change = runtime.merge(pipeline, "v1.1.0")

    def blocked_at_wave1() -> bool:
        stage = runtime.log.state(pipeline).stages.get("wave1")
        return bool(stage and stage.blocked)

    runtime.run(until=blocked_at_wave1)
    return change


# --- the four scenarios of the demo ------------------------------------------------------------


def test_good_change_reaches_all_24_regions(make_runtime: Make) -> None:
    spec = CreateOrderApp.spec()
    runtime = make_runtime(CreateOrderApp)
    runtime.adopt(spec.pipeline_id, "v1.0.0")

    change = runtime.merge(spec.pipeline_id, "v1.1.0")
    runtime.run()

    assert runtime.executions[change].status == "SUCCEEDED"
    state = runtime.log.state(spec.pipeline_id)
    finished = state.change(change)
    assert finished is not None
    assert finished.status == "completed"
    for stage, scope in spec.scopes():
        environment = "production" if stage.startswith("wave") else stage
        assert versions(runtime, "create-order", environment, scope) == {"v1.1.0"}, scope
        assert state.stages[stage].scopes[scope].known_good is not None
        assert state.stages[stage].scopes[scope].known_good.version == "v1.1.0"  # type: ignore[union-attr]
    # "about 4-5 business days" with the default bakes and windows: every step starts inside
    # its region's window; this week has Thanksgiving (US) and the day after (California)
    business_days = business_days_between(runtime.clock.start, runtime.clock.now())
    assert 3 <= business_days <= 7
    assert len(runtime.history(change)) <= 10_000
    assert_one_holder_per_stage(events(runtime, spec.pipeline_id))


def test_bad_change_is_rolled_back_at_the_first_one_box(make_runtime: Make) -> None:
    spec = CreateOrderApp.spec()
    runtime = make_runtime(CreateOrderApp)
    runtime.adopt(spec.pipeline_id, "v1.0.0")

    # bulk discounts whose code fails orders of 30 units or more: about 3 % of orders
    change = runtime.merge(
        spec.pipeline_id, "v1.2.0", files={"src/orders.py": edits.bulk_discounts()}
    )
    runtime.run()

    assert runtime.executions[change].status == "FAILED"
    finished = runtime.log.state(spec.pipeline_id).change(change)
    assert finished is not None
    assert (finished.status, finished.stage) == ("rolled-back", "gamma")
    assert "create-order-one-box" in finished.reason
    # No customer-facing box beyond the one-box ever served the bad version
    customer_facing = {
        key: peak
        for key, peak in runtime.fleet.peak_boxes.items()
        if key[3] == "v1.2.0" and key[1] not in ("alpha", "beta")
    }
    assert customer_facing
    assert set(customer_facing.values()) == {1}
    assert all(key[1] == "gamma" for key in customer_facing)
    for scope in spec.stages[2].regions:
        assert versions(runtime, "create-order", "gamma", scope) == {"v1.0.0"}


def test_slow_burn_is_rolled_back_during_a_bake_hours_in(make_runtime: Make) -> None:
    spec = CreateOrderApp.spec()
    runtime = make_runtime(CreateOrderApp)
    runtime.adopt(spec.pipeline_id, "v1.0.0")

    # Each box keeps every order it accepted in a buffer nothing drains and fails every order
    # once it holds 13,500 (about 15,000 requests): a busy region's box fills in five hours, a
    # quiet one's in days. The stages whose bakes end before their boxes fill pass it on.
    change = runtime.merge(spec.pipeline_id, "v1.3.0", files={"src/orders.py": edits.slow_burn()})
    runtime.run()

    log = events(runtime, spec.pipeline_id)
    alarm = next(e for e in log if isinstance(e, AlarmFired))
    passed = {e.stage for e in log if isinstance(e, StageSucceeded)}
    assert {"alpha", "beta", "gamma", "wave1"} <= passed  # their bakes ended first
    assert alarm.stage not in passed
    assert alarm.stage.startswith("wave")
    # the region's first boxes took the version hours before: they filled, then failed
    first_box = next(
        e
        for e in log
        if isinstance(e, OneBoxDeployed)
        and e.stage == alarm.stage
        and e.scope.startswith(alarm.region)
    )
    assert (alarm.at - first_box.at) >= timedelta(hours=4)
    rolled_back = {e.scope for e in log if isinstance(e, RollbackCompleted)}
    assert rolled_back
    assert all(scope.startswith(alarm.region) for scope in rolled_back)
    for scope in rolled_back:
        assert versions(runtime, "create-order", "production", scope) == {"v1.0.0"}
    assert runtime.executions[change].status == "FAILED"
    finished = runtime.log.state(spec.pipeline_id).change(change)
    assert finished is not None
    assert (finished.status, finished.stage) == ("rolled-back", alarm.stage)


def test_two_changes_minutes_apart_show_the_conveyor(make_runtime: Make) -> None:
    runtime = make_runtime(SmallApp)
    pipeline = SmallApp.pipeline_id()
    runtime.adopt(pipeline, "v1.0.0")
    first = runtime.merge(pipeline, "v1.1.0")

    def first_in_wave1_bake() -> bool:
        stage = runtime.log.state(pipeline).stages.get("wave1")
        return bool(
            stage
            and stage.lease_holder == first
            and any(s.activity == "baking" for s in stage.scopes.values())
        )

    runtime.run(until=first_in_wave1_bake)
    older = runtime.merge(pipeline, "v1.2.0")
    runtime.run_for(240)
    newer = runtime.merge(pipeline, "v1.2.1")
    runtime.run()

    state = runtime.log.state(pipeline)
    superseded = state.change(older)
    assert superseded is not None
    assert (superseded.status, superseded.superseded_by) == ("superseded", newer)
    winner = state.change(newer)
    assert winner is not None
    assert winner.status == "completed"
    assert older in winner.riding_along
    assert set(superseded.commits) <= set(winner.commits)  # its commits ride along
    assert {runtime.executions[c].status for c in (first, older, newer)} == {"SUCCEEDED"}
    assert_one_holder_per_stage(events(runtime, pipeline))


# --- more behaviours ------------------------------------------------------------------------------


def test_rollback_in_the_second_rolling_batch_restores_every_box(make_runtime: Make) -> None:
    runtime = make_runtime(SmallApp)
    pipeline = SmallApp.pipeline_id()
    runtime.adopt(pipeline, "v1.0.0")

    change = runtime.merge(pipeline, "v1.1.0", hosts=HostFaults(unhealthy_from_batch=2))
    runtime.run()

    log = events(runtime, pipeline)
    failed = next(e for e in log if isinstance(e, HealthCheckFailed))
    assert failed.stage == "alpha"
    batches = [e for e in log if type(e).__name__ == "BatchDeployed" and e.scope == failed.scope]
    assert [b.batch for b in batches] == [1, 2]  # type: ignore[attr-defined]
    assert versions(runtime, "create-order", "alpha", failed.scope) == {"v1.0.0"}
    assert runtime.executions[change].status == "FAILED"


def test_aggregate_alarm_of_another_service_rolls_back_a_deployment(make_runtime: Make) -> None:
    runtime = make_runtime(SmallApp, SmallHistory)
    history_pipeline = SmallHistory.pipeline_id()
    runtime.adopt(SmallApp.pipeline_id(), "v1.0.0")
    runtime.adopt(history_pipeline, "h1.0.0")
    change = runtime.merge(history_pipeline, "h1.1.0")

    def baking_in_wave2() -> bool:
        stage = runtime.log.state(history_pipeline).stages.get("wave2")
        return bool(stage and any(s.activity.startswith("baking") for s in stage.scopes.values()))

    runtime.run(until=baking_in_wave2)
    # create-order (not the service being deployed) breaks in eu-west-1
    runtime.cloudwatch.set_state("create-order-high-severity", "eu-west-1", "ALARM")
    runtime.run()

    state = runtime.log.state(history_pipeline)
    finished = state.change(change)
    assert finished is not None
    assert (finished.status, finished.stage) == ("rolled-back", "wave2")
    assert "orders-aggregate" in finished.last_alarm
    assert versions(runtime, "order-history", "production", "eu-west-1/euw1-az1") == {"h1.0.0"}


def test_insufficient_datapoints_extend_the_bake_then_hold(make_runtime: Make) -> None:
    runtime = make_runtime(ThinTraffic)
    pipeline = ThinTraffic.pipeline_id()
    runtime.adopt(pipeline, "v1.0.0")
    runtime.merge(pipeline, "v1.1.0")

    runtime.run_for(6 * 3600)

    log = events(runtime, pipeline)
    short = [e for e in log if isinstance(e, DatapointsInsufficient) and e.stage == "alpha"]
    assert [e.action for e in short][:3] == ["extend", "extend", "hold"]
    assert all(0 < e.seen < e.required for e in short)
    state: PipelineState = runtime.log.state(pipeline)
    (blocker,) = state.stages["alpha"].blocked
    assert blocker.blocker == "insufficient-datapoints"
    assert ("required", str(10**9)) in blocker.inputs


def test_a_crashed_handler_is_retried_and_records_once(make_runtime: Make) -> None:
    runtime = make_runtime(SmallApp)
    pipeline = SmallApp.pipeline_id()
    runtime.adopt(pipeline, "v1.0.0")
    runtime.crashes[("deploy", "one-box")] = 2
    runtime.crashes[("deploy", "rolling")] = 2  # a retried batch changes no box: recorded once
    runtime.crashes[("transition", "stage-succeeded")] = 1

    change = runtime.merge(pipeline, "v1.1.0")
    runtime.run()

    assert runtime.executions[change].status == "SUCCEEDED"
    log = events(runtime, pipeline)
    keys = Counter(e.idempotency_key for e in log)
    assert max(keys.values()) == 1
    one_boxes = Counter((e.stage, e.scope) for e in log if isinstance(e, OneBoxDeployed))
    assert set(one_boxes.values()) == {1}
    batches = Counter((e.stage, e.scope, e.batch) for e in log if isinstance(e, BatchDeployed))
    assert set(batches.values()) == {1}
    assert all(e.boxes for e in log if isinstance(e, BatchDeployed))  # the first attempt's
    retried = [
        e
        for e in runtime.history(change)
        if e["type"] == "LambdaFunctionFailed" or e["type"] == "TaskFailed"
    ]
    assert len(retried) >= 3


def test_a_company_alarm_blocks_a_wave_until_it_clears(make_runtime: Make) -> None:
    runtime = make_runtime(SmallApp)
    pipeline = SmallApp.pipeline_id()
    change = held_by_company_alarm(runtime, pipeline)
    (blocker,) = runtime.log.state(pipeline).stages["wave1"].blocked
    assert blocker.blocker == "company-alarm"
    assert ("alarm", "company-large-scale-event") in blocker.inputs
    runtime.run_for(3 * 3600)
    assert runtime.log.state(pipeline).stages["wave1"].lease_holder == change

    runtime.cloudwatch.set_state("company-large-scale-event", "af-south-1", None)
    runtime.run()
    assert runtime.executions[change].status == "SUCCEEDED"


@pytest.mark.parametrize("store", ["dynamodb"])
def test_the_same_run_on_dynamodb(store: str, tmp_path: Any) -> None:
    from adapters.dynamodb import DynamoDBEventStore
    from tests.e2e.conftest import MONDAY_8AM, specs

    with LocalRuntime(
        specs(SmallApp),
        event_log=lambda: DynamoDBEventStore("shipwave-events", region="us-east-1"),
        start=MONDAY_8AM,
    ) as runtime:
        pipeline = SmallApp.pipeline_id()
        runtime.adopt(pipeline, "v1.0.0")
        change = runtime.merge(pipeline, "v1.1.0")
        runtime.run()
        assert runtime.executions[change].status == "SUCCEEDED"
        assert isinstance(runtime.store, DynamoDBEventStore)
        assert runtime.log.state(pipeline).change(change).status == "completed"  # type: ignore[union-attr]


def test_a_failed_rollback_leaves_the_stage_blocked_with_its_reason(make_runtime: Make) -> None:
    runtime = make_runtime(SmallApp)
    pipeline = SmallApp.pipeline_id()
    runtime.adopt(pipeline, "v1.0.0")
    runtime.fleet.broken_targets.add("create-order")  # the deploy API refuses every rollback

    change = runtime.merge(pipeline, "v1.1.0", files={"src/orders.py": edits.bulk_discounts()})
    runtime.run()

    assert runtime.executions[change].status == "FAILED"
    state = runtime.log.state(pipeline)
    gamma = state.stages["gamma"]
    assert gamma.lease_holder == change  # nobody deploys over a half-rolled-back stage
    assert any(b.blocker == "rollback-failed" and "refused" in b.reason for b in gamma.blocked)
    failures = [e for e in events(runtime, pipeline) if type(e).__name__ == "RollbackFailed"]
    assert failures
    assert "Rollback failed" in {n.split(" · ")[-1] for n in runtime.states_entered(change)}


def test_an_override_lets_one_change_past_a_blocker(make_runtime: Make) -> None:
    from domain.operations import override_blocker

    runtime = make_runtime(SmallApp)
    pipeline = SmallApp.pipeline_id()
    change = held_by_company_alarm(runtime, pipeline)
    runtime.log.record(
        pipeline,
        runtime.clock.now(),
        lambda state, stamp: override_blocker(
            state,
            stamp,
            stage="wave1",
            change_id=change,
            blocker="company-alarm",
            by="oncall",
            why="this change is the fix for the event",
        ),
    )
    runtime.run()  # the alarm is still in ALARM: only the override lets the change through

    assert runtime.executions[change].status == "SUCCEEDED"
    finished = runtime.log.state(pipeline).change(change)
    assert finished is not None
    assert [o.by for o in finished.overrides] == ["oncall"]


# --- the front of the pipeline: the service's own code, built and tested --------------------


def test_a_bug_no_unit_test_sees_fails_alpha_s_integration_tests_and_goes_no_further(
    make_runtime: Make,
) -> None:
    spec = CreateOrderApp.spec()
    runtime = make_runtime(CreateOrderApp)
    runtime.adopt(spec.pipeline_id, "v1.0.0")
    change = runtime.merge(
        spec.pipeline_id, "v1.1.0", files={"src/orders.py": edits.no_item_limit()}
    )
    runtime.run()

    assert runtime.executions[change].status == "FAILED"
    log = events(runtime, spec.pipeline_id)
    (failed,) = [e for e in log if isinstance(e, IntegrationTestsFailed)]
    assert failed.stage == "alpha"
    assert failed.failed_tests == (
        "integration_tests.test_api.CreateOrderEndpointTest."
        "test_an_order_of_more_than_fifty_items_is_refused",
    )
    assert versions(runtime, "create-order", "alpha", "us-east-1") == {"v1.0.0"}  # rolled back
    assert versions(runtime, "create-order", "beta", "us-east-1") == {"v1.0.0"}  # never reached
    finished = runtime.log.state(spec.pipeline_id).change(change)
    assert finished is not None
    assert finished.status == "rolled-back"
    assert "test_an_order_of_more_than_fifty_items_is_refused" in finished.reason
    assert {"Alpha · Integration tests", "Alpha · Tests failed"} <= runtime.states_entered(change)


def test_a_change_whose_unit_tests_fail_is_never_deployed(make_runtime: Make) -> None:
    spec = CreateOrderApp.spec()
    runtime = make_runtime(CreateOrderApp)
    runtime.adopt(spec.pipeline_id, "v1.0.0")
    change = runtime.merge(
        spec.pipeline_id, "v1.1.0", files={"src/orders.py": edits.unit_price_bug()}
    )
    runtime.run()

    assert runtime.executions[change].status == "FAILED"
    (failed,) = [e for e in events(runtime, spec.pipeline_id) if isinstance(e, BuildFailed)]
    assert failed.phase == "POST_BUILD"
    assert not [
        e
        for e in events(runtime, spec.pipeline_id)
        if isinstance(e, StageLeaseAcquired) and e.change_id == change
    ]
    assert versions(runtime, "create-order", "alpha", "us-east-1") == {"v1.0.0"}
    assert {"Build", "Build · Failed", "Build · Stopped"} <= runtime.states_entered(change)


class WithZeta(SmallApp):
    """Zeta: the service deployed beside the production endpoints of the team's other
    services, where the integration tests run before wave 1."""

    zeta = "us-east-1"
    integration_tests = IntegrationTests(
        command=CreateOrderApp.integration_tests.command,
        stages=("zeta",),
        endpoints={"zeta": "https://orders.zeta.acme.example"},
    )


def test_zeta_runs_the_integration_tests_and_a_failure_there_keeps_production_untouched(
    make_runtime: Make,
) -> None:
    runtime = make_runtime(WithZeta)
    pipeline = WithZeta.pipeline_id()
    runtime.adopt(pipeline, "v1.0.0")
    good = runtime.merge(pipeline, "v1.1.0")
    runtime.run()
    assert runtime.executions[good].status == "SUCCEEDED"
    passed = [e for e in events(runtime, pipeline) if isinstance(e, IntegrationTestsPassed)]
    assert [(e.change_id, e.stage) for e in passed] == [(good, "zeta")]
    assert {"Zeta · Integration tests", "Zeta · Succeeded"} <= runtime.states_entered(good)

    unbounded = runtime.merge(pipeline, "v1.2.0", files={"src/orders.py": edits.no_item_limit()})
    runtime.run()
    assert runtime.executions[unbounded].status == "FAILED"
    (failed,) = [e for e in events(runtime, pipeline) if isinstance(e, IntegrationTestsFailed)]
    assert (failed.change_id, failed.stage) == (unbounded, "zeta")
    assert failed.failed_tests == (
        "integration_tests.test_api.CreateOrderEndpointTest."
        "test_an_order_of_more_than_fifty_items_is_refused",
    )
    assert versions(runtime, "create-order", "zeta", "us-east-1") == {"v1.1.0"}  # rolled back
    for scope in ("af-south-1/afs1-az1", "eu-west-1/euw1-az1"):
        assert versions(runtime, "create-order", "production", scope) == {"v1.1.0"}
