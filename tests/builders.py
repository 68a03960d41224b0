"""Builders for events in tests: realistic values, one line per event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain.events import (
    Artifact,
    ArtifactBuilt,
    BakeCompleted,
    BakeStarted,
    BatchDeployed,
    ChangeReceived,
    Commit,
    Event,
    HealthCheckPassed,
    OneBoxDeployed,
    StageLeaseAcquired,
    StageLeaseReleased,
    StageSucceeded,
    Stamper,
)
from domain.state import PipelineState, project

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def artifact(version: str) -> Artifact:
    return Artifact(version=version, checksum="sha256:" + version.encode().hex().ljust(64, "0"))


def change_received(
    pipeline: str, sequence: int, change: str, *, key: str | None = None, message: str = "fix"
) -> ChangeReceived:
    return ChangeReceived(
        pipeline_id=pipeline,
        sequence=sequence,
        at=T0 + timedelta(seconds=sequence),
        idempotency_key=key or f"{change}:received",
        change_id=change,
        source="github",
        repository="orders-service",
        branch="main",
        commits=(
            Commit(commit_id=f"{change}-c1", author="ana", message=message, approved_by=("bo",)),
        ),
    )


def rollout(pipeline: str, first: int, change: str, stage: str, scope: str) -> list[Event]:
    """A change going through one stage and scope: lease, one-box, batch, bake, success."""
    art = artifact(change)
    common = {"pipeline_id": pipeline}
    at = T0 + timedelta(minutes=first)
    events: list[Event] = [
        ArtifactBuilt(
            **common,
            sequence=first,
            at=at,
            idempotency_key=f"{change}:built",
            change_id=change,
            artifact=art,
        ),
        StageLeaseAcquired(
            **common,
            sequence=first + 1,
            at=at,
            idempotency_key=f"{change}:{stage}:lease",
            stage=stage,
            change_id=change,
        ),
        OneBoxDeployed(
            **common,
            sequence=first + 2,
            at=at,
            idempotency_key=f"{change}:{stage}:{scope}:onebox",
            stage=stage,
            scope=scope,
            change_id=change,
            artifact=art,
            traffic_percent=10.0,
        ),
        BatchDeployed(
            **common,
            sequence=first + 3,
            at=at,
            idempotency_key=f"{change}:{stage}:{scope}:batch1",
            stage=stage,
            scope=scope,
            change_id=change,
            artifact=art,
            batch=1,
            boxes=("i-1", "i-2"),
            fleet_percent_on_new=100.0,
            healthy_percent=100.0,
        ),
        HealthCheckPassed(
            **common,
            sequence=first + 4,
            at=at,
            idempotency_key=f"{change}:{stage}:{scope}:health",
            stage=stage,
            scope=scope,
            change_id=change,
            boxes=("i-1", "i-2"),
        ),
        BakeStarted(
            **common,
            sequence=first + 5,
            at=at,
            idempotency_key=f"{change}:{stage}:{scope}:bake",
            stage=stage,
            scope=scope,
            change_id=change,
            phase="fleet",
            duration_seconds=3600,
            ends_at=at + timedelta(hours=1),
            metric="CreateOrder.Requests",
            min_datapoints=100,
        ),
        BakeCompleted(
            **common,
            sequence=first + 6,
            at=at + timedelta(hours=1),
            idempotency_key=f"{change}:{stage}:{scope}:baked",
            stage=stage,
            scope=scope,
            change_id=change,
            phase="fleet",
        ),
        StageSucceeded(
            **common,
            sequence=first + 7,
            at=at + timedelta(hours=1),
            idempotency_key=f"{change}:{stage}:succeeded",
            stage=stage,
            change_id=change,
        ),
        StageLeaseReleased(
            **common,
            sequence=first + 8,
            at=at + timedelta(hours=1),
            idempotency_key=f"{change}:{stage}:release",
            stage=stage,
            change_id=change,
        ),
    ]
    return events


class StreamLog:
    """A numbered stream built the way a writer builds it: each event follows the last.
    `StreamLog("c1", "c2")` starts with those changes received."""

    def __init__(self, *changes: str, pipeline: str = "orders-app") -> None:
        self.pipeline = pipeline
        self.events: list[Event] = [
            change_received(pipeline, n, change) for n, change in enumerate(changes, start=1)
        ]

    @property
    def state(self) -> PipelineState:
        return project(self.events)

    def stamp(self, at: datetime = T0) -> Stamper:
        """The next events' stamper, keying a retried change's events by its run, as
        PipelineLog.record's does."""
        attempts = self.state.attempts() if self.events else {}
        return Stamper(self.pipeline, len(self.events) + 1, at, attempts=attempts)

    def add(
        self, cls: type[Event], at: datetime = T0, *, key: str | None = None, **fields: Any
    ) -> Event:
        event = self.stamp(at)(cls, key or f"k{len(self.events) + 1}", **fields)
        self.events.append(event)
        return event

    def extend(self, events: list[Event]) -> None:
        self.events.extend(events)

    def receive(self, change: str) -> None:
        self.events.append(change_received(self.pipeline, len(self.events) + 1, change))
