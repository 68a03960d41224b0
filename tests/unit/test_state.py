"""What the fold makes of the pipeline's transitions."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

from domain.events import (
    AlarmFired,
    BakeCompleted,
    BakeStarted,
    BlockerCleared,
    BlockerHit,
    BlockerOverridden,
    ChangeCompleted,
    ChangeReceived,
    ChangeSuperseded,
    CommitExcluded,
    DatapointsInsufficient,
    EmergencyApproved,
    OneBoxDeployed,
    RollbackCompleted,
    RollbackFailed,
    RollbackStarted,
    StageFailed,
    StageLeaseAcquired,
    StageLeaseWaiting,
)
from domain.state import FINISHED_KEPT
from tests.builders import T0, StreamLog, artifact, rollout

PIPELINE = "orders-app"


def test_a_baked_rollout_is_deployed_and_known_good() -> None:
    log = StreamLog()
    log.receive("c1")
    log.extend(rollout(PIPELINE, 2, "c1", "gamma", "us-east-1"))

    state = log.state

    scope = state.stages["gamma"].scopes["us-east-1"]
    assert scope.deployed == artifact("c1")
    assert scope.known_good == artifact("c1")
    assert scope.traffic_percent == 100.0
    assert state.stages["gamma"].lease_holder is None
    assert state.stages["gamma"].last_succeeded == "c1"
    assert state.change("c1") is not None
    assert state.changes["c1"].stages_passed == ("gamma",)


def test_rollback_target_is_the_previous_good_artifact_not_the_one_box() -> None:
    # Given c1 baked in gamma, and c2's one-box there
    log = StreamLog()
    log.receive("c1")
    log.extend(rollout(PIPELINE, 2, "c1", "gamma", "us-east-1"))
    log.receive("c2")
    where = {"stage": "gamma", "scope": "us-east-1", "change_id": "c2"}
    log.add(OneBoxDeployed, **where, artifact=artifact("c2"), traffic_percent=10.0)

    # Then the scope serves c2 on 10 % and a rollback would return to c1
    state = log.state
    assert state.stages["gamma"].scopes["us-east-1"].deployed == artifact("c2")
    assert state.stages["gamma"].scopes["us-east-1"].traffic_percent == 10.0
    assert state.rollback_target("gamma", "us-east-1") == artifact("c1")
    assert [(stage, scope) for stage, scope, _ in state.in_flight()] == [("gamma", "us-east-1")]

    # When the alarm fires and the rollback completes
    log.add(AlarmFired, **where, alarm_name="orders-onebox", region="us-east-1", reason="5xx")
    log.add(
        RollbackStarted,
        **where,
        from_artifact=artifact("c2"),
        to_artifact=artifact("c1"),
        reason="alarm",
    )
    assert log.state.changes["c2"].status == "rolling-back"
    log.add(RollbackCompleted, **where, artifact=artifact("c1"))
    log.add(StageFailed, stage="gamma", change_id="c2", reason="rolled back")

    # Then c1 serves everything again and c2 is recorded as rolled back
    state = log.state
    scope = state.stages["gamma"].scopes["us-east-1"]
    assert (scope.deployed, scope.traffic_percent, scope.last_alarm) == (
        artifact("c1"),
        100.0,
        "orders-onebox",
    )
    assert "c2" not in state.changes
    finished = state.change("c2")
    assert finished is not None
    assert finished.status == "rolled-back"


def test_failed_rollback_blocks_the_stage_with_its_reason_until_overridden() -> None:
    log = StreamLog()
    log.receive("c1")
    where = {"stage": "wave1", "scope": "eu-west-1/euw1-az1", "change_id": "c1"}
    log.add(OneBoxDeployed, **where, artifact=artifact("c1"), traffic_percent=5.0)
    log.add(RollbackStarted, **where, from_artifact=artifact("c1"), to_artifact=None, reason="x")
    log.add(RollbackFailed, **where, reason="deploy role cannot be assumed")

    state = log.state
    (blocker,) = state.stages["wave1"].blocked
    assert blocker.blocker == "rollback-failed"
    assert "deploy role cannot be assumed" in blocker.reason
    assert state.changes["c1"].status == "blocked"
    assert state.stages["wave1"].scopes["eu-west-1/euw1-az1"].activity == "rollback failed"
    assert state.stages["wave1"].scopes["eu-west-1/euw1-az1"].failed_rollbacks == 1
    # the stage's own rollback is a second attempt, counted apart
    log.add(RollbackFailed, **where, reason="deploy role cannot be assumed")
    assert log.state.stages["wave1"].scopes["eu-west-1/euw1-az1"].failed_rollbacks == 2

    log.add(
        BlockerOverridden,
        stage="wave1",
        change_id="c1",
        blocker="rollback-failed",
        by="ana",
        why="rolled back by hand, verified",
    )
    state = log.state
    assert state.stages["wave1"].blocked == ()
    assert state.changes["c1"].overrides[0].by == "ana"


def test_after_a_stage_fails_no_scope_of_it_still_bakes() -> None:
    log = StreamLog()
    log.receive("c1")
    where = {"stage": "wave1", "scope": "af-south-1", "change_id": "c1"}
    log.add(
        BakeStarted,
        **where,
        phase="wave",
        duration_seconds=43200,
        ends_at=T0 + timedelta(hours=12),
        metric="AWS/ApiGateway/Count",
        min_datapoints=100,
        callback_token="t",
    )
    log.add(StageFailed, stage="wave1", change_id="c1", reason="rolled back")
    scope = log.state.stages["wave1"].scopes["af-south-1"]
    assert (scope.activity, scope.bake_ends_at, scope.bake_token) == (
        "stopped: stage failed",
        None,
        "",
    )


def test_an_alarm_of_an_earlier_change_no_longer_sticks_once_a_later_change_passes() -> None:
    log = StreamLog()
    log.receive("c1")
    old = {"stage": "gamma", "scope": "us-east-1", "change_id": "c1"}
    log.add(OneBoxDeployed, **old, artifact=artifact("c1"), traffic_percent=10.0)
    log.add(AlarmFired, **old, alarm_name="orders-onebox", region="us-east-1", reason="5xx")
    log.add(RollbackCompleted, **old, artifact=None)
    log.add(StageFailed, stage="gamma", change_id="c1", reason="rolled back")
    assert log.state.stages["gamma"].scopes["us-east-1"].last_alarm == "orders-onebox"
    log.receive("c2")
    log.extend(rollout(PIPELINE, len(log.events) + 1, "c2", "gamma", "us-east-1"))
    assert log.state.stages["gamma"].scopes["us-east-1"].last_alarm is None


def test_a_failure_names_the_first_alarm_and_keeps_the_later_as_its_path() -> None:
    log = StreamLog()
    log.receive("c1")
    where = {"stage": "wave1", "scope": "af-south-1/afs1-az1", "change_id": "c1"}
    for name, reason in (("svc-high-severity", "fault rate 5 %"), ("orders-aggregate", "svc")):
        log.add(AlarmFired, **where, alarm_name=name, region="af-south-1", reason=reason)
    change = log.state.changes["c1"]
    assert change.first_alarm == "alarm svc-high-severity in af-south-1: fault rate 5 %"
    assert change.last_alarm.startswith("alarm orders-aggregate")


def test_blockers_keep_their_inputs_and_clear() -> None:
    log = StreamLog()
    log.receive("c1")
    log.add(StageLeaseWaiting, stage="wave2", change_id="c1", callback_token="t1")
    inputs = (("window", "Mon-Fri 09-17"), ("local_time", "Sat 10:00"))
    log.add(
        BlockerHit,
        stage="wave2",
        change_id="c1",
        blocker="time-window",
        reason="weekend",
        inputs=inputs,
    )

    state = log.state
    assert state.stages["wave2"].blocked[0].inputs == inputs
    assert state.changes["c1"].status == "blocked"

    log.add(BlockerCleared, stage="wave2", change_id="c1", blocker="time-window")
    state = log.state
    assert state.stages["wave2"].blocked == ()
    assert state.changes["c1"].status == "waiting"
    assert state.changes["c1"].reason == ""


def test_insufficient_datapoints_on_hold_block_the_stage() -> None:
    log = StreamLog()
    log.receive("c1")
    log.add(
        DatapointsInsufficient,
        stage="wave1",
        scope="ap-southeast-3",
        change_id="c1",
        metric="CreateOrder.Requests",
        required=100,
        seen=37,
        action="hold",
    )

    state = log.state
    (blocker,) = state.stages["wave1"].blocked
    assert blocker.blocker == "insufficient-datapoints"
    assert ("seen", "37") in blocker.inputs
    assert state.stages["wave1"].scopes["ap-southeast-3"].datapoints == (
        "37/100 CreateOrder.Requests"
    )


def test_an_extended_bake_counts_from_the_start_of_the_whole_bake() -> None:
    log = StreamLog()
    log.receive("c1")
    where = {"stage": "alpha", "scope": "us-east-1", "change_id": "c1"}
    bake = {"metric": "CreateOrder.Requests", "min_datapoints": 100}
    hour = timedelta(hours=1)
    log.add(BakeStarted, **where, **bake, phase="fleet", duration_seconds=3600, ends_at=T0 + hour)
    log.add(
        DatapointsInsufficient,
        at=T0 + hour,
        **where,
        metric="CreateOrder.Requests",
        required=100,
        seen=60,
        action="extend",
    )
    log.add(
        BakeStarted,
        at=T0 + hour,
        **where,
        **bake,
        phase="fleet",
        duration_seconds=2400,
        ends_at=T0 + hour * 1.7,
    )
    scope = log.state.stages["alpha"].scopes["us-east-1"]
    assert (scope.bake_started_at, scope.bake_ends_at) == (T0, T0 + hour * 1.7)

    # a new bake (after this one completed) starts its own count
    log.add(BakeCompleted, at=T0 + 2 * hour, **where, phase="fleet")
    log.add(
        BakeStarted,
        at=T0 + 3 * hour,
        **where,
        **bake,
        phase="fleet",
        duration_seconds=3600,
        ends_at=T0 + 4 * hour,
    )
    assert log.state.stages["alpha"].scopes["us-east-1"].bake_started_at == T0 + 3 * hour


def test_conveyor_newest_waiting_change_takes_the_stage_older_rides_along() -> None:
    log = StreamLog()
    for change in ("c1", "c2", "c3"):
        log.receive(change)
    log.add(StageLeaseAcquired, stage="beta", change_id="c1")
    log.add(StageLeaseWaiting, stage="beta", change_id="c2", callback_token="t2")
    log.add(StageLeaseWaiting, stage="beta", change_id="c3", callback_token="t3")
    assert [w.change_id for w in log.state.stages["beta"].waiting] == ["c2", "c3"]

    log.add(ChangeSuperseded, stage="beta", change_id="c2", superseded_by="c3")
    log.add(StageLeaseAcquired, stage="beta", change_id="c3")

    state = log.state
    assert state.stages["beta"].lease_holder == "c3"
    assert state.stages["beta"].waiting == ()
    assert state.changes["c3"].riding_along == ("c2",)
    assert set(state.changes["c3"].commits) == {"c2-c1", "c3-c1"}
    superseded = state.change("c2")
    assert superseded is not None
    assert (superseded.status, superseded.superseded_by) == ("superseded", "c3")


def test_excluded_commits_and_emergencies_are_recorded_on_the_change() -> None:
    log = StreamLog()
    log.receive("c1")
    log.add(CommitExcluded, change_id="c1", commit_id="c1-c1", reason="not reviewed")
    log.add(
        EmergencyApproved,
        change_id="c1",
        approvers=("sr-1", "sr-2"),
        reason="sev2",
        bake_factor=0.25,
    )

    change = log.state.changes["c1"]
    assert change.commits == ()
    assert change.excluded == (("c1-c1", "not reviewed"),)
    assert change.emergency is not None
    assert change.emergency.approvers == ("sr-1", "sr-2")


def test_finished_changes_are_bounded_and_the_newest_kept() -> None:
    log = StreamLog()
    for n in range(FINISHED_KEPT + 10):
        log.receive(f"c{n}")
        log.add(ChangeCompleted, change_id=f"c{n}")

    state = log.state
    assert len(state.finished) == FINISHED_KEPT
    assert state.finished[-1].change_id == f"c{FINISHED_KEPT + 9}"
    assert state.changes == {}


def test_events_about_a_long_finished_change_still_update_the_stage() -> None:
    log = StreamLog()
    log.receive("c1")
    log.add(ChangeCompleted, change_id="c1")
    log.add(
        AlarmFired,
        stage="wave3",
        scope="us-west-2",
        change_id="c1",
        alarm_name="agg",
        region="us-west-2",
        reason="late alarm",
    )

    state = log.state
    assert state.stages["wave3"].scopes["us-west-2"].last_alarm == "agg"
    assert isinstance(log.events[0], ChangeReceived)


def test_the_core_never_reads_the_clock() -> None:
    banned = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}
    domain = Path(__file__).parents[2] / "functions" / "domain"
    calls = [
        f"{path.name}:{node.lineno}"
        for path in domain.glob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in banned
    ]
    assert calls == []


def test_every_event_of_the_catalogue_has_a_fold_and_a_description() -> None:
    from domain.describe import _LINES
    from domain.events import EVENT_TYPES
    from domain.state import _FOLDS

    assert set(_FOLDS) == set(EVENT_TYPES.values())
    assert set(_LINES) == set(EVENT_TYPES.values())
