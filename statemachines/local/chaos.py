"""Chaos runs: small pipelines on the local runtime under injected faults, then the invariants
the event log must keep. `bench/chaos.py` runs hundreds; `tests/e2e/test_chaos.py` a few.

Faults, drawn at random per run (a seed makes a run's plan repeatable; the interleaving of the
interpreter's threads is not):

- a handler crashes before its work, or after it (the append is done, the answer lost);
- an invocation is delivered twice (every task, callback and event: at-least-once delivery);
- a store call is throttled (nothing written), or an append commits and its reply is lost;
- a read of the store fails;
- merges land at the same moment (concurrent executions on one pipeline);
- an alarm goes into ALARM at a random moment for a random while;
- an execution is killed (StopExecution).

Invariants, checked on the log and the fleet once every execution ended: no acknowledged event
lost, no event stored twice, an intact hash chain, no stage ever held by two changes, every
change in a terminal state, no scope left on a mix of versions after a rollback, no lease held
by an ended execution, no event left undelivered.
"""

from __future__ import annotations

import random
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from adapters.sqlite import SQLiteEventStore
from domain.chain import Chained
from domain.errors import EventStoreUnavailableError
from domain.events import (
    BatchDeployed,
    Event,
    OneBoxDeployed,
    RollbackCompleted,
    ScopeAdopted,
    StageLeaseAcquired,
    payload,
)
from domain.ports import EventStore
from domain.spec import BakeTimes, PipelineSpec, TimeWindow, Wave
from domain.state import PipelineState, evolve
from examples.reference import OrdersTeamPipeline
from service.engine import environment
from service.verify import verify
from statemachines.local.runtime import HandlerCrashedError, LocalRuntime

#: a Monday morning: the runs' virtual start
START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


class ChaosPipeline(OrdersTeamPipeline):
    """A small pipeline of the orders team: alpha, beta, one gamma region and two waves of
    three regions, always inside its window, an hour's bake after the later wave."""

    service = "chaos-orders"
    repository = "acme/chaos-orders"
    gamma: ClassVar[tuple[str, ...]] = ("us-east-1",)
    waves: ClassVar[tuple[Wave, ...]] = (
        Wave(regions=("af-south-1",)),
        Wave(regions=("eu-west-1", "us-west-2")),
    )
    window = TimeWindow(days=(0, 1, 2, 3, 4, 5, 6), start_hour=0, end_hour=24, skip_holidays=False)
    bake = BakeTimes(after_later_waves=3600)


def small_pipeline() -> PipelineSpec:
    return ChaosPipeline.spec()


#: a change has ended when it is in one of these
TERMINAL = frozenset(
    {
        "completed",
        "rolled-back",
        "failed",
        "superseded",
        "build-failed",
        "aborted",
        "timed-out",
        "rollback-failed",
    }
)


@dataclass(frozen=True)
class Rates:
    """How often each fault strikes (per invocation, per store call)."""

    crash_before: float = 0.03
    crash_after: float = 0.03
    duplicate: float = 0.10
    store_throttled: float = 0.02
    store_reply_lost: float = 0.02
    store_read_failed: float = 0.01


class Dice:
    """One random source for the threads of a run."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.faults: Counter[str] = Counter()

    def roll(self, rate: float, kind: str) -> bool:
        with self._lock:
            hit = self._random.random() < rate
            if hit:
                self.faults[kind] += 1
            return hit


class FlakyStore(EventStore):
    """An event store whose calls fail now and then, as a throttled or flaky DynamoDB would.

    Keeps every event an append acknowledged (returned) or committed before its reply was
    lost: each must be in the log at the end."""

    def __init__(self, inner: EventStore, dice: Dice, rates: Rates) -> None:
        self.inner = inner
        self.dice = dice
        self.rates = rates
        self.enabled = False
        self.acknowledged: list[Event] = []
        self._lock = threading.Lock()
        self._where = f"flaky {inner._where}"

    def append(self, events: Sequence[Event]) -> tuple[Event, ...]:
        if self.enabled and self.dice.roll(self.rates.store_throttled, "store throttled"):
            raise EventStoreUnavailableError(f"{self._where}: append throttled (injected)")
        stored = self.inner.append(events)
        with self._lock:
            self.acknowledged.extend(stored)
        if self.enabled and self.dice.roll(self.rates.store_reply_lost, "store reply lost"):
            raise EventStoreUnavailableError(
                f"{self._where}: the append's reply was lost (injected; it committed)"
            )
        return stored

    def read_chained(
        self, pipeline_id: str, after: int = 0, until: int | None = None
    ) -> Iterator[Chained]:
        if self.enabled and self.dice.roll(self.rates.store_read_failed, "store read failed"):
            raise EventStoreUnavailableError(f"{self._where}: read failed (injected)")
        return self.inner.read_chained(pipeline_id, after, until)

    def last_sequence(self, pipeline_id: str) -> int:
        return self.inner.last_sequence(pipeline_id)

    def pipelines(self) -> tuple[str, ...]:
        return self.inner.pipelines()

    def save_snapshot(self, state: PipelineState) -> None:
        self.inner.save_snapshot(state)

    def latest_snapshot(self, pipeline_id: str) -> PipelineState | None:
        return self.inner.latest_snapshot(pipeline_id)

    def _put_snapshot(self, pipeline_id: str, sequence: int, head: str, text: str) -> None:
        raise AssertionError("snapshots go to the inner store")

    def snapshot_at_or_before(self, pipeline_id: str, sequence: int) -> PipelineState | None:
        return self.inner.snapshot_at_or_before(pipeline_id, sequence)

    def _newest_snapshot(
        self, pipeline_id: str, *, at_or_before: int | None = None
    ) -> tuple[int, str | None, str | bytes] | None:
        raise AssertionError("snapshots come from the inner store")


class Faults:
    """Crashes and duplicate deliveries around each handler invocation."""

    def __init__(self, dice: Dice, rates: Rates) -> None:
        self.dice = dice
        self.rates = rates

    def before(self, module: str, payload: Mapping[str, Any]) -> None:
        if self.dice.roll(self.rates.crash_before, "crash before work"):
            raise HandlerCrashedError(f"shipwave-{module} crashed before its work (injected)")

    def duplicate(self, module: str, payload: Mapping[str, Any]) -> bool:
        return self.dice.roll(self.rates.duplicate, "delivered twice")

    def after(self, module: str, payload: Mapping[str, Any]) -> None:
        if self.dice.roll(self.rates.crash_after, "crash after work"):
            raise HandlerCrashedError(f"shipwave-{module} crashed after its work (injected)")


@dataclass
class RunReport:
    seed: int
    faults: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)  # change status → how many
    reasons: list[str] = field(default_factory=list)  # why each change that did not complete
    killed: set[str] = field(default_factory=set)  # changes whose execution was stopped
    events: int = 0
    violations: list[str] = field(default_factory=list)


def run(
    seed: int,
    spec: PipelineSpec,
    *,
    start: datetime = START,
    rates: Rates = Rates(),
    folder: Path | None = None,
) -> RunReport:
    """One randomized run of `spec` (a small pipeline) under faults, and its invariants."""
    plan = random.Random(seed)
    dice = Dice(seed)
    report = RunReport(seed)
    with tempfile.TemporaryDirectory(dir=folder) as work:
        store = FlakyStore(SQLiteEventStore(Path(work) / "events.db"), dice, rates)
        with LocalRuntime([spec], event_log=store, start=start, boxes_per_scope=4) as runtime:
            pipeline = spec.pipeline_id
            runtime.adopt(pipeline, "v1.0.0")
            actions = _plan(plan, spec)
            store.enabled = True
            runtime.faults = Faults(dice, rates)
            try:
                _drive(runtime, actions, plan, report)
                runtime.run(max_days=60)  # until no event waits to be delivered again either
            except Exception as error:  # the run itself broke: that is a finding too
                report.violations.append(f"the run stopped: {type(error).__name__}: {error}")
            finally:
                store.enabled = False
                runtime.faults = None
            report.violations += check(runtime, store, spec)
            report.faults.update(dice.faults)
            state = runtime.log.state(pipeline)
            for change in (*state.changes.values(), *state.finished):
                if change.change_id in report.killed:
                    # moto reports a stop inside a Map waiting on a callback as FAILED
                    # (States.Runtime), where Step Functions says ABORTED: either releases
                    report.outcomes["killed"] += 1
                elif change.status == "rolled-back":
                    cause = "on an alarm" if change.first_alarm else "on a fault"
                    report.outcomes[f"rolled back {cause}"] += 1
                else:
                    report.outcomes[change.status] += 1
                if change.status != "completed":
                    report.reasons.append(f"{change.change_id} {change.status}: {change.reason}")
            report.events = store.inner.last_sequence(pipeline)
        if isinstance(store.inner, SQLiteEventStore):
            store.inner.close()
    return report


@dataclass(frozen=True)
class _Action:
    at: float  # virtual seconds after the start
    kind: str  # "merge", "alarm", "clear", "kill"
    detail: tuple[str, ...] = ()


def _plan(plan: random.Random, spec: PipelineSpec) -> list[_Action]:
    """2-4 merges in the first two days (a pair of them at the same moment, now and then),
    0-3 alarms on the scopes' composites, 0-1 killed executions."""
    actions: list[_Action] = []
    merges = plan.randint(2, 4)
    moment = 0.0
    for n in range(merges):
        if n and plan.random() < 0.3:
            pass  # at the same moment as the one before: concurrent merges
        else:
            moment += plan.uniform(0, 12 * 3600)
        actions.append(_Action(moment, "merge", (f"v1.{n + 1}.0",)))
    scopes = list(spec.scopes())
    for _ in range(plan.randint(0, 3)):
        stage, scope = plan.choice(scopes)
        names = spec.alarm_names
        alarm = plan.choice((names.high_severity_composite, names.one_box_composite))
        at = plan.uniform(0, 2 * 86400)
        region = scope.split("/")[0]
        where = (alarm, region, environment(spec, stage))
        actions.append(_Action(at, "alarm", where))
        actions.append(_Action(at + plan.uniform(300, 4 * 3600), "clear", where))
    if plan.random() < 0.5:
        actions.append(_Action(plan.uniform(0, 2 * 86400), "kill"))
    return sorted(actions, key=lambda action: action.at)


def _drive(
    runtime: LocalRuntime, actions: list[_Action], plan: random.Random, report: RunReport
) -> None:
    pipeline = next(iter(runtime.specs))
    for action in actions:
        wait = action.at - runtime.clock.elapsed
        if wait > 0:
            runtime.run_for(wait)
        if action.kind == "merge":
            runtime.merge(pipeline, action.detail[0])
            report.faults["merge"] += 1
        elif action.kind == "alarm":
            name, region, env = action.detail
            runtime.cloudwatch.set_state(name, region, "ALARM", env)
            report.faults["alarm raised"] += 1
        elif action.kind == "clear":
            name, region, env = action.detail
            runtime.cloudwatch.set_state(name, region, None, env)
        else:
            running = [
                change
                for change, execution in runtime.refresh().items()
                if execution.status == "RUNNING"
            ]
            if running:
                victim = plan.choice(running)
                runtime.abort(victim, cause="killed (injected)")
                report.killed.add(victim)
                report.faults["execution killed"] += 1
    for name, region, env in {a.detail for a in actions if a.kind == "alarm"}:
        runtime.cloudwatch.set_state(name, region, None, env)


def check(runtime: LocalRuntime, store: FlakyStore, spec: PipelineSpec) -> list[str]:
    """The invariants, on the inner store (no fault injected) and the simulated fleet."""
    pipeline = spec.pipeline_id
    violations: list[str] = []
    verdict = verify(store.inner, pipeline)
    if not verdict.intact:
        return [f"the chain is broken: {verdict.problems[0]}"]
    events = list(store.inner.read(pipeline))
    if [e.sequence for e in events] != list(range(1, len(events) + 1)):
        violations.append("the log's sequences are not contiguous")
    keys = Counter(e.idempotency_key for e in events)
    violations += [f"event {key!r} stored {n} times" for key, n in keys.items() if n > 1]
    by_sequence = {e.sequence: e for e in events}
    for acked in store.acknowledged:
        if acked.pipeline_id != pipeline:
            continue
        found = by_sequence.get(acked.sequence)
        if found is None or payload(found) != payload(acked):
            violations.append(
                f"acknowledged {type(acked).__name__} {acked.idempotency_key!r} at sequence "
                f"{acked.sequence} is not in the log"
            )
    state = PipelineState(pipeline_id=pipeline)
    last_deploy: dict[tuple[str, str], Event] = {}
    for event in events:
        if isinstance(event, StageLeaseAcquired):
            holder = state.stages.get(event.stage)
            if holder is not None and holder.lease_holder not in (None, event.change_id):
                violations.append(
                    f"sequence {event.sequence}: {event.change_id} took stage {event.stage} "
                    f"held by {holder.lease_holder}"
                )
        if isinstance(event, OneBoxDeployed | BatchDeployed | RollbackCompleted | ScopeAdopted):
            last_deploy[(event.stage, event.scope)] = event
        state = evolve(state, event)
    for change in (*state.changes.values(), *state.finished):
        if change.status not in TERMINAL:
            violations.append(f"change {change.change_id} ended {change.status!r}")
    running = {
        change for change, execution in runtime.refresh().items() if execution.status == "RUNNING"
    }
    if running:
        violations.append(f"executions still running: {sorted(running)}")
    for stage in state.stages.values():
        if stage.lease_holder is None or stage.lease_holder in running:
            continue
        held_for_a_person = any(b.blocker == "rollback-failed" for b in stage.blocked)
        if not held_for_a_person:
            violations.append(
                f"stage {stage.stage} is held by {stage.lease_holder}, whose execution ended"
            )
    for (stage_name, scope), event in last_deploy.items():
        if not isinstance(event, RollbackCompleted):
            continue
        wanted = event.artifact.version if event.artifact else None
        boxes = runtime.fleet.boxes(spec.service, environment(spec, stage_name), scope)
        versions = sorted({str(box.version) for box in boxes})
        if versions != [str(wanted)]:
            violations.append(
                f"{stage_name} {scope} was rolled back to {wanted} but runs {', '.join(versions)}"
            )
    for letter in runtime.dead_letters:
        violations.append(f"{letter.function} never took an event: {letter.error}")
    if runtime.redeliveries:
        violations.append(f"{len(runtime.redeliveries)} events still waiting for delivery")
    return violations
