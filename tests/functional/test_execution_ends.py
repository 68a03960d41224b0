"""The execution-end handler fed the event shape Step Functions publishes (tests/fixtures/aws,
from the AWS documentation), over the local runtime's real services."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from adapters.sqlite import SQLiteEventStore
from domain.events import ExecutionEnded, StageLeaseAcquired
from handlers import executions
from service.engine import UnknownPipelineError
from statemachines.local.runtime import LambdaContextStandIn, LocalRuntime
from tests.e2e.conftest import MONDAY_8AM, SmallApp

FIXTURES = Path(__file__).parent.parent / "fixtures" / "aws"
PIPELINE = SmallApp.pipeline_id()


def published(status: str, pipeline: str, change: str) -> dict[str, Any]:
    text = (FIXTURES / f"sfn-execution-status-change-{status}.json").read_text()
    return json.loads(text.replace("PIPELINE", pipeline).replace("CHANGE", change))  # type: ignore[no-any-return]


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    return executions.handler(event, LambdaContextStandIn("shipwave-executions", "req-1"))  # type: ignore[arg-type]


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[LocalRuntime]:
    with LocalRuntime(
        [SmallApp.spec()], event_log=SQLiteEventStore(tmp_path / "e.db"), start=MONDAY_8AM
    ) as local:
        local.adopt(PIPELINE, "v1.0.0")
        yield local


def holding_alpha(runtime: LocalRuntime) -> tuple[str, str]:
    first = runtime.merge(PIPELINE, "v1.1.0")
    runtime.run(until=lambda: runtime.log.state(PIPELINE).stages["alpha"].lease_holder == first)
    second = runtime.merge(PIPELINE, "v1.2.0")
    # reviewed, built (its build's end arrives a tick later), then waiting for alpha
    runtime.run(
        until=lambda: any(
            w.change_id == second for w in runtime.log.state(PIPELINE).stages["alpha"].waiting
        )
    )
    return first, second


@pytest.mark.parametrize(
    ("status", "recorded"),
    [("aborted", "ABORTED"), ("timed-out", "TIMED_OUT"), ("failed", "FAILED")],
)
def test_a_published_end_event_releases_the_changes_stage(
    runtime: LocalRuntime, status: str, recorded: str
) -> None:
    first, second = holding_alpha(runtime)
    assert runtime.log.state(PIPELINE).stages["alpha"].lease_holder == first

    answer = invoke(published(status, PIPELINE, first))

    assert answer["recorded"] is True
    log = list(runtime.store.read(PIPELINE))
    (end,) = [e for e in log if isinstance(e, ExecutionEnded)]
    assert (end.change_id, end.status) == (first, recorded)
    assert end.execution.endswith(f":execution:shipwave-{PIPELINE}:{first}")
    assert runtime.log.state(PIPELINE).stages["alpha"].lease_holder == second
    assert [e.change_id for e in log if isinstance(e, StageLeaseAcquired)][-1] == second
    invoke(published(status, PIPELINE, first))  # EventBridge delivers at least once
    after = list(runtime.store.read(PIPELINE))
    assert len([e for e in after if isinstance(e, ExecutionEnded)]) == 1


def test_a_succeeded_execution_needs_nothing(runtime: LocalRuntime) -> None:
    first, _ = holding_alpha(runtime)
    before = runtime.store.last_sequence(PIPELINE)
    assert invoke(published("succeeded", PIPELINE, first))["recorded"] is False
    assert runtime.store.last_sequence(PIPELINE) == before


def test_bad_end_events_are_refused_and_write_nothing(runtime: LocalRuntime) -> None:
    first, _ = holding_alpha(runtime)
    before = runtime.store.last_sequence(PIPELINE)
    no_input = published("aborted", PIPELINE, first)
    no_input["detail"]["input"] = None
    with pytest.raises(executions.ExecutionEventError, match="names no pipeline"):
        invoke(no_input)
    with pytest.raises(UnknownPipelineError, match="ghost-application"):
        invoke(published("aborted", "ghost-application", first))
    wrong_source = published("aborted", PIPELINE, first)
    wrong_source["source"] = "aws.codebuild"
    with pytest.raises(ValidationError):
        invoke(wrong_source)
    assert runtime.store.last_sequence(PIPELINE) == before
