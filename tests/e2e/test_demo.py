"""`make demo` as a person runs it: the eight scenarios end as the README says."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from adapters.sqlite import SQLiteEventStore
from domain.events import (
    AlarmFired,
    ArtifactBuilt,
    BuildFailed,
    ChangeReceived,
    ChangeRetried,
    Event,
    IntegrationTestsFailed,
    IntegrationTestsPassed,
    ReviewHeld,
    ReviewPassed,
    RollbackCompleted,
    StageFailed,
    StageLeaseAcquired,
)
from domain.state import project
from examples.reference import CreateOrderApp
from shipwave.demo import run_demo


def test_the_demo_runs_its_eight_scenarios(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    console = Console(record=True, width=160, file=io.StringIO())

    run_demo(f"sqlite:///{path}", console, source_dir=tmp_path / "source")

    text = console.export_text()
    for title in (
        "1 + 2 ·",
        "3 · a bad change",
        "4 · fail closed",
        "5 · not the change's fault",
        "6 · a slow burn",
        "7 · a failing build",
        "8 · a failing integration test",
    ):
        assert title in text
    pipeline = CreateOrderApp.pipeline_id()
    log = list(SQLiteEventStore(path, create=False).read(pipeline))
    state = project(log)
    # each change is named after its merge commit; its commit's subject names the release
    release = {
        e.change_id: e.commits[-1].message.removeprefix("release ")
        for e in log
        if isinstance(e, ChangeReceived)
    }
    outcome = {release[c.change_id]: c.status for c in state.finished}
    assert outcome == {
        "v1.1.0": "completed",
        "v1.2.0": "superseded",
        "v1.2.1": "completed",
        "v1.3.0": "rolled-back",
        "v1.5.0": "completed",
        "v1.5.1": "completed",
        "v1.4.0": "rolled-back",
        "v1.6.0": "build-failed",
        "v1.7.0": "rolled-back",
    }
    by_release = {version: change for change, version in release.items()}
    (held,) = [e for e in log if isinstance(e, ReviewHeld)]
    assert (held.change_id, held.author) == (by_release["v1.5.0"], "dara")
    passed = [e for e in log if isinstance(e, ReviewPassed) and e.change_id == held.change_id]
    assert passed[0].at > held.at
    # every change that deployed was built from its commit: the zip's sha256 is recorded
    built = {e.change_id: e.artifact for e in log if isinstance(e, ArtifactBuilt)}
    assert {release[c] for c in built} == {
        "v1.1.0",
        "v1.2.0",
        "v1.2.1",
        "v1.3.0",
        "v1.4.0",
        "v1.5.0",
        "v1.5.1",
        "v1.7.0",
    }
    for change, artifact in built.items():
        assert artifact.version == release[change]
        key = artifact.uri.removeprefix("s3://")
        stored = tmp_path / "source" / ".shipwave" / "artifacts" / key
        assert artifact.checksum == "sha256:" + hashlib.sha256(stored.read_bytes()).hexdigest()
    (failed,) = [e for e in log if isinstance(e, BuildFailed)]
    assert (failed.change_id, failed.phase) == (by_release["v1.6.0"], "POST_BUILD")
    assert "unittest" in failed.reason
    assert not [
        e
        for e in log
        if getattr(e, "change_id", None) == failed.change_id and isinstance(e, StageLeaseAcquired)
    ]
    assert "Next: shipwave history" in text
    # every merge is a commit on main of the service's git repository; approvals are notes
    repository = tmp_path / "source" / CreateOrderApp.repository
    merges = subprocess.run(
        ["git", "-C", str(repository), "log", "--format=%an|%s|%N", "--notes=reviews", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "dara|release v1.5.0|Approved-by: dara" in merges.replace("\n", "")
    assert merges.count("|release v") == 10  # v1.0.0 (adopted) and the nine merges
    # the integration tests ran against alpha, beta and gamma of every change that got there,
    # and the one that takes orders of any size failed at alpha, naming the test
    passed_tests = [e for e in log if isinstance(e, IntegrationTestsPassed)]
    assert {e.stage for e in passed_tests} == {"alpha", "beta", "gamma"}
    (failed_tests,) = [e for e in log if isinstance(e, IntegrationTestsFailed)]
    assert (failed_tests.change_id, failed_tests.stage) == (by_release["v1.7.0"], "alpha")
    assert failed_tests.failed_tests == (
        "integration_tests.test_api.CreateOrderEndpointTest."
        "test_an_order_of_more_than_fifty_items_is_refused",
    )
    (stopped,) = [
        e for e in log if isinstance(e, StageFailed) and e.change_id == by_release["v1.7.0"]
    ]
    assert "test_an_order_of_more_than_fifty_items_is_refused" in stopped.reason
    rolled_back = [
        e for e in log if isinstance(e, RollbackCompleted) and e.change_id == by_release["v1.7.0"]
    ]
    assert [(e.stage, e.artifact.version if e.artifact else None) for e in rolled_back] == [
        ("alpha", "v1.4.0")  # what alpha last ran well (v1.4.0's boxes filled in wave 2)
    ]
    # what the boxes answered came from running each version's code: the bad version's bug
    # fails orders at gamma's one-box, the slow burn fills its buffer in a busy region's bake
    stages = {release[c.change_id]: c.stage for c in state.finished}
    assert (stages["v1.3.0"], stages["v1.4.0"]) == ("gamma", "wave2")

    def fired(version: str) -> str:
        change = by_release[version]
        return " ".join(
            e.reason for e in log if isinstance(e, AlarmFired) and e.change_id == change
        )

    assert "create-order-one-box-fault-rate: FaultRate" in fired("v1.3.0")
    assert "create-order-fault-rate: FaultRate" in fired("v1.4.0")
    assert "ana retries" in text
    assert_the_retry(log, by_release["v1.5.1"])
    assert_dora_keys(path, pipeline)


def assert_the_retry(log: list[Event], change: str) -> None:
    """The outage at gamma: the good change rolled back there, then retried by ana from
    gamma, deploying the same artifact (nothing rebuilt)."""
    (retried,) = [e for e in log if isinstance(e, ChangeRetried)]
    assert (retried.change_id, retried.from_stage, retried.by) == (change, "gamma", "local:ana")
    failed = [e.stage for e in log if isinstance(e, StageFailed) and e.change_id == change]
    assert failed == ["gamma"]
    fired = [e.reason for e in log if isinstance(e, AlarmFired) and e.change_id == change]
    assert fired == ["set by hand"]  # the sandbox's outage, not the change's code
    assert len([e for e in log if isinstance(e, ArtifactBuilt) and e.change_id == change]) == 1
    assert project(log).change(change).status == "completed"  # type: ignore[union-attr]


def assert_dora_keys(path: Path, pipeline: str) -> None:
    """DORA's four keys of the demo, from its log, as `shipwave metrics` prints them."""
    figures = subprocess.run(
        [
            sys.executable,
            "-m",
            "shipwave",
            "metrics",
            pipeline,
            "--since",
            "2026-11-01T00:00Z",
            "--json",
            "--event-log",
            f"sqlite:///{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    (keys,) = json.loads(figures.stdout)
    assert keys["deployments"] == 4  # v1.1.0, v1.2.1, v1.5.0, v1.5.1 reached every region
    assert keys["failed_changes"] == 1  # the slow burn, rolled back in wave 2; gamma's is none
    assert keys["change_failure_rate"] == 1 / keys["production_changes"]
    assert keys["lead_time"]["count"] == 4
    assert keys["time_to_restore"]["count"] >= 1
    # the simulated rollback takes no virtual time: alarm and rolled back share a minute
    assert 0 <= keys["time_to_restore"]["median"] < 3600
