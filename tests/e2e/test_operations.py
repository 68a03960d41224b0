"""A person pauses, resumes and aborts on the local runtime, as the operator endpoint does on
AWS: each act by the caller's identity and with a reason, each refused when it does not apply."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from rich.console import Console

from domain.events import (
    BatchDeployed,
    BlockerCleared,
    BlockerHit,
    ChangeAborted,
    ChangeCompleted,
    ExecutionEnded,
    OneBoxDeployed,
    PipelinePaused,
    PipelineResumed,
    RollbackCompleted,
    StageLeaseAcquired,
    StageRecovered,
)
from domain.identity import NotAnOperatorError, iam_principal, local_user
from domain.operations import OperatorInputError
from service.pipeline_log import PipelineLog
from shipwave.dashboard import Pages
from shipwave.render import status_view
from statemachines.local.runtime import LocalRuntime
from tests.e2e.conftest import SmallApp, one_box_baking
from tests.e2e.test_scenarios import events, versions

Make = Callable[..., LocalRuntime]
PIPELINE = SmallApp.pipeline_id()
ANA = local_user("ana")


def _stage_of(runtime: LocalRuntime, change: str) -> str | None:
    found = runtime.log.state(PIPELINE).change(change)
    return found.stage if found else None


def test_a_paused_pipeline_starts_no_new_stage_until_it_is_resumed(make_runtime: Make) -> None:
    runtime = make_runtime(SmallApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    change = runtime.merge(PIPELINE, "v1.1.0")
    runtime.run(until=lambda: _stage_of(runtime, change) == "gamma", max_days=2)

    paused = runtime.operations.pause(ANA, "the payments incident", pipeline=PIPELINE)
    assert paused == {"paused": [PIPELINE], "unchanged": [], "by": "local:ana"}
    runtime.run_for(2 * 86400)

    state = runtime.log.state(PIPELINE)
    held = [(stage.stage, b) for stage in state.stages.values() for b in stage.blocked]
    assert [(stage, b.blocker) for stage, b in held] == [(state.changes[change].stage, "paused")]
    assert held[0][1].reason == "pipeline paused by local:ana: the payments incident"
    printed = Console(record=True, width=200, file=io.StringIO())
    printed.print(status_view(state))
    assert "PAUSED by local:ana" in printed.export_text()
    page = Pages(runtime.store, {PIPELINE: SmallApp.spec()}, source="test").pipeline(PIPELINE)
    assert "PAUSED</span> by local:ana" in page
    with pytest.raises(OperatorInputError, match="already paused, by local:ana"):
        runtime.operations.pause(ANA, "again", pipeline=PIPELINE)

    runtime.operations.resume(local_user("bo"), "incident over", pipeline=PIPELINE)
    runtime.run()

    log = events(runtime, PIPELINE)
    kinds = [type(e) for e in log]
    assert kinds.index(PipelinePaused) < kinds.index(PipelineResumed) < kinds.index(ChangeCompleted)
    (pause_event,) = [e for e in log if isinstance(e, PipelinePaused)]
    assert (pause_event.by, pause_event.why) == ("local:ana", "the payments incident")
    resumed = next(e for e in log if isinstance(e, PipelineResumed))
    hit = next(e for e in log if isinstance(e, BlockerHit) and e.blocker == "paused")
    cleared = next(e for e in log if isinstance(e, BlockerCleared) and e.blocker == "paused")
    assert pause_event.sequence < hit.sequence < resumed.sequence < cleared.sequence
    # no stage entered after the pause deployed anything before the resume
    entered_after = {
        e.stage
        for e in log
        if isinstance(e, StageLeaseAcquired) and pause_event.sequence < e.sequence
    }
    deployed_while_paused = [
        e
        for e in log
        if isinstance(e, OneBoxDeployed | BatchDeployed)
        and e.stage in entered_after
        and pause_event.sequence < e.sequence < resumed.sequence
    ]
    assert deployed_while_paused == []
    with pytest.raises(OperatorInputError, match="is not paused"):
        runtime.operations.resume(ANA, "twice", pipeline=PIPELINE)


def test_abort_rolls_back_everything_the_change_deployed_and_stops_its_execution(
    make_runtime: Make,
) -> None:
    runtime = make_runtime(SmallApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    change = runtime.merge(PIPELINE, "v1.1.0")
    runtime.run(until=lambda: _stage_of(runtime, change) == "wave1", max_days=3)

    result = runtime.operations.abort(ANA, PIPELINE, change, "customer reports of double charges")
    runtime.run()

    assert result["stopped"] is True
    # every stage it ran in (wave1 too, when its one-box was out before the abort landed)
    assert result["rolled_back"] == result["stages"]
    assert (
        {"alpha", "beta", "gamma"} <= set(result["stages"]) <= {"alpha", "beta", "gamma", "wave1"}
    )
    log = events(runtime, PIPELINE)
    (aborted,) = [e for e in log if isinstance(e, ChangeAborted)]
    assert aborted.by == "local:ana"
    assert {e.stage for e in log if isinstance(e, RollbackCompleted)} == set(result["stages"])
    (ended,) = [e for e in log if isinstance(e, ExecutionEnded)]
    # Step Functions reports a stopped execution ABORTED; moto's interpreter reports one
    # stopped inside a Map waiting on a callback as FAILED (States.Runtime): either way the
    # change stays aborted, by whom and why
    assert ended.status in ("ABORTED", "FAILED")
    final = runtime.log.state(PIPELINE).change(change)
    assert final is not None
    assert (final.status, final.reason) == (
        "aborted",
        "aborted by local:ana: customer reports of double charges",
    )
    for stage, scope in SmallApp.spec().scopes():
        environment = "production" if stage.startswith("wave") else stage
        assert versions(runtime, "create-order", environment, scope) <= {"v1.0.0"}, scope
    with pytest.raises(OperatorInputError, match=r"has finished \(aborted\): nothing to abort"):
        runtime.operations.abort(ANA, PIPELINE, change, "again")
    with pytest.raises(OperatorInputError, match="is unknown"):
        runtime.operations.abort(ANA, PIPELINE, "chg-nope", "why")
    with pytest.raises(OperatorInputError, match="needs a reason"):
        runtime.operations.pause(ANA, " ", pipeline=PIPELINE)


def test_an_iam_principal_the_pipeline_does_not_list_is_refused_and_writes_nothing(
    make_runtime: Make,
) -> None:
    runtime = make_runtime(SmallApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    before = runtime.store.last_sequence(PIPELINE)
    stranger = iam_principal("arn:aws:sts::123456789012:assumed-role/intern/mallory")
    with pytest.raises(NotAnOperatorError, match="may not act on pipeline"):
        runtime.operations.pause(stranger, "why not", pipeline=PIPELINE)
    with pytest.raises(NotAnOperatorError):
        runtime.operations.pause(stranger, "why not", team=SmallApp.team)
    assert runtime.store.last_sequence(PIPELINE) == before
    assert isinstance(runtime.log, PipelineLog)


def test_a_stage_left_running_a_version_that_failed_later_is_rolled_back_by_a_person(
    make_runtime: Make,
) -> None:
    """v1.1.0 passes alpha, beta and gamma, then its one-box alarm fires in wave 1: the
    pipeline rolls wave 1 back, and gamma keeps running v1.1.0. ana pauses the pipeline and
    returns gamma to v1.0.0; refused before the pause and once it is done."""
    runtime = make_runtime(SmallApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    change = runtime.merge(PIPELINE, "v1.1.0")

    runtime.run(until=one_box_baking(runtime, PIPELINE, "wave1"), max_days=3)
    alarm = SmallApp.spec().alarm_names.one_box_composite
    runtime.cloudwatch.set_state(alarm, "af-south-1", "ALARM")
    runtime.run()
    assert runtime.log.state(PIPELINE).change(change).stage == "wave1"  # type: ignore[union-attr]
    assert versions(runtime, "create-order", "gamma", "us-east-1") == {"v1.1.0"}
    why = "v1.1.0 failed its wave 1 one-box"

    with pytest.raises(OperatorInputError, match="is not paused: pause it first"):
        runtime.operations.recover(ANA, PIPELINE, "gamma", "v1.0.0", why)
    runtime.operations.pause(ANA, "rolling gamma back by hand", pipeline=PIPELINE)
    result = runtime.operations.recover(ANA, PIPELINE, "gamma", "v1.0.0", why)

    assert result == {"recovered": ["us-east-1"], "artifact": "v1.0.0", "by": "local:ana"}
    assert versions(runtime, "create-order", "gamma", "us-east-1") == {"v1.0.0"}
    (recovered,) = [e for e in events(runtime, PIPELINE) if isinstance(e, StageRecovered)]
    assert (recovered.stage, recovered.change_id, recovered.by, recovered.why) == (
        "gamma",
        change,
        "local:ana",
        why,
    )
    gamma = runtime.log.state(PIPELINE).stages["gamma"].scopes["us-east-1"]
    assert gamma.known_good is not None
    assert gamma.known_good.version == "v1.0.0"  # a later change's rollback returns here
    with pytest.raises(OperatorInputError, match=r"runs v1\.0\.0 already"):
        runtime.operations.recover(ANA, PIPELINE, "gamma", "v1.0.0", why)
