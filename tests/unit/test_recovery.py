"""A person recovers a stage whose rollback failed: redeploy a named earlier artifact to the
failed scopes, then release the stage once none of them runs the failed change. And a person
returns a stage that runs a version which failed later to a named version, the pipeline
paused and no change holding the stage."""

from __future__ import annotations

import pytest

from domain.events import (
    OneBoxDeployed,
    PipelinePaused,
    RollbackFailed,
    StageLeaseAcquired,
    StageLeaseWaiting,
)
from domain.operations import OperatorInputError
from domain.recovery import decide_unblock, find_artifact, plan_recovery, recovered
from tests.builders import StreamLog, artifact, change_received, rollout

PIPELINE = "orders-app"


def failed_at_gamma() -> StreamLog:
    """c1 is known good in gamma; c2's one-box there could not be rolled back; c3 waits."""
    log = StreamLog()
    log.events.append(change_received(PIPELINE, 1, "c1"))
    log.events += rollout(PIPELINE, 2, "c1", "gamma", "us-east-1")
    log.events.append(change_received(PIPELINE, len(log.events) + 1, "c2"))
    log.add(StageLeaseAcquired, stage="gamma", change_id="c2", callback_token="t2")
    where = {"stage": "gamma", "scope": "us-east-1", "change_id": "c2"}
    log.add(OneBoxDeployed, **where, artifact=artifact("c2"), traffic_percent=10.0)
    log.add(RollbackFailed, **where, reason="the deploy API refused the call")
    log.events.append(change_received(PIPELINE, len(log.events) + 1, "c3"))
    log.add(StageLeaseWaiting, stage="gamma", change_id="c3", callback_token="t3")
    return log


def test_a_recovery_redeploys_a_named_earlier_artifact_to_the_failed_scopes() -> None:
    log = failed_at_gamma()
    assert find_artifact(log.state, "c1") == artifact("c1")
    plan = plan_recovery(log.state, stage="gamma", version="c1", by="ana", why="API fixed")
    assert (plan.change_id, plan.scopes, plan.artifact) == ("c2", ("us-east-1",), artifact("c1"))
    log.events += recovered(
        log.stamp(), plan, stage="gamma", scopes=plan.scopes, by="ana", why="API fixed"
    )
    scope = log.state.stages["gamma"].scopes["us-east-1"]
    assert (scope.deployed, scope.known_good, scope.change_id) == (
        artifact("c1"),
        artifact("c1"),
        None,
    )


@pytest.mark.parametrize(
    ("stage", "version", "by", "match"),
    [
        ("beta", "c1", "ana", "stage 'beta' has run nothing yet"),
        ("gamma", "c9", "ana", "no artifact 'c9'"),
        ("gamma", "c2", "ana", "failed to roll back"),
        ("gamma", "c1", " ", "who acts and why"),
    ],
)
def test_a_recovery_that_cannot_apply_is_refused(
    stage: str, version: str, by: str, match: str
) -> None:
    with pytest.raises(OperatorInputError, match=match):
        plan_recovery(failed_at_gamma().state, stage=stage, version=version, by=by, why="x")


def test_unblock_waits_for_every_scope_to_leave_the_failed_change_then_hands_on() -> None:
    log = failed_at_gamma()
    with pytest.raises(OperatorInputError, match="us-east-1 still run c2"):
        decide_unblock(log.state, log.stamp(), stage="gamma", by="ana", why="x")
    plan = plan_recovery(log.state, stage="gamma", version="c1", by="ana", why="fixed")
    log.events += recovered(
        log.stamp(), plan, stage="gamma", scopes=plan.scopes, by="ana", why="fixed"
    )

    log.events += decide_unblock(log.state, log.stamp(), stage="gamma", by="ana", why="healthy")

    stage = log.state.stages["gamma"]
    assert stage.lease_holder == "c3"
    assert not [b for b in stage.blocked if b.blocker == "rollback-failed"]


def passed_gamma_then_failed() -> StreamLog:
    """c1 then c2 passed gamma; c2 failed in a later stage, so gamma keeps running it."""
    log = StreamLog()
    log.events.append(change_received(PIPELINE, 1, "c1"))
    log.events += rollout(PIPELINE, 2, "c1", "gamma", "us-east-1")
    log.receive("c2")
    log.events += rollout(PIPELINE, len(log.events) + 1, "c2", "gamma", "us-east-1")
    return log


def test_a_stage_that_runs_a_version_which_failed_later_returns_to_a_named_one() -> None:
    log = passed_gamma_then_failed()
    with pytest.raises(OperatorInputError, match="is not paused: pause it first"):
        plan_recovery(log.state, stage="gamma", version="c1", by="ana", why="c2 leaks")
    log.add(PipelinePaused, by="ana", why="c2 leaks memory")
    with pytest.raises(OperatorInputError, match="runs c2 already"):
        plan_recovery(log.state, stage="gamma", version="c2", by="ana", why="x")
    plan = plan_recovery(log.state, stage="gamma", version="c1", by="ana", why="c2 leaks")
    assert (plan.change_id, plan.scopes, plan.artifact) == ("c2", ("us-east-1",), artifact("c1"))
    (event,) = recovered(
        log.stamp(), plan, stage="gamma", scopes=plan.scopes, by="ana", why="c2 leaks"
    )
    assert event.idempotency_key.endswith(f":at{log.state.sequence}")  # again later: anew
    log.events.append(event)
    scope = log.state.stages["gamma"].scopes["us-east-1"]
    assert (scope.deployed, scope.known_good, scope.change_id) == (
        artifact("c1"),
        artifact("c1"),  # what a later change's rollback there returns to
        None,
    )


def test_a_stage_a_change_holds_is_not_rolled_back_under_it() -> None:
    log = passed_gamma_then_failed()
    log.add(PipelinePaused, by="ana", why="x")
    log.receive("c3")
    log.add(StageLeaseAcquired, stage="gamma", change_id="c3", callback_token="t3")
    with pytest.raises(OperatorInputError, match="stage 'gamma' is held by c3"):
        plan_recovery(log.state, stage="gamma", version="c1", by="ana", why="x")
