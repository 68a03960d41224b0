"""Every recorded transition as a notification: what shipwave publishes to EventBridge.

Each event type has one detail-type ("Shipwave Change Rolled Back") and a severity:
`info` (the conveyor moving), `warning` (a change held, extended, failed before production,
rolled back before production) or `critical` (production hurt or a person needed). Teams
route them with ordinary EventBridge rules on `source`, `detail-type` and
`detail.severity` / `detail.pipeline_id`. The detail carries the event itself, its one-line
description, and `id`, the event's place in the log: a consumer that sees an `id` twice has
seen the same transition twice (delivery is at least once).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from domain.describe import describe
from domain.events import (
    EVENT_TYPES,
    AlarmFired,
    AlarmsUnconfirmed,
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
    to_dict,
)

SOURCE = "shipwave"
Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")

#: (detail-type, severity outside production, severity in a production stage)
_KINDS: dict[type[Event], tuple[str, Severity, Severity]] = {
    ChangeReceived: ("Shipwave Change Received", "info", "info"),
    CommitExcluded: ("Shipwave Commit Excluded", "warning", "warning"),
    ReviewHeld: ("Shipwave Change Held For Review", "warning", "warning"),
    ReviewPassed: ("Shipwave Review Passed", "info", "info"),
    BuildStarted: ("Shipwave Build Started", "info", "info"),
    ArtifactBuilt: ("Shipwave Artifact Built", "info", "info"),
    BuildFailed: ("Shipwave Build Failed", "warning", "warning"),
    ScopeAdopted: ("Shipwave Scope Adopted", "info", "info"),
    StageLeaseAcquired: ("Shipwave Stage Started", "info", "info"),
    StageLeaseWaiting: ("Shipwave Change Waiting For Stage", "info", "info"),
    StageLeaseReleased: ("Shipwave Stage Released", "info", "info"),
    ChangeSuperseded: ("Shipwave Change Superseded", "info", "info"),
    OneBoxDeployed: ("Shipwave One-Box Deployed", "info", "info"),
    BatchDeployed: ("Shipwave Batch Deployed", "info", "info"),
    IntegrationTestsStarted: ("Shipwave Integration Tests Started", "info", "info"),
    IntegrationTestsPassed: ("Shipwave Integration Tests Passed", "info", "info"),
    IntegrationTestsFailed: ("Shipwave Integration Tests Failed", "warning", "warning"),
    HealthCheckPassed: ("Shipwave Health Check Passed", "info", "info"),
    HealthCheckFailed: ("Shipwave Health Check Failed", "warning", "critical"),
    BakeStarted: ("Shipwave Bake Started", "info", "info"),
    BakeCompleted: ("Shipwave Bake Completed", "info", "info"),
    DatapointsReached: ("Shipwave Bake Datapoints Reached", "info", "info"),
    DatapointsInsufficient: ("Shipwave Bake Extended", "warning", "warning"),
    AlarmsUnconfirmed: ("Shipwave Alarms Unconfirmed", "warning", "critical"),
    AlarmFired: ("Shipwave Alarm Fired", "warning", "critical"),
    RollbackStarted: ("Shipwave Rollback Started", "warning", "critical"),
    RollbackCompleted: ("Shipwave Change Rolled Back", "warning", "critical"),
    RollbackFailed: ("Shipwave Rollback Failed", "critical", "critical"),
    BlockerHit: ("Shipwave Stage Blocked", "warning", "warning"),
    BlockerCleared: ("Shipwave Blocker Cleared", "info", "info"),
    BlockerOverridden: ("Shipwave Blocker Overridden", "warning", "warning"),
    EmergencyApproved: ("Shipwave Emergency Approved", "warning", "warning"),
    ChangePromoted: ("Shipwave Change Promoted", "info", "info"),
    StageSucceeded: ("Shipwave Stage Succeeded", "info", "info"),
    StageFailed: ("Shipwave Stage Failed", "warning", "critical"),
    ChangeCompleted: ("Shipwave Change Completed", "info", "info"),
    PersonPaged: ("Shipwave Person Paged", "critical", "critical"),
    StageRecovered: ("Shipwave Stage Recovered", "warning", "warning"),
    StageUnblocked: ("Shipwave Stage Unblocked", "warning", "warning"),
    ExecutionEnded: ("Shipwave Execution Ended", "warning", "warning"),
    PipelinePaused: ("Shipwave Pipeline Paused", "warning", "warning"),
    PipelineResumed: ("Shipwave Pipeline Resumed", "warning", "warning"),
    ChangeAborted: ("Shipwave Change Aborted", "critical", "critical"),
    EmergencyApprovalGiven: ("Shipwave Emergency Approval Given", "warning", "warning"),
    ChangeRetried: ("Shipwave Change Retried", "warning", "warning"),
}

#: every detail-type shipwave publishes, in the catalogue's order
DETAIL_TYPES: tuple[str, ...] = tuple(_KINDS[t][0] for t in EVENT_TYPES.values())


@dataclass(frozen=True)
class Notification:
    """One EventBridge entry: `source`, `detail-type` and the detail's JSON fields."""

    detail_type: str
    severity: Severity
    detail: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.detail["id"])


def notification_id(pipeline_id: str, sequence: int) -> str:
    """The transition's place in the log, the same however often it is delivered."""
    return f"{pipeline_id}/{sequence}"


def notify(event: Event, *, production: Iterable[str] = ()) -> Notification:
    """The notification of one recorded event; `production` names the pipeline's production
    stages (an alarm or a rollback there is critical)."""
    detail_type, outside, inside = _KINDS[type(event)]
    stage = getattr(event, "stage", None)
    severity = inside if stage is not None and stage in frozenset(production) else outside
    detail: dict[str, Any] = {
        "id": notification_id(event.pipeline_id, event.sequence),
        "pipeline_id": event.pipeline_id,
        "sequence": event.sequence,
        "at": event.at.isoformat().replace("+00:00", "Z"),
        "severity": severity,
        "summary": describe(event),
        "event": to_dict(event),
    }
    for name in ("change_id", "stage", "scope"):
        value = getattr(event, name, None)
        if value:
            detail[name] = value
    return Notification(detail_type=detail_type, severity=severity, detail=detail)


def at_least(severity: Severity) -> tuple[Severity, ...]:
    """The severities a subscriber of `severity` and above receives."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity {severity!r}: one of {', '.join(SEVERITIES)}")
    return SEVERITIES[SEVERITIES.index(severity) :]
