"""Fail closed, on the local runtime: when shipwave cannot tell that a change is safe, the
change waits or rolls back, and the reason is recorded (SPEC practice 18)."""

from __future__ import annotations

import io
from collections.abc import Callable

from rich.console import Console

from domain.events import (
    BatchDeployed,
    ChangeCompleted,
    ChangeSuperseded,
    OneBoxDeployed,
    ReviewHeld,
    ReviewPassed,
    StageLeaseAcquired,
)
from shipwave.render import status_view
from statemachines.local.runtime import LocalRuntime
from tests.e2e.conftest import SmallApp
from tests.e2e.test_scenarios import events, versions

Make = Callable[..., LocalRuntime]
PIPELINE = SmallApp.pipeline_id()
TERMINAL = (ChangeCompleted, ChangeSuperseded)


def rendered(runtime: LocalRuntime) -> str:
    """`shipwave status` as a person reads it."""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(status_view(runtime.log.state(PIPELINE)))
    return console.export_text()


# --- 1. the review gate --------------------------------------------------------------------


def test_an_unreviewed_commit_is_never_deployed_and_later_changes_wait_behind_it(
    make_runtime: Make,
) -> None:
    runtime = make_runtime(SmallApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    # Given a change whose only approval is its author's own
    first = runtime.merge(PIPELINE, "v1.1.0", author="ana", approved_by=("ana",))
    # and a later, reviewed change whose build contains that commit too
    runtime.run_for(600)
    second = runtime.merge(PIPELINE, "v1.2.0", author="bo", approved_by=("chen",))
    runtime.run_for(6 * 3600)

    # Then neither deployed anything anywhere, and both wait at source, recorded
    log = events(runtime, PIPELINE)
    assert not [e for e in log if isinstance(e, OneBoxDeployed | BatchDeployed)]
    assert not [e for e in log if isinstance(e, StageLeaseAcquired)]
    held = [e for e in log if isinstance(e, ReviewHeld)]
    assert {(e.change_id, e.commit_id, e.author) for e in held} == {
        (first, runtime.commit_id(first), "ana"),
        (second, runtime.commit_id(first), "ana"),
    }
    assert all("only by its author" in e.reason for e in held)
    state = runtime.log.state(PIPELINE)
    assert {state.changes[c].status for c in (first, second)} == {"held-at-source"}
    assert versions(runtime, "create-order", "alpha", "us-east-1") == {"v1.0.0"}
    text = rendered(runtime)
    assert "code-review" in text
    assert "held-at-source" in text
    assert "Source · Wait for review" in runtime.states_entered(first)

    # When a team member approves the commit after the fact
    runtime.approve(PIPELINE, first, "bo")
    runtime.run()

    # Then the newest change goes on everywhere, the older one ends superseded at source
    log = events(runtime, PIPELINE)
    assert [e.change_id for e in log if isinstance(e, ReviewPassed)] == [second]
    (superseded,) = [e for e in log if isinstance(e, ChangeSuperseded)]
    assert (superseded.change_id, superseded.stage, superseded.superseded_by) == (
        first,
        "source",
        second,
    )
    assert runtime.executions[first].status == "SUCCEEDED"
    assert runtime.executions[second].status == "SUCCEEDED"
    assert {e.change_id for e in log if isinstance(e, TERMINAL)} == {first, second}
    assert versions(runtime, "create-order", "production", "eu-west-1/euw1-az1") == {"v1.2.0"}
    assert runtime.log.state(PIPELINE).change(second).riding_along == (first,)  # type: ignore[union-attr]


def test_an_approval_by_someone_outside_the_pipelines_reviewers_holds_the_change(
    make_runtime: Make,
) -> None:
    runtime = make_runtime(SmallApp)
    runtime.adopt(PIPELINE, "v1.0.0")
    change = runtime.merge(PIPELINE, "v1.1.0", author="ana", approved_by=("mallory", " "))
    runtime.run_for(3600)
    (held,) = [e for e in events(runtime, PIPELINE) if isinstance(e, ReviewHeld)]
    assert "mallory" in held.reason
    assert "reviewers" in held.reason
    assert runtime.log.state(PIPELINE).changes[change].status == "held-at-source"
    assert runtime.executions[change].status == "RUNNING"
