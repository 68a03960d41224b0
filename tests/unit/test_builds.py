"""The build's decisions: what a finished build means for its change (domain/builds.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from domain.builds import (
    BuildReport,
    Built,
    NotBuilt,
    Phase,
    decide_finished,
    decide_started,
    failed,
    outcome,
    to_build,
)
from domain.errors import UnknownBuildError
from domain.events import (
    ArtifactBuilt,
    BuildFailed,
    BuildStarted,
    ChangeReceived,
    Commit,
    Event,
    ReviewPassed,
    Stamper,
)
from domain.state import PipelineState, evolve, project
from tests.builders import T0

PIPELINE = "create-order-application"
BUCKET = "shipwave-artifacts-123456789012-us-east-1"
BUILD = "arn:aws:codebuild:us-east-1:123456789012:build/shipwave-build-create-order-application:b1"
DIGEST = "6ccc2ae1df9d155ba83c597051611c42d60e09c6329dcb14a312cecc0a8e3900"
PASSED = tuple(
    Phase(phase=p, status="SUCCEEDED")
    for p in ("SUBMITTED", "DOWNLOAD_SOURCE", "INSTALL", "BUILD", "POST_BUILD", "UPLOAD_ARTIFACTS")
)


def report(**changes: object) -> BuildReport:
    fields: dict[str, object] = {
        "build_id": BUILD,
        "status": "SUCCEEDED",
        "phases": PASSED,
        "artifact_location": f"arn:aws:s3:::{BUCKET}/{PIPELINE}/b1/v1.1.0.zip",
        "sha256": DIGEST,
        "log_url": "https://console.aws.amazon.com/cloudwatch/home#logEvent:group=/aws/codebuild/x",
    }
    fields.update(changes)
    return BuildReport(**fields)  # type: ignore[arg-type]


def test_a_succeeded_build_in_the_pipelines_folder_is_its_artifact() -> None:
    built = outcome(report(), pipeline_id=PIPELINE)
    assert isinstance(built, Built)
    assert built.artifact.version == "v1.1.0"
    assert built.artifact.checksum == f"sha256:{DIGEST}"
    assert built.artifact.uri == f"s3://{BUCKET}/{PIPELINE}/b1/v1.1.0.zip"


def test_a_build_still_running_decides_nothing() -> None:
    assert outcome(report(status="IN_PROGRESS"), pipeline_id=PIPELINE) is None


def test_a_failed_build_names_its_first_failed_phase_and_what_codebuild_said() -> None:
    phases = (
        *PASSED[:4],
        Phase(
            phase="POST_BUILD",
            status="FAILED",
            context=(
                "COMMAND_EXECUTION_ERROR: Error while executing command: pytest. "
                "Reason: exit status 1",
            ),
        ),
        Phase(phase="FINALIZING", status="SUCCEEDED"),
        Phase(phase="COMPLETED", status=""),
    )
    failed = outcome(report(status="FAILED", phases=phases), pipeline_id=PIPELINE)
    assert failed == NotBuilt(
        phase="POST_BUILD",
        reason="FAILED while running the unit tests: COMMAND_EXECUTION_ERROR: Error while "
        "executing command: pytest. Reason: exit status 1",
    )
    stopped = outcome(report(status="STOPPED", phases=PASSED[:2]), pipeline_id=PIPELINE)
    assert stopped == NotBuilt(phase="COMPLETED", reason="the build ended STOPPED")


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"sha256": DIGEST[:-2] + "EX"}, "no sha256"),  # the published sample's placeholder
        ({"sha256": ""}, "no sha256"),
        ({"artifact_location": ""}, "no S3 artifact"),
        (
            {"artifact_location": f"arn:aws:s3:::someone-elses-bucket/{PIPELINE}/b1/v1.zip"},
            "not in a shipwave artifact bucket",
        ),
        (
            {"artifact_location": f"arn:aws:s3:::{BUCKET}/another-pipeline/b1/v1.zip"},
            "not in a shipwave artifact bucket",
        ),
        ({"artifact_location": f"arn:aws:s3:::{BUCKET}/{PIPELINE}/b1/v1.tar"}, "not a zip"),
        ({"artifact_location": f"arn:aws:s3:::{BUCKET}/{PIPELINE}/b1/.zip"}, "not a version"),
        (
            {"artifact_location": f"arn:aws:s3:::{BUCKET}/{PIPELINE}/b1/$(cat VERSION).zip"},
            "not a version",
        ),
    ],
)
def test_a_succeeded_build_whose_artifact_cannot_be_vouched_for_is_a_failed_build(
    changes: dict[str, object], why: str
) -> None:
    """Fail closed: no digest, no known place, no version: nothing to deploy."""
    failed = outcome(report(**changes), pipeline_id=PIPELINE)
    assert isinstance(failed, NotBuilt)
    assert failed.phase == "UPLOAD_ARTIFACTS"
    assert why in failed.reason


# --- the change's side -------------------------------------------------------------------------


def received(*, reviewed: bool = True) -> PipelineState:
    stamp = Stamper(PIPELINE, 1, T0)
    events: list[Event] = [
        stamp(
            ChangeReceived,
            "c1:received",
            change_id="c1",
            source="local",
            repository="acme/create-order",
            branch="main",
            commits=(Commit(commit_id="a" * 40, author="ana"),),
            head="a" * 40,
        )
    ]
    if reviewed:
        events.append(stamp(ReviewPassed, "c1:review-passed", change_id="c1", approvals=()))
    return project(events)


def test_nothing_is_built_before_the_review_passed_or_for_an_unknown_change() -> None:
    with pytest.raises(UnknownBuildError, match="has not passed its review"):
        to_build(received(reviewed=False), "c1")
    with pytest.raises(UnknownBuildError, match="never received"):
        to_build(received(), "ghost")
    assert to_build(received(), "c1").head == "a" * 40


def test_the_started_build_is_recorded_once_with_the_task_to_resume() -> None:
    state = received()
    stamp = Stamper(PIPELINE, state.sequence + 1, T0)
    (started,) = decide_started(state, stamp, change_id="c1", build_id=BUILD, token="tok-1")
    assert isinstance(started, BuildStarted)
    assert (started.commit_id, started.build_id, started.callback_token) == (
        "a" * 40,
        BUILD,
        "tok-1",
    )
    state = evolve(state, started)
    assert state.changes["c1"].status == "building"
    retried = decide_started(
        state,
        Stamper(PIPELINE, state.sequence + 1, T0),
        change_id="c1",
        build_id=BUILD,
        token="tok-1",
    )
    assert retried == []


def building() -> PipelineState:
    state = received()
    (started,) = decide_started(
        state,
        Stamper(PIPELINE, state.sequence + 1, T0),
        change_id="c1",
        build_id=BUILD,
        token="tok",
    )
    return evolve(state, started)


def test_a_succeeded_build_records_the_artifact_and_its_sha256() -> None:
    state = building()
    later = T0 + timedelta(minutes=3)
    (built,) = decide_finished(
        state, Stamper(PIPELINE, state.sequence + 1, later), change_id="c1", report=report()
    )
    assert isinstance(built, ArtifactBuilt)
    assert built.artifact.checksum == f"sha256:{DIGEST}"
    assert built.build_id == BUILD
    state = evolve(state, built)
    change = state.changes["c1"]
    assert (change.status, change.artifact, change.build_token) == ("built", built.artifact, "tok")
    # EventBridge delivers at least once: a second delivery records nothing
    assert (
        decide_finished(
            state, Stamper(PIPELINE, state.sequence + 1, later), change_id="c1", report=report()
        )
        == []
    )


def test_a_failed_build_ends_the_change_build_failed_with_phase_and_log() -> None:
    state = building()
    failing = report(
        status="FAILED",
        phases=(*PASSED[:3], Phase(phase="BUILD", status="FAILED", context=("exit status 2",))),
    )
    (failed,) = decide_finished(
        state, Stamper(PIPELINE, state.sequence + 1, T0), change_id="c1", report=failing
    )
    assert isinstance(failed, BuildFailed)
    assert (failed.phase, failed.log_url) == ("BUILD", failing.log_url)
    state = evolve(state, failed)
    assert "c1" not in state.changes  # it ended
    change = state.change("c1")
    assert change is not None
    assert change.status == "build-failed"
    assert change.reason == (
        f"build failed in BUILD: FAILED while building: exit status 2 (log: {failing.log_url})"
    )


def test_an_end_of_a_build_the_log_never_started_is_refused() -> None:
    """Another build's event, or one that arrives before its start is recorded: refused (the
    event is retried), never recorded against the change."""
    state = building()
    other = replace(report(), build_id=BUILD.replace(":b1", ":b2"))
    with pytest.raises(UnknownBuildError, match="no build"):
        decide_finished(
            state, Stamper(PIPELINE, state.sequence + 1, T0), change_id="c1", report=other
        )
    with pytest.raises(UnknownBuildError, match="no build"):
        decide_finished(received(), Stamper(PIPELINE, 3, T0), change_id="c1", report=report())


def test_the_end_of_a_build_a_change_that_already_ended_never_recorded_records_nothing() -> None:
    """The start's append failed after the build started (throttled): the change ended
    build-failed without it. When that build reports, nothing waits for it: nothing is
    recorded, and nothing raises for EventBridge to retry for a day."""
    state = received()
    ended = failed(
        Stamper(PIPELINE, state.sequence + 1, T0),
        "c1",
        "",
        NotBuilt(phase="START", reason="EventStoreUnavailableError: append throttled"),
    )
    state = evolve(state, ended)
    assert state.change("c1") is not None
    assert "c1" not in state.changes

    assert (
        decide_finished(
            state, Stamper(PIPELINE, state.sequence + 1, T0), change_id="c1", report=report()
        )
        == []
    )
