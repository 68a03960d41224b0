"""`make demo` as a person runs it: the five scenarios end as the README says."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

from rich.console import Console

from adapters.sqlite import SQLiteEventStore
from domain.events import ReviewHeld, ReviewPassed
from domain.state import project
from examples.reference import CreateOrderApp
from shipwave.demo import run_demo


def test_the_demo_runs_its_five_scenarios(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    console = Console(record=True, width=160, file=io.StringIO())

    run_demo(f"sqlite:///{path}", console, source_dir=tmp_path / "source")

    text = console.export_text()
    for title in ("1 + 2 ·", "3 · a bad change", "4 · fail closed", "5 · a slow burn"):
        assert title in text
    pipeline = CreateOrderApp.pipeline_id()
    log = list(SQLiteEventStore(path, create=False).read(pipeline))
    state = project(log)
    outcome = {c.change_id: c.status for c in state.finished}
    assert outcome == {
        "chg-v1-1-0": "completed",
        "chg-v1-2-0": "superseded",
        "chg-v1-2-1": "completed",
        "chg-v1-3-0": "rolled-back",
        "chg-v1-5-0": "completed",
        "chg-v1-4-0": "rolled-back",
    }
    (held,) = [e for e in log if isinstance(e, ReviewHeld)]
    assert (held.change_id, held.author) == ("chg-v1-5-0", "dara")
    passed = [e for e in log if isinstance(e, ReviewPassed) and e.change_id == "chg-v1-5-0"]
    assert passed[0].at > held.at
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
    assert merges.count("|release v") == 6
