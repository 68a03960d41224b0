"""What a finished build means for its change, as pure decisions.

A build (CodeBuild on AWS, the local builder on the local runtime) reports how it ended the
way CodeBuild's "Build State Change" event does: its status, its phases, where its zip went
and that zip's sha256. A change is built only when every part vouches for the artifact: the
build SUCCEEDED, the zip is in a shipwave artifact bucket under the pipeline's folder, its
name is the artifact's version, and the sha256 is a real digest. Anything less is a failed
build, with the phase that failed and why (fail closed: no digest, no deployment).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from domain.artifacts import BUCKET_PREFIX
from domain.errors import UnknownBuildError
from domain.events import Artifact, ArtifactBuilt, BuildFailed, BuildStarted, Event, Stamper
from domain.state import ChangeState, PipelineState

#: CodeBuild's build statuses that end a build (its API reference, Build.buildStatus)
FINAL_STATUSES = ("SUCCEEDED", "FAILED", "FAULT", "STOPPED", "TIMED_OUT")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_S3_ARN = re.compile(r"^arn:aws[a-z-]*:s3:::(?P<bucket>[^/]+)/(?P<key>.+)$")
_BUCKET = re.compile(rf"^{BUCKET_PREFIX}-\d{{12}}-[a-z]{{2}}(-[a-z]+)+-\d+$")
#: what each phase does in a shipwave build (Build.phases(): install, build, unit tests)
PHASE_MEANING = {
    "DOWNLOAD_SOURCE": "checking out the commit",
    "INSTALL": "installing",
    "PRE_BUILD": "preparing",
    "BUILD": "building",
    "POST_BUILD": "running the unit tests",
    "UPLOAD_ARTIFACTS": "storing the artifact",
}


@dataclass(frozen=True, kw_only=True)
class Phase:
    phase: str  # CodeBuild's phase-type
    status: str  # its phase-status; "" while it runs (COMPLETED has none)
    context: tuple[str, ...] = ()  # CodeBuild's phase-context messages


@dataclass(frozen=True, kw_only=True)
class BuildReport:
    """A build's end, as CodeBuild's "Build State Change" event tells it."""

    build_id: str
    status: str
    phases: tuple[Phase, ...]
    artifact_location: str = ""  # "arn:aws:s3:::<bucket>/<key>"
    sha256: str = ""
    log_url: str = ""


@dataclass(frozen=True, kw_only=True)
class Built:
    artifact: Artifact


@dataclass(frozen=True, kw_only=True)
class NotBuilt:
    phase: str
    reason: str


def version_problem(version: str) -> str:
    """Why `version` cannot name an artifact, or "" when it can."""
    if _VERSION.match(version):
        return ""
    return (
        f"the artifact name {version!r} is not a version (1-128 letters, digits, '.', '_', "
        "'+' or '-', starting with a letter or digit)"
    )


def outcome(report: BuildReport, *, pipeline_id: str) -> Built | NotBuilt | None:
    """The change's artifact, the reason there is none, or None while the build runs."""
    if report.status not in FINAL_STATUSES:
        return None
    if report.status != "SUCCEEDED":
        return failure(report)
    location = _S3_ARN.match(report.artifact_location)
    if location is None:
        return NotBuilt(
            phase="UPLOAD_ARTIFACTS",
            reason=f"the build stored no S3 artifact (location {report.artifact_location!r})",
        )
    bucket, key = location.group("bucket"), location.group("key")
    if not _BUCKET.match(bucket) or not key.startswith(f"{pipeline_id}/"):
        return NotBuilt(
            phase="UPLOAD_ARTIFACTS",
            reason=(
                f"the artifact s3://{bucket}/{key} is not in a shipwave artifact bucket under "
                f"{pipeline_id}/: its regional copies could not be found"
            ),
        )
    name = key.rsplit("/", 1)[-1]
    if not name.endswith(".zip"):
        return NotBuilt(phase="UPLOAD_ARTIFACTS", reason=f"the artifact {name!r} is not a zip")
    version = name.removesuffix(".zip")
    problem = version_problem(version)
    if problem:
        return NotBuilt(phase="UPLOAD_ARTIFACTS", reason=problem)
    if not _SHA256.match(report.sha256):
        return NotBuilt(
            phase="UPLOAD_ARTIFACTS",
            reason=f"the build reported no sha256 of its artifact ({report.sha256!r})",
        )
    return Built(
        artifact=Artifact(
            version=version, checksum=f"sha256:{report.sha256}", uri=f"s3://{bucket}/{key}"
        )
    )


def failure(report: BuildReport, meanings: Mapping[str, str] = PHASE_MEANING) -> NotBuilt:
    """The first phase that did not succeed, and what it said (`meanings`: what each phase
    was doing, for the reason)."""
    for phase in report.phases:
        if phase.status and phase.status != "SUCCEEDED":
            said = "; ".join(c for c in phase.context if c.strip())
            doing = meanings.get(phase.phase, phase.phase.lower())
            return NotBuilt(
                phase=phase.phase,
                reason=f"{phase.status} while {doing}" + (f": {said}" if said else ""),
            )
    return NotBuilt(phase="COMPLETED", reason=f"the build ended {report.status}")


# --- the change's side -----------------------------------------------------------------------


def to_build(state: PipelineState, change_id: str) -> ChangeState:
    """The change whose build `Build` starts: moving, reviewed, not yet built or failed.
    UnknownBuildError otherwise (nothing is built for a change that may not deploy)."""
    change = state.changes.get(change_id)
    if change is None:
        finished = state.change(change_id)
        raise UnknownBuildError(
            f"pipeline {state.pipeline_id!r}: change {change_id!r} "
            + (f"already ended {finished.status}" if finished else "was never received")
        )
    if not change.reviewed:
        raise UnknownBuildError(
            f"pipeline {state.pipeline_id!r}: change {change_id!r} has not passed its review: "
            "nothing is built before every commit is approved"
        )
    if not change.head:
        raise UnknownBuildError(
            f"pipeline {state.pipeline_id!r}: change {change_id!r} names no commit to build"
        )
    return change


def decide_started(
    state: PipelineState, stamp: Stamper, *, change_id: str, build_id: str, token: str
) -> list[Event]:
    """Record the started build (once; a retried start with its new token records it anew
    only when the token changed, so the completion resumes the task that waits)."""
    change = to_build(state, change_id)
    if change.artifact is not None or change.build_token == token:
        return []
    return [
        stamp(
            BuildStarted,
            f"{change_id}:build-started:{build_id}:{token[-16:]}",
            change_id=change_id,
            commit_id=change.head,
            build_id=build_id,
            callback_token=token,
        )
    ]


def decide_finished(
    state: PipelineState, stamp: Stamper, *, change_id: str, report: BuildReport
) -> list[Event]:
    """Record what the finished build means: ArtifactBuilt or BuildFailed, once.
    UnknownBuildError when the log holds no such build started for the change (EventBridge
    retries the event: a build recorded a moment later is then found). A build of a change
    that has already ended, and not the build it recorded (its start was never recorded: the
    change failed before), records nothing: no task waits for it and nothing deploys it."""
    change = state.change(change_id)
    if change is not None and change_id not in state.changes and change.build_id != report.build_id:
        return []
    if change is None or change.build_id != report.build_id:
        raise UnknownBuildError(
            f"pipeline {state.pipeline_id!r}: no build {report.build_id!r} was started for "
            f"change {change_id!r}"
        )
    if change.artifact is not None or change.status == "build-failed":
        return []
    result = outcome(report, pipeline_id=state.pipeline_id)
    if result is None:
        return []
    if isinstance(result, Built):
        return [
            stamp(
                ArtifactBuilt,
                f"{change_id}:built",
                change_id=change_id,
                artifact=result.artifact,
                build_id=report.build_id,
            )
        ]
    return [failed(stamp, change_id, report.build_id, result, report.log_url)]


def failed(
    stamp: Stamper, change_id: str, build_id: str, why: NotBuilt, log_url: str = ""
) -> BuildFailed:
    return stamp(
        BuildFailed,
        f"{change_id}:build-failed",
        change_id=change_id,
        build_id=build_id,
        phase=why.phase,
        reason=why.reason[:1000],
        log_url=log_url,
    )
