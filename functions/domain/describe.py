"""One line of plain English per event, for `shipwave history` and the audit trail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.events import (
    AlarmFired,
    AlarmsUnconfirmed,
    Artifact,
    ArtifactBuilt,
    BakeCompleted,
    BakeStarted,
    BatchDeployed,
    BlockerCleared,
    BlockerHit,
    BlockerOverridden,
    BuildFailed,
    BuildStarted,
    ChangeAborted,
    ChangeCompleted,
    ChangePromoted,
    ChangeReceived,
    ChangeRetried,
    ChangeSuperseded,
    CommitExcluded,
    DatapointsInsufficient,
    DatapointsReached,
    EmergencyApprovalGiven,
    EmergencyApproved,
    Event,
    ExecutionEnded,
    HealthCheckFailed,
    HealthCheckPassed,
    IntegrationTestsFailed,
    IntegrationTestsPassed,
    IntegrationTestsStarted,
    OneBoxDeployed,
    PersonPaged,
    PipelinePaused,
    PipelineResumed,
    ReviewHeld,
    ReviewPassed,
    RollbackCompleted,
    RollbackFailed,
    RollbackStarted,
    ScopeAdopted,
    StageFailed,
    StageLeaseAcquired,
    StageLeaseReleased,
    StageLeaseWaiting,
    StageRecovered,
    StageSucceeded,
    StageUnblocked,
)


def artifact_label(artifact: Artifact | None) -> str:
    """ "v42 (sha256:1a2b3c4d…)", or "nothing" for an empty scope."""
    if artifact is None:
        return "nothing"
    digest = artifact.checksum.split(":", 1)[-1]
    return f"{artifact.version} (sha256:{digest[:8]}…)"


def _hours(seconds: int) -> str:
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds / 60:g} min"


_LINES: dict[type[Event], Callable[[Any], str]] = {
    ChangeReceived: lambda e: (
        f"change received from {e.source} ({e.repository}@{e.branch}"
        + (f" at {e.head[:12]}" if e.head else "")
        + f", {len(e.commits)} commit{'s' if len(e.commits) != 1 else ''})"
    ),
    BuildStarted: lambda e: (
        f"build of {e.commit_id[:12]} started ({e.build_id.rsplit(':', 1)[-1]})"
    ),
    BuildFailed: lambda e: (
        f"build failed in {e.phase}: {e.reason}" + (f" (log: {e.log_url})" if e.log_url else "")
    ),
    CommitExcluded: lambda e: f"commit {e.commit_id} excluded: {e.reason}",
    ReviewHeld: lambda e: (
        f"held at source: commit {e.commit_id} by {e.author} is not reviewed: {e.reason}"
    ),
    ReviewPassed: lambda e: (
        "review passed: "
        + (", ".join(f"{commit} approved by {who}" for commit, who in e.approvals) or "no commits")
    ),
    ArtifactBuilt: lambda e: (
        f"artifact built: {e.artifact.version} ({e.artifact.checksum})"
        + (f" at {e.artifact.uri}" if e.artifact.uri else "")
    ),
    IntegrationTestsStarted: lambda e: f"integration tests started against {e.stage}",
    IntegrationTestsPassed: lambda e: f"integration tests passed at {e.stage}",
    IntegrationTestsFailed: lambda e: (
        f"integration tests failed at {e.stage}: {', '.join(e.failed_tests) or e.reason}"
        + (f" (log: {e.log_url})" if e.log_url else "")
    ),
    ScopeAdopted: lambda e: f"adopted {e.scope}: already running {artifact_label(e.artifact)}",
    StageLeaseAcquired: lambda e: f"entered {e.stage}",
    StageLeaseWaiting: lambda e: f"waiting for {e.stage} (busy)",
    StageLeaseReleased: lambda e: f"left {e.stage}",
    AlarmsUnconfirmed: lambda e: (
        f"alarms cannot vouch for {e.scope} ({'; '.join(e.problems)}): bake "
        + ("extended" if e.action == "extend" else "held")
    ),
    PersonPaged: lambda e: f"PAGED: {e.subject}",
    StageRecovered: lambda e: (
        f"{e.stage} recovered by {e.by} to {artifact_label(e.artifact)} in "
        f"{', '.join(e.scopes)}: {e.why}"
    ),
    StageUnblocked: lambda e: f"{e.stage} unblocked by {e.by}: {e.why}",
    ExecutionEnded: lambda e: f"execution ended {e.status}: {e.cause or 'no cause given'}",
    ChangeSuperseded: lambda e: f"superseded at {e.stage} by {e.superseded_by}",
    OneBoxDeployed: lambda e: (
        f"one-box deployed in {e.scope}: {artifact_label(e.artifact)} "
        f"serving {e.traffic_percent:g}%"
    ),
    BatchDeployed: lambda e: (
        f"batch {e.batch} deployed in {e.scope}: {len(e.boxes)} boxes, "
        f"{e.fleet_percent_on_new:g}% on new, {e.healthy_percent:g}% healthy"
    ),
    HealthCheckPassed: lambda e: f"health checks passed in {e.scope} ({len(e.boxes)} boxes)",
    HealthCheckFailed: lambda e: f"health checks FAILED in {e.scope}: {e.reason}",
    BakeStarted: lambda e: (
        f"bake ({e.phase}) started in {e.scope}: {_hours(e.duration_seconds)}, "
        f"needs {e.min_datapoints} {e.metric}"
    ),
    BakeCompleted: lambda e: f"bake ({e.phase}) completed in {e.scope}",
    DatapointsReached: lambda e: (
        f"datapoints reached in {e.scope}: {e.seen}/{e.required} {e.metric}"
    ),
    DatapointsInsufficient: lambda e: (
        f"datapoints insufficient in {e.scope}: {e.seen}/{e.required} {e.metric} → {e.action}"
    ),
    AlarmFired: lambda e: f"ALARM {e.alarm_name} in {e.region}: {e.reason}",
    RollbackStarted: lambda e: (
        f"rollback started in {e.scope}: {artifact_label(e.from_artifact)} → "
        f"{artifact_label(e.to_artifact)} ({e.reason})"
    ),
    RollbackCompleted: lambda e: (
        f"rollback completed in {e.scope}: now {artifact_label(e.artifact)}"
    ),
    RollbackFailed: lambda e: f"rollback FAILED in {e.scope}: {e.reason}",
    BlockerHit: lambda e: f"blocked at {e.stage} by {e.blocker}: {e.reason}",
    BlockerCleared: lambda e: f"blocker {e.blocker} cleared at {e.stage}",
    BlockerOverridden: lambda e: f"blocker {e.blocker} at {e.stage} overridden by {e.by}: {e.why}",
    EmergencyApproved: lambda e: (
        f"emergency approved by {', '.join(e.approvers)}: bake × {e.bake_factor:g} ({e.reason})"
    ),
    ChangePromoted: lambda e: f"promoted {e.from_stage} → {e.to_stage}",
    StageSucceeded: lambda e: f"{e.stage} succeeded",
    StageFailed: lambda e: f"{e.stage} FAILED: {e.reason}",
    ChangeCompleted: lambda e: "change completed: deployed everywhere",
    PipelinePaused: lambda e: (
        f"pipeline paused by {e.by}"
        + (f" (team {e.team})" if e.team else "")
        + f": {e.why}; no new stage starts"
    ),
    PipelineResumed: lambda e: (
        f"pipeline resumed by {e.by}" + (f" (team {e.team})" if e.team else "") + f": {e.why}"
    ),
    ChangeAborted: lambda e: f"ABORTED by {e.by}: {e.why}; what it deployed is rolled back",
    ChangeRetried: lambda e: (
        f"retried by {e.by} from {e.from_stage} (run {e.attempt}, execution {e.execution}): {e.why}"
    ),
    EmergencyApprovalGiven: lambda e: (
        f"emergency approval by {e.by} ({e.person}): {e.reason}; "
        f"bakes x {e.bake_factor:g} once a second senior engineer approves"
    ),
}


def describe(event: Event) -> str:
    """A short sentence saying what happened."""
    return _LINES[type(event)](event)


def stage_and_scope(event: Event) -> str:
    """ "wave2 · eu-west-1/euw1-az1", "gamma", or "" for pipeline-wide events."""
    stage = getattr(event, "stage", "")
    scope = getattr(event, "scope", "")
    return f"{stage} · {scope}" if stage and scope else stage


def change_of(event: Event) -> str | None:
    change: str | None = getattr(event, "change_id", None)
    return change


def concerns_change(event: Event, change_id: str) -> bool:
    """True when the event is about the change, including a supersession in its favour."""
    return change_of(event) == change_id or getattr(event, "superseded_by", None) == change_id
