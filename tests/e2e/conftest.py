"""End-to-end runs on the local runtime, and the state coverage they add up to."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.sqlite import SQLiteEventStore
from domain.spec import (
    BakeTimes,
    Datapoints,
    Pipeline,
    PipelineSpec,
    TimeWindow,
    Wave,
)
from examples.reference import CreateOrderApp, OrderHistoryApp, OrdersTeamPipeline
from statemachines.generator import SEP, definition
from statemachines.local.runtime import LocalRuntime

MONDAY_8AM = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
COVERAGE_FILE = Path(__file__).parent.parent.parent / ".shipwave" / "e2e-state-coverage.json"
ENTERED: dict[str, set[str]] = {}  # pipeline spec id → states entered by any e2e test


class SmallTeam(OrdersTeamPipeline):
    """A quick pipeline for behaviours that need no 24-region run: always-open window."""

    gamma = ("us-east-1",)
    waves = (
        Wave(regions=("af-south-1",)),
        Wave(regions=("eu-west-1", "us-west-2")),
    )
    window = TimeWindow(days=(0, 1, 2, 3, 4, 5, 6), start_hour=0, end_hour=24, skip_holidays=False)
    bake = BakeTimes(after_later_waves=3600)


class SmallApp(SmallTeam):
    service = "create-order"
    repository = "acme/create-order"


class SmallHistory(SmallTeam):
    service = "order-history"
    repository = "acme/order-history"


class ThinTraffic(SmallApp):
    kind = "configuration"
    datapoints = Datapoints(minimum=10**9, policy="extend", max_extensions=2)


def specs(*pipelines: type[Pipeline]) -> list[PipelineSpec]:
    return [pipeline.spec() for pipeline in pipelines]


@pytest.fixture
def make_runtime(tmp_path: Path) -> Iterator[object]:
    runtimes: list[LocalRuntime] = []

    def make(*pipelines: type[Pipeline], start: datetime = MONDAY_8AM) -> LocalRuntime:
        runtime = LocalRuntime(
            specs(*pipelines), event_log=SQLiteEventStore(tmp_path / "events.db"), start=start
        )
        runtime.__enter__()
        runtimes.append(runtime)
        return runtime

    yield make
    for runtime in runtimes:
        for change in runtime.executions:
            pipeline = runtime.executions[change].pipeline_id
            ENTERED.setdefault(pipeline, set()).update(runtime.states_entered(change))
        runtime.__exit__(None, None, None)


def state_coverage(spec: PipelineSpec, entered: set[str]) -> tuple[int, int, set[str]]:
    """(entered, total, kinds never entered) for a pipeline's state machine. A kind is a state
    name without its stage and step ("Deploy", "Roll back", "Wait for window", ...)."""
    names: set[str] = set()

    def walk(states: dict[str, object]) -> None:
        for name, state in states.items():
            names.add(name)
            if isinstance(state, dict) and state.get("Type") == "Map":
                walk(state["ItemProcessor"]["States"])

    walk(definition(spec)["States"])
    kinds = {name.split(SEP)[-1] for name in names}
    seen_kinds = {name.split(SEP)[-1] for name in entered & names}
    return len(entered & names), len(names), kinds - seen_kinds


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not ENTERED:
        return
    COVERAGE_FILE.parent.mkdir(exist_ok=True)
    COVERAGE_FILE.write_text(json.dumps({k: sorted(v) for k, v in ENTERED.items()}, indent=1))
    spec = CreateOrderApp.spec()
    entered, total, missing = state_coverage(spec, ENTERED.get(spec.pipeline_id, set()))
    terminalreporter.write_line(
        f"e2e state coverage of {spec.pipeline_id}: {entered}/{total} states entered "
        f"({100 * entered / total:.0f} %); state kinds never entered: "
        f"{', '.join(sorted(missing)) or 'none'}"
    )


__all__ = ["MONDAY_8AM", "OrderHistoryApp", "SmallApp", "SmallHistory", "ThinTraffic"]
