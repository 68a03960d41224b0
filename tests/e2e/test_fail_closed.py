"""Fail closed, on the local runtime: when shipwave cannot tell that a change is safe, the
change waits or rolls back, and the reason is recorded (SPEC practice 18)."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime

import pytest
from rich.console import Console

from domain.catalogue import DEFAULT_CATALOGUE
from domain.events import (
    AlarmsUnconfirmed,
    BakeCompleted,
    BakeStarted,
    BatchDeployed,
    BlockerCleared,
    ChangeCompleted,
    ChangeSuperseded,
    ExecutionEnded,
    OneBoxDeployed,
    ReviewHeld,
    ReviewPassed,
    RollbackCompleted,
    RollbackFailed,
    StageLeaseAcquired,
    StageRecovered,
    StageUnblocked,
)
from domain.operations import OperatorInputError, approve_emergency
from domain.rollout import window_closed
from examples import changes as edits
from examples.reference import CreateOrderApp
from shipwave.render import status_view
from statemachines.local.runtime import LocalRuntime
from statemachines.local.simulation import HostFaults
from tests.e2e.conftest import SmallApp, one_box_baking
from tests.e2e.test_scenarios import events, versions

Make = Callable[..., LocalRuntime]
PIPELINE = SmallApp.pipeline_id()
TERMINAL = (ChangeCompleted, ChangeSuperseded)


def rendered(runtime: LocalRuntime) -> str:
    """`shipwave status` as a person reads it."""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(status_view(runtime.log.state(PIPELINE)))
    return console.export_text()


# --- 1. the review gate --------------------------------------------------------------------


def test_an_unreviewed_commit_is_never_deployed_and_later_changes_wait_behind_it(
    make_runtime: Make,
) -> None:
    runtime = make_runtime(SmallApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    # Given a change whose only approval is its author's own
    first = runtime.merge(PIPELINE, "v1.1.0", author="ana", approved_by=("ana",))
    # and a later, reviewed change whose build contains that commit too
    runtime.run_for(600)
    second = runtime.merge(PIPELINE, "v1.2.0", author="bo", approved_by=("chen",))
    runtime.run_for(6 * 3600)

    # Then neither deployed anything anywhere, and both wait at source, recorded
    log = events(runtime, PIPELINE)
    assert not [e for e in log if isinstance(e, OneBoxDeployed | BatchDeployed)]
    assert not [e for e in log if isinstance(e, StageLeaseAcquired)]
    held = [e for e in log if isinstance(e, ReviewHeld)]
    assert {(e.change_id, e.commit_id, e.author) for e in held} == {
        (first, runtime.commit_id(first), "ana"),
        (second, runtime.commit_id(first), "ana"),
    }
    assert all("only by its author" in e.reason for e in held)
    state = runtime.log.state(PIPELINE)
    assert {state.changes[c].status for c in (first, second)} == {"held-at-source"}
    assert versions(runtime, "create-order", "alpha", "us-east-1") == {"v1.0.0"}
    text = rendered(runtime)
    assert "code-review" in text
    assert "held-at-source" in text
    assert "Source · Wait for review" in runtime.states_entered(first)
    # held 6 h, longer than the 4 h the pipeline allows: people are told, once per change
    paged = sorted(p.change_id for p in runtime.outbox.sent if p.stage == "source")
    assert paged == sorted([first, second])

    # When a team member approves the commit after the fact
    runtime.approve(PIPELINE, first, "bo")
    runtime.run()

    # Then the newest change goes on everywhere, the older one ends superseded at source
    log = events(runtime, PIPELINE)
    assert [e.change_id for e in log if isinstance(e, ReviewPassed)] == [second]
    (superseded,) = [e for e in log if isinstance(e, ChangeSuperseded)]
    assert (superseded.change_id, superseded.stage, superseded.superseded_by) == (
        first,
        "source",
        second,
    )
    assert runtime.executions[first].status == "SUCCEEDED"
    assert runtime.executions[second].status == "SUCCEEDED"
    assert {e.change_id for e in log if isinstance(e, TERMINAL)} == {first, second}
    assert versions(runtime, "create-order", "production", "eu-west-1/euw1-az1") == {"v1.2.0"}
    assert runtime.log.state(PIPELINE).change(second).riding_along == (first,)  # type: ignore[union-attr]


def test_an_approval_by_someone_outside_the_pipelines_reviewers_holds_the_change(
    make_runtime: Make,
) -> None:
    runtime = make_runtime(SmallApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    change = runtime.merge(PIPELINE, "v1.1.0", author="ana", approved_by=("mallory", " "))
    runtime.run_for(3600)
    (held,) = [e for e in events(runtime, PIPELINE) if isinstance(e, ReviewHeld)]
    assert "mallory" in held.reason
    assert "reviewers" in held.reason
    assert runtime.log.state(PIPELINE).changes[change].status == "held-at-source"
    assert runtime.executions[change].status == "RUNNING"


# --- 2. alarm reads fail closed ------------------------------------------------------------


def test_a_missing_alarm_blocks_the_stage_until_it_exists_again(make_runtime: Make) -> None:
    runtime = make_runtime(SmallApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    spec = runtime.specs[PIPELINE]
    missing = spec.alarm_names.one_box_composite
    runtime.cloudwatch.delete(missing, "us-east-1", "gamma")
    change = runtime.merge(PIPELINE, "v1.1.0")

    def blocked_at_gamma() -> bool:
        stage = runtime.log.state(PIPELINE).stages.get("gamma")
        return bool(stage and stage.blocked)

    runtime.run(until=blocked_at_gamma, max_days=2)
    runtime.run_for(3 * 3600)
    (blocker,) = runtime.log.state(PIPELINE).stages["gamma"].blocked
    assert blocker.blocker == "alarm-health"
    assert f"alarm-missing: {missing} in us-east-1" in blocker.reason
    assert versions(runtime, "create-order", "gamma", "us-east-1") == {"v1.0.0"}
    assert "Gamma · Wait for blockers" in runtime.states_entered(change)

    runtime.cloudwatch.restore(missing, "us-east-1", "gamma")
    runtime.run()
    assert runtime.executions[change].status == "SUCCEEDED"
    assert not runtime.log.state(PIPELINE).stages["gamma"].blocked


def test_a_version_whose_metrics_stop_never_passes_its_one_box_bake(make_runtime: Make) -> None:
    """A version with a bug (3 % of orders fail) whose boxes publish no metrics: every one-box
    metric alarm goes to INSUFFICIENT_DATA and the one-box composite stays OK. The bake does
    not pass on that."""
    runtime = make_runtime(SmallApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    change = runtime.merge(
        PIPELINE,
        "v1.3.0",
        files={"src/orders.py": edits.bulk_discounts()},
        hosts=HostFaults(reports_metrics=False),
    )
    runtime.run_for(2 * 86400)

    log = events(runtime, PIPELINE)
    unconfirmed = [e for e in log if isinstance(e, AlarmsUnconfirmed)]
    actions = [e.action for e in unconfirmed]
    assert actions[:4] == ["extend", "extend", "extend", "hold"]
    assert set(actions[4:]) == {"hold"}  # looked at again, still held
    assert {e.stage for e in unconfirmed} == {"gamma"}
    assert any(
        "insufficient-data: create-order-one-box-fault-rate" in p for p in unconfirmed[0].problems
    )
    state = runtime.log.state(PIPELINE)
    assert state.changes[change].stage == "gamma"
    (blocker,) = state.stages["gamma"].blocked
    assert blocker.blocker == "alarm-health:us-east-1"
    assert runtime.fleet.peak_boxes[("create-order", "gamma", "us-east-1", "v1.3.0")] == 1
    assert not [e for e in log if isinstance(e, BakeCompleted) and e.stage == "gamma"]


def test_an_unreadable_cloudwatch_holds_the_stage_it_never_counts_as_not_in_alarm(
    make_runtime: Make,
) -> None:
    runtime = make_runtime(SmallApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    runtime.cloudwatch.read_failures[("production", "af-south-1")] = "Throttling: Rate exceeded"
    change = runtime.merge(PIPELINE, "v1.1.0")

    def blocked_at_wave1() -> bool:
        stage = runtime.log.state(PIPELINE).stages.get("wave1")
        return bool(stage and stage.blocked)

    runtime.run(until=blocked_at_wave1, max_days=5)
    (blocker,) = runtime.log.state(PIPELINE).stages["wave1"].blocked
    assert "alarm-read-failed" in blocker.reason
    assert "Throttling" in blocker.reason
    assert versions(runtime, "create-order", "production", "af-south-1/afs1-az1") == {"v1.0.0"}

    del runtime.cloudwatch.read_failures[("production", "af-south-1")]
    runtime.run()
    assert runtime.executions[change].status == "SUCCEEDED"


def test_insufficient_data_during_deployment_holds_the_next_batch(make_runtime: Make) -> None:
    runtime = make_runtime(SmallApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    change = runtime.merge(PIPELINE, "v1.1.0")

    # the one-box bakes an hour: a steady moment (rolling batches follow each other at once,
    # faster than a test can look between them)
    runtime.run(until=one_box_baking(runtime, PIPELINE, "gamma"), max_days=2)
    latency = "create-order-latency-p99"
    runtime.cloudwatch.set_state(latency, "us-east-1", "INSUFFICIENT_DATA", "gamma")
    runtime.run_for(60)
    batches = len([e for e in events(runtime, PIPELINE) if isinstance(e, BatchDeployed)])
    runtime.run_for(4 * 3600)

    log = events(runtime, PIPELINE)
    assert len([e for e in log if isinstance(e, BatchDeployed)]) == batches
    (blocker,) = runtime.log.state(PIPELINE).stages["gamma"].blocked
    assert blocker.blocker == "alarm-health:us-east-1"
    assert f"insufficient-data: {latency} in us-east-1" in blocker.reason
    gamma_states = {s for s in runtime.states_entered(change) if s.startswith("Gamma")}
    # held at the one-box's verdict (its alarms cannot vouch), never on to the rolling step
    assert "Gamma · OneBox · Verdict" in gamma_states
    assert not {s for s in gamma_states if s.startswith("Gamma · Rolling")}

    runtime.cloudwatch.set_state(latency, "us-east-1", None, "gamma")
    runtime.run()
    assert runtime.executions[change].status == "SUCCEEDED"
    cleared = [e for e in events(runtime, PIPELINE) if isinstance(e, BlockerCleared)]
    assert "alarm-health:us-east-1" in {e.blocker for e in cleared}


# --- 7. emergency approvals ----------------------------------------------------------------


def test_an_emergency_needs_named_senior_approvers_and_never_bakes_below_the_floor(
    make_runtime: Make,
) -> None:
    runtime = make_runtime(SmallApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    spec = runtime.specs[PIPELINE]
    change = runtime.merge(PIPELINE, "v1.1.0", author="ana", approved_by=("bo",))

    def approve(*approvers: str) -> None:
        runtime.log.record(
            PIPELINE,
            runtime.clock.now(),
            lambda state, stamp: approve_emergency(
                state,
                stamp,
                change_id=change,
                approvers=approvers,
                reason="sev1 fix",
                bake_factor=0.001,
                senior_approvers=spec.emergency_approvers,
            ),
        )

    with pytest.raises(OperatorInputError, match="ana wrote commits"):
        approve("ana", "bo")
    with pytest.raises(OperatorInputError, match="not among its emergency approvers"):
        approve("bo", "reviewer")
    approve("bo", "chen")
    runtime.run()

    bakes = [e for e in events(runtime, PIPELINE) if isinstance(e, BakeStarted)]
    assert bakes
    assert min(e.duration_seconds for e in bakes) == spec.min_emergency_bake_seconds == 600
    assert runtime.executions[change].status == "SUCCEEDED"


# --- 5. executions that end abnormally release what they hold --------------------------------


def test_an_aborted_execution_releases_its_stage_and_the_waiting_change_goes_on(
    make_runtime: Make,
) -> None:
    runtime = make_runtime(SmallApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    runtime.cloudwatch.set_state("company-large-scale-event", "af-south-1", "ALARM")
    leader = runtime.merge(PIPELINE, "v1.1.0")  # it takes wave 1 and is held there

    def leader_holds_wave1() -> bool:
        stage = runtime.log.state(PIPELINE).stages.get("wave1")
        return bool(stage and stage.lease_holder == leader)

    runtime.run(until=leader_holds_wave1, max_days=3)
    follower = runtime.merge(PIPELINE, "v1.2.0")

    def follower_waits_at_wave1() -> bool:
        stage = runtime.log.state(PIPELINE).stages.get("wave1")
        return bool(stage and [w.change_id for w in stage.waiting] == [follower])

    runtime.run(until=follower_waits_at_wave1, max_days=3)
    assert runtime.log.state(PIPELINE).stages["wave1"].lease_holder == leader

    runtime.abort(leader, cause="operator stopped it")
    runtime.run_for(600)
    assert runtime.log.state(PIPELINE).stages["wave1"].lease_holder == follower
    runtime.cloudwatch.set_state("company-large-scale-event", "af-south-1", None)
    runtime.run()

    log = events(runtime, PIPELINE)
    (end,) = [e for e in log if isinstance(e, ExecutionEnded) and e.change_id == leader]
    assert end.status == "ABORTED"
    assert end.cause  # what the event says, or that it was aborted
    state = runtime.log.state(PIPELINE)
    assert state.change(leader).status == "aborted"  # type: ignore[union-attr]
    assert runtime.executions[follower].status == "SUCCEEDED"
    assert state.change(follower).status == "completed"  # type: ignore[union-attr]
    for stage in state.stages.values():
        for scope in stage.scopes.values():
            assert not (scope.change_id == leader and scope.activity.startswith("baking"))


# --- 4. every deployment starts inside its region's window ----------------------------------


def test_every_step_start_in_every_region_is_inside_that_regions_window(
    make_runtime: Make,
) -> None:
    runtime = make_runtime(CreateOrderApp)
    pipeline = CreateOrderApp.pipeline_id()
    spec = runtime.specs[pipeline]
    runtime.adopt(pipeline, "v1.0.0")
    change = runtime.merge(pipeline, "v1.1.0")
    runtime.run()
    assert runtime.executions[change].status == "SUCCEEDED"

    production = {stage.name for stage in spec.stages if stage.production}
    starts: dict[tuple[str, str], datetime] = {}
    for event in events(runtime, pipeline):
        if isinstance(event, OneBoxDeployed | BatchDeployed) and event.stage in production:
            starts.setdefault((event.stage, event.scope), event.at)  # the step's first batch
    assert len(starts) == len(
        {
            (s.name, scope.scope)
            for s in spec.stages
            if s.production
            for step in s.steps
            if step.phase != "bake"
            for scope in step.scopes
        }
    )
    outside = [
        (stage, scope, at.isoformat())
        for (stage, scope), at in starts.items()
        if window_closed(at, DEFAULT_CATALOGUE.region(scope.split("/")[0]), spec.window)  # type: ignore[arg-type]
    ]
    assert outside == []


# --- 3. a failed rollback is never left silent ---------------------------------------------


def alarm_at_gamma_one_box(runtime: LocalRuntime, change: str) -> None:
    baking = one_box_baking(runtime, PIPELINE, "gamma", scope="us-east-1", change=change)
    runtime.run(until=baking, max_days=2)
    spec = runtime.specs[PIPELINE]
    runtime.cloudwatch.set_state(spec.alarm_names.one_box_composite, "us-east-1", "ALARM", "gamma")


def test_a_throttled_rollback_is_tried_again_before_it_is_declared_failed(
    make_runtime: Make,
) -> None:
    runtime = make_runtime(SmallApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    runtime.fleet.flaky_rollbacks["create-order"] = 2  # throttled twice, then it goes through
    change = runtime.merge(PIPELINE, "v1.1.0")
    alarm_at_gamma_one_box(runtime, change)
    runtime.run()

    log = events(runtime, PIPELINE)
    assert not [e for e in log if isinstance(e, RollbackFailed)]
    assert [e.scope for e in log if isinstance(e, RollbackCompleted)] == ["us-east-1"]
    assert versions(runtime, "create-order", "gamma", "us-east-1") == {"v1.0.0"}
    assert runtime.outbox.sent == []


def test_a_failed_rollback_pages_and_a_person_recovers_and_unblocks(make_runtime: Make) -> None:
    runtime = make_runtime(SmallApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    runtime.fleet.broken_targets.add("create-order")  # the deploy API refuses every rollback
    change = runtime.merge(PIPELINE, "v1.1.0")
    alarm_at_gamma_one_box(runtime, change)
    runtime.run_for(1800)  # the one-box rolls back, and the rollback fails
    waiting = runtime.merge(PIPELINE, "v1.2.0")
    runtime.run_for(3 * 3600)  # it passes alpha and beta, then waits for gamma

    # Then people are told, and the stage stays blocked with the failed version on the one-box
    (page,) = runtime.outbox.sent
    assert "rollback failed in gamma us-east-1" in page.subject
    assert "shipwave rollback" in page.message
    state = runtime.log.state(PIPELINE)
    assert state.pages[-1].subject == page.subject
    assert "rollback failed in gamma" in rendered(runtime)
    assert state.stages["gamma"].lease_holder == change
    assert [w.change_id for w in state.stages["gamma"].waiting] == [waiting]
    assert "v1.1.0" in versions(runtime, "create-order", "gamma", "us-east-1")

    # A person cannot unblock while the scope still runs the failed version
    with pytest.raises(OperatorInputError, match="still run"):
        runtime.engine.unblock(PIPELINE, "gamma", by="ana", why="looks fine")
    # nor redeploy the version that failed, nor one the log never had
    with pytest.raises(OperatorInputError, match="failed to roll back"):
        runtime.engine.recover(PIPELINE, "gamma", "v1.1.0", by="ana", why="x")
    with pytest.raises(OperatorInputError, match="no artifact"):
        runtime.engine.recover(PIPELINE, "gamma", "v0.9.9", by="ana", why="x")

    # When the deploy API works again, a person redeploys v1.0.0 and releases the stage
    runtime.fleet.broken_targets.discard("create-order")
    one_box_alarm = runtime.specs[PIPELINE].alarm_names.one_box_composite
    runtime.cloudwatch.set_state(one_box_alarm, "us-east-1", None, "gamma")  # back to its rule
    runtime.run_for(120)  # the alarm's rule takes over again: OK
    runtime.engine.recover(PIPELINE, "gamma", "v1.0.0", by="ana", why="deploy API fixed")
    assert versions(runtime, "create-order", "gamma", "us-east-1") == {"v1.0.0"}
    runtime.engine.unblock(PIPELINE, "gamma", by="ana", why="gamma is back on v1.0.0")
    runtime.run()

    log = events(runtime, PIPELINE)
    (recovered,) = [e for e in log if isinstance(e, StageRecovered)]
    assert (recovered.by, recovered.artifact.version, recovered.scopes) == (
        "ana",
        "v1.0.0",
        ("us-east-1",),
    )
    assert [e.by for e in log if isinstance(e, StageUnblocked)] == ["ana"]
    assert runtime.executions[waiting].status == "SUCCEEDED"
    assert runtime.log.state(PIPELINE).change(waiting).status == "completed"  # type: ignore[union-attr]


def test_a_stage_blocked_longer_than_allowed_pages_once(make_runtime: Make) -> None:
    runtime = make_runtime(SmallApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    runtime.cloudwatch.set_state("company-large-scale-event", "af-south-1", "ALARM")
    runtime.merge(PIPELINE, "v1.1.0")
    runtime.run_for(12 * 3600)

    pages = [p for p in runtime.outbox.sent if "blocked" in p.subject]
    assert len(pages) == 1
    assert "wave1 blocked" in pages[0].subject
    assert "company-alarm" in pages[0].subject


def test_a_change_that_waits_too_long_for_a_stage_gives_up_recorded(make_runtime: Make) -> None:
    """The lease callback has a timeout: a change stuck behind a stage for two weeks ends
    failed with the reason recorded and leaves the waiting list, instead of waiting forever."""
    runtime = make_runtime(SmallApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    runtime.cloudwatch.set_state("company-large-scale-event", "af-south-1", "ALARM")
    leader = runtime.merge(PIPELINE, "v1.1.0")

    def leader_holds_wave1() -> bool:
        stage = runtime.log.state(PIPELINE).stages.get("wave1")
        return bool(stage and stage.lease_holder == leader)

    runtime.run(until=leader_holds_wave1, max_days=3)
    follower = runtime.merge(PIPELINE, "v1.2.0")
    runtime.run(until=lambda: runtime.refresh()[follower].status != "RUNNING", max_days=20)

    assert runtime.executions[follower].status == "FAILED"
    ended = runtime.log.state(PIPELINE).change(follower)
    assert ended is not None
    assert ended.status == "failed"
    assert "States.Timeout" in ended.reason
    assert runtime.log.state(PIPELINE).stages["wave1"].waiting == ()
    assert runtime.executions[leader].status == "RUNNING"  # still held by the company alarm


def test_a_commit_the_push_brought_unlisted_is_found_by_the_source_and_reviewed(
    make_runtime: Make,
) -> None:
    """A fast-forward of two commits whose notification names only the head (as CodeCommit's
    event does): the review gate asks the repository what the push brought since the previous
    head, finds the unapproved first commit, and holds until a reviewer approves it."""
    runtime = make_runtime(SmallApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    change = runtime.merge(
        PIPELINE,
        "v1.1.0",
        author="ana",
        approved_by=("bo",),
        before=(("tweak rounding", "dara", ()),),
        lists="the head only",
    )
    runtime.run_for(3600)
    state = runtime.log.state(PIPELINE)
    (held,) = [e for e in events(runtime, PIPELINE) if isinstance(e, ReviewHeld)]
    assert held.author == "dara"
    assert held.commit_id != runtime.commit_id(change)  # not the head: the commit before it
    assert state.changes[change].status == "held-at-source"
    assert state.changes[change].commits == (runtime.commit_id(change),)  # as the event said

    runtime.approve_commit(PIPELINE, held.commit_id, "chen")
    runtime.run()
    assert runtime.executions[change].status == "SUCCEEDED"
    passed = [e for e in events(runtime, PIPELINE) if isinstance(e, ReviewPassed)][-1]
    assert {commit for commit, _ in passed.approvals} == {held.commit_id, runtime.commit_id(change)}
