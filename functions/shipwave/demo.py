"""`shipwave demo`: the reference pipeline on the local runtime, eight scenarios.

Every change is a merge on `main` of the example service's git repository
(examples/create_order_service): reviewed from its git notes, then built by the pipeline's
build commands in a subprocess on a checkout of the commit (unit tests with no network), its
zip's sha256 recorded, then deployed. After alpha, beta and gamma deployed, the service's
integration tests run against a loopback endpoint serving the very artifact deployed there.

1. A good change reaches all 24 regions (one-box, rolling, bakes, windows, waves).
2. Two changes merged minutes apart wait behind it: the newer takes the stage, the older is
   superseded and its commits ride along (the conveyor).
3. A bad change (its version raises the fault rate) is rolled back at the first one-box.
4. Fail closed: a commit approved only by its author waits at source, deploying nothing,
   until a member of the team approves it after the fact; then it goes everywhere.
5. An alarm that is not the change's doing (gamma's payment sandbox is down) rolls a good
   change back at gamma; once it is back, a person retries the change: a new execution
   from gamma, not from the review or the build, carries it everywhere.
6. A slow-burn change is rolled back during a bake, hours in.
7. A change whose code breaks a unit test fails its build: nothing of it deploys.
8. A change whose bug no unit test sees (it takes orders of any size) fails an integration
   test at alpha, which rolls back, naming the test.

Everything runs through the generated state machine, the real handlers and the event log;
time is virtual, the fleet and CloudWatch are simulated.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from adapters.dynamodb import DynamoDBEventStore
from adapters.sqlite import SQLiteEventStore
from domain.describe import describe
from domain.events import (
    AlarmFired,
    ArtifactBuilt,
    BlockerHit,
    BuildFailed,
    ChangeCompleted,
    ChangeSuperseded,
    Event,
    IntegrationTestsFailed,
    IntegrationTestsPassed,
    PersonPaged,
    ReviewHeld,
    ReviewPassed,
    RollbackCompleted,
    StageFailed,
    StageSucceeded,
)
from domain.identity import local_user
from domain.ports import EventStore
from domain.state import ChangeState, PipelineState
from examples import changes as edits
from examples.reference import CreateOrderApp
from service.pipeline_log import PipelineLog
from shipwave.render import status_view
from statemachines.local.runtime import LocalRuntime

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # a Monday morning
_SHOWN = (
    ArtifactBuilt,
    BuildFailed,
    IntegrationTestsPassed,
    IntegrationTestsFailed,
    StageSucceeded,
    StageFailed,
    ChangeSuperseded,
    ChangeCompleted,
    AlarmFired,
    RollbackCompleted,
    BlockerHit,
    ReviewHeld,
    ReviewPassed,
    PersonPaged,
)


@dataclass
class Progress:
    """Prints the transitions that matter, with virtual and wall time, as they are recorded."""

    console: Console
    log: PipelineLog
    pipeline_id: str
    clock: Callable[[], datetime]
    started: float = field(default_factory=time.monotonic)
    seen: int = 0
    rollbacks: int = 0
    windows: set[tuple[str, str]] = field(default_factory=set)  # (change, stage) shown

    def __call__(self, previous: datetime, now: datetime) -> None:
        if self.log.store.last_sequence(self.pipeline_id) <= self.seen:
            return
        for event in self.log.store.read(self.pipeline_id, after=self.seen):
            self.seen = event.sequence
            if isinstance(event, RollbackCompleted):
                self.rollbacks += 1
                if self.rollbacks > 3:
                    continue
            if isinstance(event, BlockerHit) and event.blocker.startswith("time-window"):
                if (event.change_id, event.stage) in self.windows:
                    continue  # one line per stage: the other regions wait the same way
                self.windows.add((event.change_id, event.stage))
            if isinstance(event, _SHOWN):
                self._line(event)

    def _line(self, event: Event) -> None:
        wall = time.monotonic() - self.started
        style = (
            "red"
            if isinstance(
                event,
                StageFailed
                | AlarmFired
                | RollbackCompleted
                | PersonPaged
                | BuildFailed
                | IntegrationTestsFailed,
            )
            else ("green" if isinstance(event, ChangeCompleted) else "")
        )
        change = getattr(event, "change_id", "") or ""
        self.console.print(
            f"  [dim]{event.at:%a %d %H:%M} (wall {wall:5.1f} s)[/dim] "
            f"[bold]{change:<16}[/bold] [{style}]{describe(event)}[/{style}]"
            if style
            else f"  [dim]{event.at:%a %d %H:%M} (wall {wall:5.1f} s)[/dim] "
            f"[bold]{change:<16}[/bold] {describe(event)}",
            highlight=False,
        )


def open_demo_store(event_log: str) -> tuple[Callable[[], EventStore], str]:
    """The demo's event log: a fresh SQLite file (an old one is kept aside, never deleted),
    or `dynamodb`: moto's DynamoDB through the AWS adapter."""
    if event_log == "dynamodb" or event_log.startswith("dynamodb://"):
        table = event_log.removeprefix("dynamodb://").split("?")[0] or "shipwave-events"
        if table == "dynamodb":
            table = "shipwave-events"
        return (lambda: DynamoDBEventStore(table, region="us-east-1")), f"dynamodb://{table} (moto)"
    path = Path(event_log.removeprefix("sqlite:///"))
    if path.exists():
        kept = path.with_name(f"{path.stem}-{int(time.time())}{path.suffix}")
        path.rename(kept)
        for suffix in ("-wal", "-shm", "-outbox"):  # its outbox goes aside with it
            side = path.with_name(path.name + suffix)
            if side.exists():
                side.rename(kept.with_name(kept.name + suffix))
    return (lambda: SQLiteEventStore(path)), event_log


#: the demo's git repositories (the service's merges and their review notes), kept after it
DEMO_SOURCE = Path(".shipwave/source")


def fresh_source_dir(path: Path = DEMO_SOURCE) -> Path:
    """An empty folder for the demo's repositories; an earlier run's is kept aside."""
    if path.exists():
        path.rename(path.with_name(f"{path.name}-{int(time.time())}"))
    path.mkdir(parents=True)
    return path


def run_demo(event_log: str, console: Console, source_dir: Path = DEMO_SOURCE) -> None:
    spec = CreateOrderApp.spec()
    pipeline = spec.pipeline_id
    store_factory, where = open_demo_store(event_log)
    source = fresh_source_dir(source_dir)
    console.rule(f"[bold]shipwave demo: {pipeline} on the local runtime")
    console.print(
        f"{len(spec.regions)} regions, {len(spec.scopes())} scopes, {len(spec.stages)} stages; "
        "virtual time starts Mon 23 Nov 08:00 UTC; fleet and CloudWatch are simulated."
    )
    wall_start = time.monotonic()
    with LocalRuntime([spec], event_log=store_factory, start=START, source_dir=source) as runtime:
        progress = Progress(console, runtime.log, pipeline, runtime.clock.now)
        runtime.clock.on_tick(progress)
        runtime.adopt(pipeline, "v1.0.0")
        progress.seen = runtime.store.last_sequence(pipeline)

        def settle() -> None:
            """Run until every execution ended, then print what is left to print."""
            runtime.run()
            progress(runtime.clock.now(), runtime.clock.now())

        console.rule("1 + 2 · a good change everywhere; two more merged minutes apart")
        good = runtime.merge(pipeline, "v1.1.0")

        runtime.run(until=lambda: _in_wave1_bake(runtime.log.state(pipeline)))
        older = runtime.merge(pipeline, "v1.2.0")
        runtime.run_for(300)
        newer = runtime.merge(pipeline, "v1.2.1")
        settle()

        console.rule("3 · a bad change: bulk discounts whose code fails orders of 30+ units")
        bad = runtime.merge(pipeline, "v1.3.0", files={"src/orders.py": edits.bulk_discounts()})
        settle()

        console.rule("4 · fail closed: a commit approved only by its author waits at source")
        held = runtime.merge(
            pipeline,
            "v1.5.0",
            author="dara",
            approved_by=("dara",),
            files={"src/orders.py": edits.code()},
        )
        runtime.run_for(6 * 3600)
        waiting = runtime.log.state(pipeline).changes[held]
        console.print(
            f"  after 6 h: [bold]{held}[/bold] is {waiting.status}, nothing of it deployed; "
            f"{waiting.reason}",
            highlight=False,
        )
        console.print("  [bold]ana[/bold] (a team reviewer) approves the commit after the fact")
        runtime.approve(pipeline, held, "ana")
        settle()

        console.rule("5 · not the change's fault: gamma's payment sandbox fails, then a retry")
        fixed = _retried_after_an_outage(runtime, console, settle)

        console.rule("6 · a slow burn: a buffer of recent orders that each box fills, then fails")
        progress.rollbacks = 0
        slow = runtime.merge(pipeline, "v1.4.0", files={"src/orders.py": edits.slow_burn()})
        settle()

        console.rule("7 · a failing build: the change's code breaks a unit test")
        broken = runtime.merge(pipeline, "v1.6.0", files={"src/orders.py": edits.unit_price_bug()})
        settle()

        console.rule("8 · a failing integration test: the fix takes orders of any size")
        unbounded = runtime.merge(
            pipeline, "v1.7.0", files={"src/orders.py": edits.no_item_limit()}
        )
        settle()

        changes = [good, older, newer, bad, held, fixed, slow, broken, unbounded]
        _summary(console, runtime, changes, where=where, bad=bad, wall_start=wall_start)


def _retried_after_an_outage(
    runtime: LocalRuntime, console: Console, settle: Callable[[], None]
) -> str:
    """Scenario 5: a good change rolled back at gamma by an outage of what gamma calls, then
    retried by a person once it is back; returns the change."""
    spec = CreateOrderApp.spec()
    pipeline = spec.pipeline_id
    fixed = runtime.merge(pipeline, "v1.5.1", files={"src/orders.py": edits.code()})
    runtime.run(until=lambda: _in_gamma_one_box_bake(runtime.log.state(pipeline), fixed))
    one_box = spec.alarm_names.one_box_composite
    console.print(
        f"  the payment sandbox gamma calls goes down: [bold]{one_box}[/bold] fires in "
        f"{GAMMA_REGION} while {fixed} bakes there",
        highlight=False,
    )
    runtime.cloudwatch.set_state(one_box, GAMMA_REGION, "ALARM", "gamma")
    settle()
    runtime.cloudwatch.set_state(one_box, GAMMA_REGION, None, "gamma")
    runtime.wait(1800)
    retried = runtime.operations.retry(
        local_user("ana"), pipeline, fixed, "gamma's payment sandbox was down (not this change)"
    )
    console.print(
        f"  30 min later the sandbox is back; [bold]ana[/bold] retries {fixed}: run "
        f"{retried['attempt']} from {retried['from']}, a new execution",
        highlight=False,
    )
    settle()
    return fixed


#: the gamma region whose one-box scenario 5's outage hits
GAMMA_REGION = "us-east-1"


def _in_gamma_one_box_bake(state: PipelineState, change: str) -> bool:
    stage = state.stages.get("gamma")
    scope = stage.scopes.get(GAMMA_REGION) if stage else None
    return bool(scope and scope.change_id == change and scope.activity == "baking one-box")


def _in_wave1_bake(state: PipelineState) -> bool:
    stage = state.stages.get("wave1")
    return bool(
        stage
        and any(s.activity == "baking" and s.scope == "af-south-1" for s in stage.scopes.values())
    )


def _summary(
    console: Console,
    runtime: LocalRuntime,
    changes: list[str],
    *,
    where: str,
    bad: str,
    wall_start: float,
) -> None:
    """What happened to each change, the builds and test runs, and where to look next."""
    results = runtime.refresh()
    pipeline = runtime.executions[changes[0]].pipeline_id
    state = runtime.log.state(pipeline)
    console.rule("outcome")
    console.print(_outcome(state, changes, results, runtime))
    console.print(_builds(runtime))
    console.print(_test_runs(runtime))
    console.print(_traffic(runtime), highlight=False)
    repository = runtime.repositories[runtime.specs[pipeline].repository].path
    console.print(
        f"people paged: {len(runtime.outbox.sent)}"
        + "".join(f"\n  PAGED: {page.subject}" for page in runtime.outbox.sent)
    )
    console.print(
        f"notifications published: {runtime.notifications.published:,} "
        f"(every recorded transition, as the notify function puts them on EventBridge; "
        f"{'the log' + chr(39) + 's outbox' if where.startswith('sqlite') else 'EventBridge'}"
        f"), failed and tried again: {runtime.notification_failures}",
        highlight=False,
    )
    console.print(
        f"virtual time {runtime.clock.now() - START} · wall time "
        f"{time.monotonic() - wall_start:.1f} s"
    )
    console.print(status_view(state))
    console.print(
        f"\nSource: [bold]git -C {repository} log --notes=reviews[/bold] "
        "(each merge a commit on main, each approval a review note)"
        f"\nEvent log: [bold]{where}[/bold]"
        + (
            f"\nNext: [bold]shipwave history {pipeline} --change {bad}[/bold] or "
            f"[bold]shipwave status {pipeline}[/bold]"
            "\nSee it in a browser: [bold].venv/bin/shipwave dashboard[/bold] "
            "(then open http://127.0.0.1:8321/), or write it to one file: "
            "[bold].venv/bin/shipwave report --html .shipwave/report.html[/bold]"
            if where.startswith("sqlite")
            else "\n(moto's DynamoDB lives only for this run)"
        )
    )


def _builds(runtime: LocalRuntime) -> str:
    """How many builds ran, the wall time they took, and whether the tests had no network."""
    builds = list(runtime.builder.builds.values())
    isolated = all(b.network_isolated for b in builds)
    return (
        f"builds: {len(builds)} in subprocesses, {sum(b.seconds for b in builds):.1f} s of "
        "wall time; unit tests "
        + (
            "with no network (a new network namespace)"
            if isolated
            else "WITH the network: this OS refuses unshare --net"
        )
    )


def _traffic(runtime: LocalRuntime) -> str:
    """What each version's code did to the customers its reference box served."""
    taken = runtime.traffic.taken
    lines = [
        f"customer traffic: {len(taken)} versions' code each served "
        f"{max((p.requests_served for p in taken.values()), default=0):,} customer requests in "
        f"a reference box, {sum(p.seconds for p in taken.values()):.1f} s of wall time"
    ]
    lines += [
        f"  {name}: {profile.summary()}" for name, profile in taken.items() if any(profile.faults)
    ]
    return "\n".join(lines)


def _test_runs(runtime: LocalRuntime) -> str:
    """How many integration test runs, against which stages, their wall time and failures."""
    runs = list(runtime.integration.runs.values())
    stages = Counter(run.stage for run in runs)
    failed = [
        f"{run.stage}: {', '.join(run.failed) or run.reason}"
        for run in runs
        if run.failed or run.status != "SUCCEEDED"
    ]
    return (
        f"integration test runs: {len(runs)} ("
        + ", ".join(f"{stage} {count}" for stage, count in stages.items())
        + f"), {sum(r.tests for r in runs)} tests against loopback endpoints serving each "
        f"stage's artifact, {sum(r.seconds for r in runs):.1f} s of wall time"
        + "".join(f"\n  FAILED at {line}" for line in failed)
    )


def _outcome(
    state: PipelineState,
    changes: list[str],
    results: dict[str, object] | object,
    runtime: LocalRuntime,
) -> Table:
    table = Table(title="What happened to each change", title_justify="left")
    for column in ("Change", "Version", "Execution", "Outcome", "Stage", "Why"):
        table.add_column(column)
    for change_id in changes:
        change = state.change(change_id)
        execution = runtime.executions.get(change_id)
        table.add_row(
            change_id,
            change.artifact.version if change and change.artifact else "-",
            execution.status if execution else "-",
            change.status if change else "-",
            _where(change) if change else "-",
            (
                change.reason
                or (f"superseded by {change.superseded_by}" if change.superseded_by else "")
            )
            if change
            else "",
        )
    return table


def _where(change: ChangeState) -> str:
    if change.stage:
        return change.stage
    return "build" if change.status == "build-failed" else "everywhere"
