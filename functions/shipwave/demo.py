"""`shipwave demo`: a scripted pipeline history, recorded through the real append path.

Until the deployment engine runs pipelines on the local runtime, the demo records what such a
run records: a reviewed change carried through alpha, beta, gamma and the first production
wave (held overnight by the time window), a bad change rolled back at gamma's one-box, and
two changes merged minutes apart showing the conveyor (the older one superseded). Every
event goes through `PipelineLog.record`, with the idempotency keys a real run would use, so
running the demo again appends nothing and shows the same history.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console

from domain.events import (
    AlarmFired,
    Artifact,
    ArtifactBuilt,
    BakeCompleted,
    BakeStarted,
    BatchDeployed,
    BlockerCleared,
    BlockerHit,
    ChangePromoted,
    ChangeReceived,
    ChangeSuperseded,
    Commit,
    CommitExcluded,
    DatapointsReached,
    Event,
    HealthCheckPassed,
    OneBoxDeployed,
    RollbackCompleted,
    RollbackStarted,
    StageFailed,
    StageLeaseAcquired,
    StageLeaseReleased,
    StageLeaseWaiting,
    StageSucceeded,
)
from domain.ports import EventStore
from domain.state import PipelineState
from service.pipeline_log import PipelineLog
from shipwave.render import history_view, status_view

PIPELINE = "orders-service-app"
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday morning

Draft = tuple[type[Event], str, dict[str, Any]]


def build(version: str) -> Artifact:
    """An artifact as the build step records it: immutable, sha256-checksummed."""
    digest = hashlib.sha256(f"orders-service:{version}".encode()).hexdigest()
    return Artifact(
        version=version, checksum=f"sha256:{digest}", uri=f"s3://artifacts/orders/{version}.zip"
    )


@dataclass
class Script:
    log: PipelineLog
    now: datetime = START
    appended: int = 0
    replayed: int = 0
    steps: list[str] = field(default_factory=list)

    def wait(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def record(self, note: str, *drafts: Draft) -> None:
        def decide(_: PipelineState, stamp: Any) -> list[Event]:
            return [stamp(cls, key, **fields) for cls, key, fields in drafts]

        result = self.log.record(PIPELINE, self.now, decide)
        if result.replayed:
            self.replayed += len(result.events)
        else:
            self.appended += len(result.events)
        self.steps.append(f"{self.now:%a %H:%M} {note}")


def _stage_pass(
    s: Script, change: str, art: Artifact, stage: str, scopes: list[str], *, one_box: bool
) -> None:
    s.record(
        f"{change} enters {stage}",
        (StageLeaseAcquired, f"{change}:{stage}:lease", {"stage": stage, "change_id": change}),
    )
    for scope in scopes:
        where = {"stage": stage, "scope": scope, "change_id": change}
        if one_box:
            s.record(
                f"{change} one-box in {scope}",
                (
                    OneBoxDeployed,
                    f"{change}:{stage}:{scope}:onebox",
                    {**where, "artifact": art, "traffic_percent": 10.0},
                ),
                (
                    BakeStarted,
                    f"{change}:{stage}:{scope}:bake-onebox",
                    {
                        **where,
                        "phase": "one-box",
                        "duration_seconds": 3600,
                        "ends_at": s.now + timedelta(hours=1),
                        "metric": "CreateOrder.Requests",
                        "min_datapoints": 100,
                    },
                ),
            )
            s.wait(hours=1)
            s.record(
                f"{change} one-box bake done in {scope}",
                (
                    DatapointsReached,
                    f"{change}:{stage}:{scope}:datapoints-onebox",
                    {**where, "metric": "CreateOrder.Requests", "required": 100, "seen": 412},
                ),
                (
                    BakeCompleted,
                    f"{change}:{stage}:{scope}:baked-onebox",
                    {**where, "phase": "one-box"},
                ),
            )
        for batch, percent in enumerate((33.0, 66.0, 100.0), start=1):
            boxes = tuple(f"{scope}-box-{batch}{n}" for n in range(2))
            s.record(
                f"{change} batch {batch} in {scope}",
                (
                    BatchDeployed,
                    f"{change}:{stage}:{scope}:batch{batch}",
                    {
                        **where,
                        "artifact": art,
                        "batch": batch,
                        "boxes": boxes,
                        "fleet_percent_on_new": percent,
                        "healthy_percent": 100.0,
                    },
                ),
                (
                    HealthCheckPassed,
                    f"{change}:{stage}:{scope}:health{batch}",
                    {**where, "boxes": boxes},
                ),
            )
            s.wait(minutes=4)
        s.record(
            f"{change} bakes in {scope}",
            (
                BakeStarted,
                f"{change}:{stage}:{scope}:bake",
                {
                    **where,
                    "phase": "fleet",
                    "duration_seconds": 7200,
                    "ends_at": s.now + timedelta(hours=2),
                    "metric": "CreateOrder.Requests",
                    "min_datapoints": 100,
                },
            ),
        )
        s.wait(hours=2)
        s.record(
            f"{change} baked in {scope}",
            (
                DatapointsReached,
                f"{change}:{stage}:{scope}:datapoints",
                {**where, "metric": "CreateOrder.Requests", "required": 100, "seen": 2315},
            ),
            (BakeCompleted, f"{change}:{stage}:{scope}:baked", {**where, "phase": "fleet"}),
        )
    s.record(
        f"{change} leaves {stage}",
        (StageSucceeded, f"{change}:{stage}:succeeded", {"stage": stage, "change_id": change}),
        (StageLeaseReleased, f"{change}:{stage}:release", {"stage": stage, "change_id": change}),
    )


def _receive(s: Script, change: str, commits: tuple[Commit, ...]) -> None:
    s.record(
        f"{change} merged",
        (
            ChangeReceived,
            f"{change}:received",
            {
                "change_id": change,
                "source": "github",
                "repository": "acme/orders-service",
                "branch": "main",
                "commits": commits,
            },
        ),
    )


def _promote(s: Script, change: str, source: str, target: str) -> None:
    s.record(
        f"{change} promoted to {target}",
        (
            ChangePromoted,
            f"{change}:{source}:promote",
            {"change_id": change, "from_stage": source, "to_stage": target},
        ),
    )


def script(log: PipelineLog) -> Script:
    """The scripted history; returns the script with its counts."""
    s = Script(log)
    v1 = build("v1.4.0")

    # A good change, one unreviewed commit excluded, carried to the first production wave.
    _receive(
        s,
        "chg-101",
        (
            Commit(
                commit_id="a1f3c9e",
                author="ana",
                message="Validate order totals",
                approved_by=("bruno",),
            ),
            Commit(commit_id="77b0d12", author="ana", message="WIP: tweak retries"),
        ),
    )
    s.record(
        "chg-101 excludes an unreviewed commit",
        (
            CommitExcluded,
            "chg-101:exclude:77b0d12",
            {"change_id": "chg-101", "commit_id": "77b0d12", "reason": "no approved code review"},
        ),
    )
    s.wait(minutes=6)
    s.record(
        "chg-101 built", (ArtifactBuilt, "chg-101:built", {"change_id": "chg-101", "artifact": v1})
    )
    _stage_pass(s, "chg-101", v1, "alpha", ["us-east-1"], one_box=False)
    _promote(s, "chg-101", "alpha", "beta")
    _stage_pass(s, "chg-101", v1, "beta", ["us-east-1"], one_box=False)
    _promote(s, "chg-101", "beta", "gamma")
    _stage_pass(s, "chg-101", v1, "gamma", ["us-east-1", "eu-west-1"], one_box=True)
    _promote(s, "chg-101", "gamma", "wave1")
    s.record(
        "chg-101 held by the time window",
        (
            BlockerHit,
            "chg-101:wave1:blocker:time-window:1",
            {
                "stage": "wave1",
                "change_id": "chg-101",
                "blocker": "time-window",
                "reason": "outside business hours in ap-southeast-3 (Asia/Jakarta)",
                "inputs": (
                    ("window", "Mon-Fri 09:00-17:00"),
                    ("local_time", "Tue 00:57"),
                    ("time_zone", "Asia/Jakarta"),
                ),
            },
        ),
    )
    s.now = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 09:00 in Jakarta
    s.record(
        "time window opens",
        (
            BlockerCleared,
            "chg-101:wave1:blocker:time-window:1:cleared",
            {"stage": "wave1", "change_id": "chg-101", "blocker": "time-window"},
        ),
    )
    _stage_pass(s, "chg-101", v1, "wave1", ["ap-southeast-3/apse3-az1"], one_box=True)

    # A bad change: the one-box in gamma raises the fault rate and is rolled back.
    v2 = build("v1.5.0")
    _receive(
        s,
        "chg-102",
        (
            Commit(
                commit_id="c0ffee1", author="li", message="New pricing cache", approved_by=("ana",)
            ),
        ),
    )
    s.record(
        "chg-102 built", (ArtifactBuilt, "chg-102:built", {"change_id": "chg-102", "artifact": v2})
    )
    _stage_pass(s, "chg-102", v2, "alpha", ["us-east-1"], one_box=False)
    _promote(s, "chg-102", "alpha", "beta")
    _stage_pass(s, "chg-102", v2, "beta", ["us-east-1"], one_box=False)
    _promote(s, "chg-102", "beta", "gamma")
    where = {"stage": "gamma", "scope": "us-east-1", "change_id": "chg-102"}
    s.record(
        "chg-102 enters gamma",
        (StageLeaseAcquired, "chg-102:gamma:lease", {"stage": "gamma", "change_id": "chg-102"}),
    )
    s.record(
        "chg-102 one-box in us-east-1",
        (
            OneBoxDeployed,
            "chg-102:gamma:us-east-1:onebox",
            {**where, "artifact": v2, "traffic_percent": 10.0},
        ),
        (
            BakeStarted,
            "chg-102:gamma:us-east-1:bake-onebox",
            {
                **where,
                "phase": "one-box",
                "duration_seconds": 3600,
                "ends_at": s.now + timedelta(hours=1),
                "metric": "CreateOrder.Requests",
                "min_datapoints": 100,
            },
        ),
    )
    s.wait(minutes=7)
    s.record(
        "one-box alarm fires; rollback",
        (
            AlarmFired,
            "chg-102:gamma:us-east-1:alarm:orders-onebox-high-severity",
            {
                **where,
                "alarm_name": "orders-onebox-high-severity",
                "region": "us-east-1",
                "reason": "one-box fault rate 4.2% > 1% for 3 of 3 datapoints",
            },
        ),
        (
            RollbackStarted,
            "chg-102:gamma:us-east-1:rollback",
            {
                **where,
                "from_artifact": v2,
                "to_artifact": v1,
                "reason": "alarm orders-onebox-high-severity",
            },
        ),
    )
    s.wait(minutes=2)
    s.record(
        "rollback done",
        (RollbackCompleted, "chg-102:gamma:us-east-1:rolled-back", {**where, "artifact": v1}),
        (
            StageFailed,
            "chg-102:gamma:failed",
            {
                "stage": "gamma",
                "change_id": "chg-102",
                "reason": "rolled back: alarm orders-onebox-high-severity in us-east-1",
            },
        ),
        (StageLeaseReleased, "chg-102:gamma:release", {"stage": "gamma", "change_id": "chg-102"}),
    )

    # The conveyor: two changes merged minutes apart while beta is busy.
    v3, v4 = build("v1.5.1"), build("v1.5.2")
    for change, art, commit in (("chg-103", v3, "d00d001"), ("chg-104", v4, "d00d002")):
        _receive(
            s,
            change,
            (
                Commit(
                    commit_id=commit, author="li", message="Fix pricing cache", approved_by=("ana",)
                ),
            ),
        )
        s.record(
            f"{change} built",
            (ArtifactBuilt, f"{change}:built", {"change_id": change, "artifact": art}),
        )
    s.record(
        "chg-103 takes beta",
        (StageLeaseAcquired, "chg-103:beta:lease", {"stage": "beta", "change_id": "chg-103"}),
    )
    s.wait(minutes=3)
    s.record(
        "chg-104 waits for beta",
        (
            StageLeaseWaiting,
            "chg-104:beta:wait",
            {"stage": "beta", "change_id": "chg-104", "callback_token": "demo-token-chg-104"},
        ),
    )
    _receive(
        s,
        "chg-105",
        (Commit(commit_id="d00d003", author="ana", message="Tune cache TTL", approved_by=("li",)),),
    )
    s.record(
        "chg-105 built",
        (ArtifactBuilt, "chg-105:built", {"change_id": "chg-105", "artifact": build("v1.5.3")}),
    )
    s.record(
        "chg-105 waits for beta",
        (
            StageLeaseWaiting,
            "chg-105:beta:wait",
            {"stage": "beta", "change_id": "chg-105", "callback_token": "demo-token-chg-105"},
        ),
    )
    s.wait(minutes=20)
    s.record(
        "beta frees: the newest waiting change takes it",
        (StageSucceeded, "chg-103:beta:succeeded", {"stage": "beta", "change_id": "chg-103"}),
        (StageLeaseReleased, "chg-103:beta:release", {"stage": "beta", "change_id": "chg-103"}),
        (
            ChangeSuperseded,
            "chg-104:beta:superseded",
            {"stage": "beta", "change_id": "chg-104", "superseded_by": "chg-105"},
        ),
        (StageLeaseAcquired, "chg-105:beta:lease", {"stage": "beta", "change_id": "chg-105"}),
    )
    return s


def run_demo(store: EventStore, event_log: str, console: Console) -> None:
    log = PipelineLog(store)
    s = script(log)
    console.rule("[bold]shipwave demo: a scripted history through the real append path")
    console.print(
        "The deployment engine is not wired to the local runtime yet; this records the "
        "transitions such a run records, so status and history can be explored."
    )
    for step in s.steps:
        console.print(f"  {step}", highlight=False)
    console.print(
        f"\nRecorded [bold]{s.appended}[/bold] new events; [bold]{s.replayed}[/bold] were "
        "already in the log (the same idempotency keys append nothing twice)."
    )
    console.print(history_view(PIPELINE, log.events(PIPELINE)))
    console.print(status_view(log.state(PIPELINE)))
    console.print(
        f"\nEvent log: [bold]{event_log}[/bold]\nNext: [bold]shipwave history {PIPELINE} "
        "--change chg-102[/bold] or [bold]shipwave status --json[/bold]"
    )
