"""The local runtime's simulated CloudWatch: metrics from the fleet, alarms from their rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.events import Artifact
from examples.reference import CreateOrderApp
from statemachines.local.simulation import (
    SimulatedArtifactStore,
    SimulatedCloudWatch,
    SimulatedFleet,
)
from statemachines.local.traffic import TrafficProfile

SPEC = CreateOrderApp.spec()
NAMES = SPEC.alarm_names
SCOPES = [("production", "eu-west-1/euw1-az1"), ("production", "eu-west-1/euw1-az2")]


class World:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
        self.fleet = SimulatedFleet(lambda: self.now, boxes_per_scope=12)
        self.cloudwatch = SimulatedCloudWatch(self.fleet, {SPEC.pipeline_id: SPEC})
        self.delivered: list[tuple[str, str, str, str]] = []
        self.cloudwatch.listeners.append(lambda *alarm: self.delivered.append(alarm))
        self.fleet.seed(SPEC.service, SCOPES, "v1")

    def minutes(self, count: int) -> None:
        for _ in range(count):
            previous, self.now = self.now, self.now + timedelta(minutes=1)
            self.cloudwatch.tick(previous, self.now)

    def deploy_everywhere(self, version: str, profile: TrafficProfile) -> None:
        self.fleet.profiles[(SPEC.service, version)] = profile
        for environment, scope in SCOPES:
            boxes = self.fleet.boxes(SPEC.service, environment, scope)
            self.fleet._set(SPEC.service, environment, scope, boxes, version, one_box=False)

    def state(self, name: str, environment: str = "production") -> tuple[str, ...]:
        found = self.cloudwatch.states(environment, "eu-west-1", (name,))
        return tuple(n for n, status in found.items() if status.state == "ALARM")


def test_every_metric_rule_is_evaluated_not_only_the_fault_rate() -> None:
    world = World()
    world.minutes(30)  # long enough for the region to settle
    assert world.delivered == []

    # a version whose code takes 360 ms a request: p50 400 ms, p99 1,600 ms > 1,000 ms
    world.deploy_everywhere("v2", TrafficProfile(window=500, faults=(0.0,), code_ms=360))
    world.minutes(2)
    assert world.state(NAMES.high_severity_composite) == ()  # 3 datapoints to alarm
    world.minutes(1)

    assert world.state(NAMES.high_severity_composite) == (NAMES.high_severity_composite,)
    alarm, environment, region, reason = world.delivered[0]
    assert (alarm, environment, region) == (
        NAMES.high_severity_composite,
        "production",
        "eu-west-1",
    )
    assert "create-order-latency-p99" in reason
    assert "create-order-latency-p50" in reason  # 400 ms > 100 ms
    assert "fault-rate" not in reason
    # the team aggregate follows; child alarms are not delivered, only composites
    delivered = {name for name, *_ in world.delivered}
    assert delivered == {
        NAMES.high_severity_composite,
        NAMES.one_box_composite,
        NAMES.team_aggregate,
    }


def test_a_one_box_alarm_watches_the_one_box_alone() -> None:
    world = World()
    world.fleet.profiles[(SPEC.service, "v2")] = TrafficProfile(window=500, faults=(0.049,))
    scope = SCOPES[0][1]
    world.fleet.target(SPEC).one_box("production", scope, _artifact("v2"), 10.0)
    world.minutes(3)

    assert world.state(NAMES.one_box_composite) == (NAMES.one_box_composite,)
    assert world.state(NAMES.high_severity_composite) == ()  # 8 % of one AZ's traffic
    assert [name for name, *_ in world.delivered] == [NAMES.one_box_composite]


def test_alarms_set_by_hand_are_delivered_in_every_environment_and_released() -> None:
    world = World()
    world.fleet.seed(SPEC.service, [("alpha", "eu-west-1")], "v1")
    world.minutes(12)
    world.cloudwatch.set_state(NAMES.high_severity_composite, "eu-west-1", "ALARM", "alpha")
    world.minutes(1)
    assert (NAMES.high_severity_composite, "alpha", "eu-west-1", "set by hand") in (world.delivered)
    world.cloudwatch.set_state(NAMES.high_severity_composite, "eu-west-1", None, "alpha")
    world.minutes(1)
    assert world.state(NAMES.high_severity_composite, "alpha") == ()

    # a forced production alarm in a settled region also returns to its rule
    world.cloudwatch.set_state(NAMES.high_severity_composite, "eu-west-1", "ALARM")
    world.minutes(1)
    assert world.state(NAMES.high_severity_composite) == (NAMES.high_severity_composite,)
    world.cloudwatch.set_state(NAMES.high_severity_composite, "eu-west-1", None)
    world.minutes(1)
    assert world.state(NAMES.high_severity_composite) == ()


def test_datapoints_count_the_requests_of_a_scope_or_of_every_az_of_a_region() -> None:
    world = World()
    start = world.now
    world.minutes(10)
    one_az = world.cloudwatch.datapoints(
        "production", "eu-west-1", SPEC.datapoints, SCOPES[0][1], start, world.now
    )
    region = world.cloudwatch.datapoints(
        "production", "eu-west-1", SPEC.datapoints, "eu-west-1", start, world.now
    )
    assert one_az == 600 * 10  # eu-west-1 is a high-traffic region: 600 requests a minute
    assert region == 2 * one_az
    later = world.cloudwatch.datapoints(
        "production",
        "eu-west-1",
        SPEC.datapoints,
        SCOPES[0][1],
        start + timedelta(minutes=4),
        world.now,
    )
    assert later == 600 * 6


def _artifact(version: str) -> Artifact:
    return SimulatedArtifactStore().build(SPEC.service, version)


# --- what a version's code does, box by box ------------------------------------------------------

#: a code that fills after 1,000 requests a box, then fails nine in ten (a slow burn)
BURN = TrafficProfile(window=250, faults=(0.0,) * 4 + (0.9,))


def test_a_slow_burn_fails_each_box_once_it_served_enough_requests_busy_regions_first() -> None:
    world = World()
    quiet = [("production", "af-south-1/afs1-az1")]  # 30 requests a minute: 2.5 a box
    world.fleet.seed(SPEC.service, quiet, "v1")
    world.minutes(1)
    world.deploy_everywhere("v2", BURN)
    boxes = world.fleet.boxes(SPEC.service, *quiet[0])
    world.fleet._set(SPEC.service, *quiet[0], boxes, "v2", one_box=False)

    # eu-west-1 serves 600 a minute an AZ: 50 a box, so each box passes 1,000 in 20 minutes
    world.minutes(19)
    assert world.state(NAMES.high_severity_composite) == ()
    world.minutes(4)  # the window past 1,000, then 3 datapoints to alarm
    assert world.state(NAMES.high_severity_composite) == (NAMES.high_severity_composite,)
    _, _, _, reason = next(d for d in world.delivered if d[0] == NAMES.high_severity_composite)
    assert "FaultRate Average 0.901" in reason  # the code's 90 % and the platform's 0.1 %
    assert NAMES.team_aggregate in {name for name, *_ in world.delivered}
    # af-south-1's boxes served 2.5 a minute: 57 requests each, far from full
    quiet_region = world.cloudwatch.states(
        "production", "af-south-1", (SPEC.alarm_names.high_severity_composite,)
    )
    assert quiet_region[NAMES.high_severity_composite].state == "OK"


def test_a_region_settles_only_once_its_code_behaves_the_same_from_then_on() -> None:
    world = World()
    world.deploy_everywhere("v2", BURN)
    world.minutes(15)  # metrics alike for 15 minutes, but the boxes are still filling
    assert world.state(NAMES.high_severity_composite) == ()
    world.minutes(8)
    assert world.state(NAMES.high_severity_composite) == (NAMES.high_severity_composite,)


def test_a_canary_that_fails_on_the_boxes_puts_the_team_aggregate_in_alarm() -> None:
    world = World()
    # the code answers customers but not the canary's request once a box served 500
    failing = TrafficProfile(window=250, faults=(0.0,) * 3, canary=(True, True, False))
    world.deploy_everywhere("v2", failing)
    world.minutes(9)  # 50 a box a minute: 450 served
    assert world.state(NAMES.team_aggregate) == ()
    world.minutes(4)
    assert world.state(NAMES.team_aggregate) == (NAMES.team_aggregate,)
    canary = SPEC.alarms.canaries[0].name
    assert world.cloudwatch.states("production", "eu-west-1", (canary,))[canary].state == "ALARM"
    assert world.state(NAMES.high_severity_composite) == ()  # customers are served
    assert [name for name, *_ in world.delivered] == [NAMES.team_aggregate]
