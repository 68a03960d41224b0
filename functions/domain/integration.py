"""The integration tests of a pre-production stage (SPEC practices 4 and 6), as decisions.

After a stage deployed the change, the team's tests run against the stage's endpoint. The
stage passes only on a run that succeeded; a failed test, a run that ended otherwise (stopped,
timed out, no report) or a run whose results cannot be read fails the stage, which rolls
back, with the failed tests' names recorded.
"""

from __future__ import annotations

from domain.builds import FINAL_STATUSES, PHASE_MEANING
from domain.errors import UnknownBuildError
from domain.events import (
    Event,
    IntegrationTestsFailed,
    IntegrationTestsPassed,
    IntegrationTestsStarted,
    Stamper,
)
from domain.state import ChangeState, PipelineState

#: what a test run's phases do (its commands run in CodeBuild's BUILD phase)
TEST_PHASE_MEANING = {**PHASE_MEANING, "BUILD": "running the integration tests"}


def to_test(state: PipelineState, change_id: str, stage: str) -> ChangeState:
    """The change whose tests run at `stage`: moving, built, holding the stage."""
    change = state.changes.get(change_id)
    holder = state.stages.get(stage)
    if change is None or change.artifact is None:
        raise UnknownBuildError(
            f"pipeline {state.pipeline_id!r}: change {change_id!r} is not a built change in "
            "flight: no tests run for it"
        )
    if holder is None or holder.lease_holder != change_id:
        raise UnknownBuildError(
            f"pipeline {state.pipeline_id!r}: change {change_id!r} does not hold {stage!r}"
        )
    return change


def decide_started(
    state: PipelineState, stamp: Stamper, *, change_id: str, stage: str, run_id: str, token: str
) -> list[Event]:
    change = to_test(state, change_id, stage)
    if change.test_run == run_id and change.test_token == token:
        return []
    return [
        stamp(
            IntegrationTestsStarted,
            f"{change_id}:{stage}:tests-started:{run_id}:{token[-16:]}",
            stage=stage,
            change_id=change_id,
            run_id=run_id,
            callback_token=token,
        )
    ]


def decide_finished(
    state: PipelineState,
    stamp: Stamper,
    *,
    change_id: str,
    stage: str,
    run_id: str,
    status: str,
    failed_tests: tuple[str, ...],
    reason: str,
    log_url: str,
) -> list[Event]:
    """Passed or failed (the same key however often the end is delivered: the log records
    it once); UnknownBuildError for a run the log never started."""
    change = state.changes.get(change_id)
    if change is None or change.test_run != run_id:
        raise UnknownBuildError(
            f"pipeline {state.pipeline_id!r}: no integration test run {run_id!r} was started "
            f"for change {change_id!r} at {stage!r}"
        )
    if status not in FINAL_STATUSES:
        return []
    key = f"{change_id}:{stage}:tests:{run_id}"
    if status == "SUCCEEDED" and not failed_tests:
        return [stamp(IntegrationTestsPassed, key, stage=stage, change_id=change_id, run_id=run_id)]
    return [
        stamp(
            IntegrationTestsFailed,
            key,
            stage=stage,
            change_id=change_id,
            run_id=run_id,
            failed_tests=failed_tests,
            reason=reason or f"the run ended {status}",
            log_url=log_url,
        )
    ]
