"""End-to-end runs on the local runtime, and the state coverage they add up to."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
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
from examples.reference import CreateOrderApp, OrdersTeamPipeline
from statemachines.generator import to_json
from statemachines.local.runtime import LocalRuntime

MONDAY_8AM = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
STATES_DIR = Path(__file__).parent.parent.parent / ".shipwave" / "e2e-states"
#: definition → states entered by any e2e test of this process (an xdist worker, or the run)
ENTERED: dict[str, set[str]] = {}


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
    """create-order's real code, built and served as CreateOrderApp's (no integration tests)."""

    service = "create-order"
    repository = "acme/create-order"
    build = CreateOrderApp.build
    canary = CreateOrderApp.canary


class SmallHistory(SmallTeam):
    service = "order-history"
    repository = "acme/order-history"


class ThinTraffic(SmallApp):
    kind = "configuration"
    datapoints = Datapoints(minimum=10**9, policy="extend", max_extensions=2)


#: for commands that take MODULE:ATTR (`--pipelines tests.e2e.conftest:SMALL_PIPELINES`)
SMALL_PIPELINES = (SmallApp,)


def one_box_baking(
    runtime: LocalRuntime,
    pipeline: str,
    stage: str,
    *,
    scope: str | None = None,
    change: str | None = None,
) -> Callable[[], bool]:
    """Whether a one-box of `stage` bakes (in `scope`, of `change`, when named): the steady
    hour a test can act in (rolling batches follow each other faster than it can look)."""

    def baking() -> bool:
        found = runtime.log.state(pipeline).stages.get(stage)
        return bool(
            found
            and any(
                s.activity == "baking one-box"
                and (scope is None or s.scope == scope)
                and (change is None or s.change_id == change)
                for s in found.scopes.values()
            )
        )

    return baking


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
            spec = runtime.specs[runtime.executions[change].pipeline_id]
            ENTERED.setdefault(to_json(spec), set()).update(runtime.states_entered(change))
        runtime.__exit__(None, None, None)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if ENTERED:
        STATES_DIR.mkdir(parents=True, exist_ok=True)
        (STATES_DIR / f"{os.getpid()}.json").write_text(
            json.dumps({k: sorted(v) for k, v in ENTERED.items()})
        )


@pytest.fixture
def baking_at_gamma(make_runtime: Callable[..., LocalRuntime]) -> tuple[LocalRuntime, str]:
    """SmallApp with a change in flight, baking at gamma: (runtime, change)."""
    runtime = make_runtime(SmallApp)
    pipeline = SmallApp.pipeline_id()
    runtime.adopt(pipeline, "v1.0.0")
    change = runtime.merge(pipeline, "v1.1.0")

    def baking() -> bool:
        stage = runtime.log.state(pipeline).stages.get("gamma")
        return bool(stage and any(s.activity == "baking" for s in stage.scopes.values()))

    runtime.run(until=baking, max_days=2)
    return runtime, change
