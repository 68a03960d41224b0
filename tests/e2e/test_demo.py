"""`make demo` as a person runs it: the six scenarios end as the README says."""

from __future__ import annotations

import hashlib
import io
import subprocess
from pathlib import Path

from rich.console import Console

from adapters.sqlite import SQLiteEventStore
from domain.events import (
    ArtifactBuilt,
    BuildFailed,
    ChangeReceived,
    ReviewHeld,
    ReviewPassed,
    StageLeaseAcquired,
)
from domain.state import project
from examples.reference import CreateOrderApp
from shipwave.demo import run_demo


def test_the_demo_runs_its_six_scenarios(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    console = Console(record=True, width=160, file=io.StringIO())

    run_demo(f"sqlite:///{path}", console, source_dir=tmp_path / "source")

    text = console.export_text()
    for title in (
        "1 + 2 ·",
        "3 · a bad change",
        "4 · fail closed",
        "5 · a slow burn",
        "6 · a failing build",
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
        "v1.4.0": "rolled-back",
        "v1.6.0": "build-failed",
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
    assert merges.count("|release v") == 8  # v1.0.0 (adopted) and the seven merges
