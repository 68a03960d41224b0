"""A realistic event stream for benchmarks: changes rolling through a 76-AZ pipeline.

Each change is received, built, then goes through alpha, beta, gamma (2 regions) and five
production waves (one-box, bake, three rolling batches with health checks, fleet bake per
scope). Every seventh change trips an alarm at a one-box and is rolled back; every fifth
waits behind a busy stage and supersedes the change waiting before it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.events import (
    AlarmFired,
    Artifact,
    ArtifactBuilt,
    BakeCompleted,
    BakeStarted,
    BatchDeployed,
    ChangeCompleted,
    ChangePromoted,
    ChangeReceived,
    ChangeSuperseded,
    Commit,
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

_REGIONS = [f"region-{n:02d}" for n in range(24)]
_AZS = {
    region: [f"{region}/az{k}" for k in range(1, 4 + (n % 2))] for n, region in enumerate(_REGIONS)
}
STAGES: list[tuple[str, list[str]]] = [
    ("alpha", ["region-00"]),
    ("beta", ["region-00"]),
    ("gamma", ["region-00", "region-01"]),
    ("wave1", _AZS["region-02"]),
    ("wave2", _AZS["region-03"]),
    ("wave3", [az for r in _REGIONS[4:7] for az in _AZS[r]]),
    ("wave4", [az for r in _REGIONS[7:15] for az in _AZS[r]]),
    ("wave5", [az for r in _REGIONS[15:] for az in _AZS[r]]),
]
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _artifact(n: int) -> Artifact:
    digest = hashlib.sha256(str(n).encode()).hexdigest()
    return Artifact(version=f"v{n}", checksum=f"sha256:{digest}", uri=f"s3://a/v{n}.zip")


def stream(pipeline: str, total: int) -> Iterator[Event]:
    """Exactly `total` events of one pipeline, numbered from 1."""
    sequence = 0
    clock = T0

    def make(cls: type[Event], key: str, **fields: Any) -> Event:
        nonlocal sequence, clock
        sequence += 1
        clock += timedelta(seconds=30)
        return cls(pipeline_id=pipeline, sequence=sequence, at=clock, idempotency_key=key, **fields)

    def change_events(n: int) -> Iterator[Event]:
        change, art = f"chg-{n}", _artifact(n)
        yield make(
            ChangeReceived,
            f"{change}:received",
            change_id=change,
            source="github",
            repository="acme/orders",
            branch="main",
            commits=(
                Commit(
                    commit_id=f"{n:07x}", author="dev", message="change", approved_by=("reviewer",)
                ),
            ),
        )
        yield make(ArtifactBuilt, f"{change}:built", change_id=change, artifact=art)
        if n % 5 == 0:
            yield make(
                StageLeaseWaiting,
                f"{change}:alpha:wait",
                stage="alpha",
                change_id=change,
                callback_token=f"token-{n}",
            )
            yield make(
                ChangeSuperseded,
                f"chg-{n - 1}:alpha:superseded",
                stage="alpha",
                change_id=f"chg-{n - 1}",
                superseded_by=change,
            )
        previous = None
        for stage, scopes in STAGES:
            if previous:
                yield make(
                    ChangePromoted,
                    f"{change}:{previous}:promote",
                    change_id=change,
                    from_stage=previous,
                    to_stage=stage,
                )
            yield make(StageLeaseAcquired, f"{change}:{stage}:lease", stage=stage, change_id=change)
            for scope in scopes:
                where = {"stage": stage, "scope": scope, "change_id": change}
                k = f"{change}:{stage}:{scope}"
                yield make(
                    OneBoxDeployed, f"{k}:onebox", **where, artifact=art, traffic_percent=10.0
                )
                yield make(
                    BakeStarted,
                    f"{k}:bake1",
                    **where,
                    phase="one-box",
                    duration_seconds=3600,
                    ends_at=clock + timedelta(hours=1),
                    metric="CreateOrder.Requests",
                    min_datapoints=100,
                )
                if n % 7 == 0 and stage == "wave2":
                    yield make(
                        AlarmFired,
                        f"{k}:alarm",
                        **where,
                        alarm_name="onebox-hs",
                        region=scope.split("/")[0],
                        reason="fault rate",
                    )
                    yield make(
                        RollbackStarted,
                        f"{k}:rollback",
                        **where,
                        from_artifact=art,
                        to_artifact=_artifact(n - 1),
                        reason="alarm onebox-hs",
                    )
                    yield make(
                        RollbackCompleted, f"{k}:rolled-back", **where, artifact=_artifact(n - 1)
                    )
                    yield make(
                        StageFailed,
                        f"{change}:{stage}:failed",
                        stage=stage,
                        change_id=change,
                        reason="rolled back",
                    )
                    yield make(
                        StageLeaseReleased,
                        f"{change}:{stage}:release",
                        stage=stage,
                        change_id=change,
                    )
                    return
                yield make(
                    DatapointsReached,
                    f"{k}:dp1",
                    **where,
                    metric="CreateOrder.Requests",
                    required=100,
                    seen=250,
                )
                yield make(BakeCompleted, f"{k}:baked1", **where, phase="one-box")
                for batch, percent in ((1, 33.0), (2, 66.0), (3, 100.0)):
                    boxes = (f"{scope}-i{batch}a", f"{scope}-i{batch}b")
                    yield make(
                        BatchDeployed,
                        f"{k}:batch{batch}",
                        **where,
                        artifact=art,
                        batch=batch,
                        boxes=boxes,
                        fleet_percent_on_new=percent,
                        healthy_percent=100.0,
                    )
                    yield make(HealthCheckPassed, f"{k}:health{batch}", **where, boxes=boxes)
                yield make(
                    BakeStarted,
                    f"{k}:bake2",
                    **where,
                    phase="fleet",
                    duration_seconds=7200,
                    ends_at=clock + timedelta(hours=2),
                    metric="CreateOrder.Requests",
                    min_datapoints=100,
                )
                yield make(
                    DatapointsReached,
                    f"{k}:dp2",
                    **where,
                    metric="CreateOrder.Requests",
                    required=100,
                    seen=3000,
                )
                yield make(BakeCompleted, f"{k}:baked2", **where, phase="fleet")
            yield make(StageSucceeded, f"{change}:{stage}:succeeded", stage=stage, change_id=change)
            yield make(
                StageLeaseReleased, f"{change}:{stage}:release", stage=stage, change_id=change
            )
            previous = stage
        yield make(ChangeCompleted, f"{change}:completed", change_id=change)

    n = 1
    while True:
        for event in change_events(n):
            yield event
            if sequence >= total:
                return
        n += 1
