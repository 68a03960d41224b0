"""Simulations for local runs: a fleet of boxes and a CloudWatch that watches it.

They stand in for AWS only on the local runtime, behind the same ports the real adapters
implement (`DeployTarget`, `AlarmReader`, `ArtifactStore`). They are deterministic: traffic
and faults are expected values per minute, so a scenario gives the same result every run.

- `SimulatedFleet`: boxes per AZ/cell (or per region for pre-production), each running a
  version. One-box puts the artifact on one box beside the old ones; rolling batches replace
  the rest; rollback returns every box to the known-good artifact. It records the most boxes
  each version ever ran on, per scope, so tests can prove a bad version never left its one-box.
- `SimulatedCloudWatch`: every virtual minute each scope serves requests (by the region's
  traffic class) and fails the share its versions' fault rates say. Alpha and beta serve only
  integration tests (datapoints, no customer-fault alarms); gamma mirrors production. Per
  service and region it evaluates the fault-rate alarm (from the pipeline's high-severity
  set: threshold, periods, datapoints to alarm) on the whole fleet and on one-box boxes alone,
  derives the composites (service high-severity, service one-box, team aggregate), keeps the
  alarm history and delivers each OK→ALARM change to a listener, as EventBridge delivers it to
  the controller.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain.catalogue import DEFAULT_CATALOGUE, Catalogue
from domain.errors import DeployTargetError
from domain.events import Artifact
from domain.ports import AlarmReader, ArtifactStore, DeployResult, DeployTarget
from domain.rollout import batch_size, healthy_percent, one_box_traffic_percent
from domain.spec import Datapoints, PipelineSpec, Rolling

REQUESTS_PER_MINUTE = {"high": 600.0, "low": 30.0}
#: alpha and beta serve integration tests, not customers: their traffic counts as datapoints,
#: but faults that only customer traffic reveals raise no alarm there (gamma mirrors production)
INTEGRATION_TEST_ENVIRONMENTS = frozenset({"alpha", "beta"})
INTEGRATION_TEST_REQUESTS_PER_MINUTE = 20.0


@dataclass(frozen=True)
class Behaviour:
    """How a version behaves once deployed."""

    fault_rate: float = 0.001
    #: a slow burn: after this many hours on a box, the box fails at `burn_fault_rate`
    burns_after_hours: float | None = None
    burn_fault_rate: float = 0.05
    healthy: bool = True  # False: new boxes fail their health checks
    #: boxes replaced in this rolling batch (and later ones) fail their health checks
    unhealthy_from_batch: int | None = None

    def faults(self, age: timedelta) -> float:
        if self.burns_after_hours is not None and age >= timedelta(hours=self.burns_after_hours):
            return self.burn_fault_rate
        return self.fault_rate


@dataclass
class Box:
    name: str
    version: str | None
    one_box: bool = False
    since: datetime | None = None


class SimulatedArtifactStore(ArtifactStore):
    """Build outputs by version: bytes and their sha256, verifiable at rollback time."""

    def __init__(self) -> None:
        self._bytes: dict[str, bytes] = {}

    def build(self, service: str, version: str) -> Artifact:
        content = f"{service} {version}\n".encode() * 64
        self._bytes[version] = content
        digest = hashlib.sha256(content).hexdigest()
        return Artifact(
            version=version,
            checksum=f"sha256:{digest}",
            uri=f"sim://artifacts/{service}/{version}.zip",
        )

    def corrupt(self, version: str) -> None:
        """Damage stored bytes, so a rollback to this version fails its checksum check."""
        self._bytes[version] = b"corrupted"

    def verify(self, artifact: Artifact) -> bool:
        content = self._bytes.get(artifact.version)
        if content is None:
            return False
        return f"sha256:{hashlib.sha256(content).hexdigest()}" == artifact.checksum


class SimulatedFleet:
    """Every service's boxes, by scope. `target(spec)` gives the DeployTarget of a pipeline."""

    def __init__(self, clock: Callable[[], datetime], *, boxes_per_scope: int = 12) -> None:
        self.clock = clock
        self.boxes_per_scope = boxes_per_scope
        self.behaviours: dict[str, Behaviour] = {}
        self._lock = threading.RLock()
        self._boxes: dict[tuple[str, str, str], list[Box]] = {}  # (service, environment, scope)
        #: the most boxes each version ran on: (service, environment, scope, version) → count
        self.peak_boxes: dict[tuple[str, str, str, str], int] = defaultdict(int)
        self.broken_targets: set[str] = set()  # services whose rollbacks fail
        #: moves on whenever any box changes version or role (caches key on it)
        self.generation = 0

    def seed(self, service: str, scopes: Sequence[tuple[str, str]], version: str | None) -> None:
        """Boxes of (environment, scope) that already run `version` (None: nothing yet)."""
        with self._lock:
            self.generation += 1
            for environment, scope in scopes:
                self._boxes[(service, environment, scope)] = [
                    Box(name=f"{scope}/box-{n:02d}", version=version, since=self.clock())
                    for n in range(1, self.boxes_per_scope + 1)
                ]

    def boxes(self, service: str, environment: str, scope: str) -> list[Box]:
        with self._lock:
            key = (service, environment, scope)
            if key not in self._boxes:
                self._boxes[key] = [
                    Box(name=f"{scope}/box-{n:02d}", version=None)
                    for n in range(1, self.boxes_per_scope + 1)
                ]
            return self._boxes[key]

    def target(self, spec: PipelineSpec) -> DeployTarget:
        return _FleetTarget(self, spec.service)

    def _set(
        self,
        service: str,
        environment: str,
        scope: str,
        boxes: list[Box],
        version: str | None,
        *,
        one_box: bool,
    ) -> None:
        now = self.clock()
        self.generation += 1
        for box in boxes:
            if box.version != version:
                box.version, box.since = version, now
            box.one_box = one_box
        counts: dict[str | None, int] = defaultdict(int)
        for box in self.boxes(service, environment, scope):
            counts[box.version] += 1
        for ver, count in counts.items():
            if ver is not None:
                key = (service, environment, scope, ver)
                self.peak_boxes[key] = max(self.peak_boxes[key], count)


class _FleetTarget(DeployTarget):
    def __init__(self, fleet: SimulatedFleet, service: str) -> None:
        self.fleet = fleet
        self.service = service

    def _result(
        self,
        environment: str,
        scope: str,
        version: str | None,
        changed: list[Box],
        batch: int = 0,
    ) -> DeployResult:
        boxes = self.fleet.boxes(self.service, environment, scope)
        on_new = sum(1 for b in boxes if b.version == version)
        behaviour = self.fleet.behaviours.get(version or "", Behaviour())
        failing_batch = (
            behaviour.unhealthy_from_batch is not None and batch >= behaviour.unhealthy_from_batch
        )
        unhealthy = tuple(b.name for b in changed if not behaviour.healthy or failing_batch)
        return DeployResult(
            boxes=tuple(b.name for b in changed),
            fleet_percent_on_new=round(100.0 * on_new / len(boxes), 2),
            healthy_percent=healthy_percent(len(boxes), len(unhealthy)),
            done=on_new == len(boxes),
            unhealthy=unhealthy,
            reason="new boxes fail their health checks" if unhealthy else "",
        )

    def one_box(
        self, environment: str, scope: str, artifact: Artifact, traffic_percent: float
    ) -> DeployResult:
        with self.fleet._lock:
            boxes = self.fleet.boxes(self.service, environment, scope)
            share = one_box_traffic_percent(len(boxes), traffic_percent)
            first = boxes[:1]
            self.fleet._set(self.service, environment, scope, first, artifact.version, one_box=True)
            result = self._result(environment, scope, artifact.version, first)
            return DeployResult(
                boxes=result.boxes,
                fleet_percent_on_new=share,
                healthy_percent=result.healthy_percent,
                done=False,
                unhealthy=result.unhealthy,
                reason=result.reason,
            )

    def next_batch(
        self, environment: str, scope: str, artifact: Artifact, rolling: Rolling, batch: int
    ) -> DeployResult:
        with self.fleet._lock:
            boxes = self.fleet.boxes(self.service, environment, scope)
            size = batch_size(len(boxes), rolling)
            wanted = min(len(boxes), 1 + size * batch)  # the one-box, then `batch` batches
            changed = [b for b in boxes[:wanted] if b.version != artifact.version or b.one_box]
            self.fleet._set(
                self.service, environment, scope, changed, artifact.version, one_box=False
            )
            return self._result(environment, scope, artifact.version, changed, batch)

    def roll_back(
        self, environment: str, scope: str, artifact: Artifact | None, rolling: Rolling
    ) -> DeployResult:
        if self.service in self.fleet.broken_targets:
            raise DeployTargetError(f"{self.service} in {scope}: the deploy API refused the call")
        with self.fleet._lock:
            boxes = self.fleet.boxes(self.service, environment, scope)
            version = artifact.version if artifact else None
            changed = [b for b in boxes if b.version != version or b.one_box]
            self.fleet._set(self.service, environment, scope, changed, version, one_box=False)
            return self._result(environment, scope, version, changed)


_DEFAULT_BEHAVIOUR = Behaviour()


@dataclass(frozen=True)
class _Shares:
    generation: int
    #: (version, one-box?, deployed at, share of the scope's traffic)
    groups: tuple[tuple[str, bool, datetime | None, float], ...]


@dataclass
class _Series:
    """Requests per tick as a running total, so a window's sum is two bisections."""

    times: list[datetime] = field(default_factory=list)
    running: list[float] = field(default_factory=list)

    def add(self, when: datetime, value: float) -> None:
        self.times.append(when)
        self.running.append((self.running[-1] if self.running else 0.0) + value)

    def between(self, start: datetime, end: datetime) -> float:
        """The sum of the values added at times in (start, end]."""
        low = bisect.bisect_right(self.times, start)
        high = bisect.bisect_right(self.times, end)
        if high <= low:
            return 0.0
        return self.running[high - 1] - (self.running[low - 1] if low else 0.0)


@dataclass
class _AlarmTrack:
    state: str = "OK"
    recent: deque[bool] = field(default_factory=lambda: deque(maxlen=10))
    history: list[tuple[datetime, str]] = field(default_factory=list)


AlarmListener = Callable[[str, str, str, str], None]  # (alarm, environment, region, reason)


class SimulatedCloudWatch(AlarmReader):
    """Metrics from the simulated fleet and alarms evaluated from the pipelines' rules."""

    def __init__(
        self,
        fleet: SimulatedFleet,
        specs: Mapping[str, PipelineSpec],
        *,
        catalogue: Catalogue = DEFAULT_CATALOGUE,
    ) -> None:
        self.fleet = fleet
        self.catalogue = catalogue
        self._lock = threading.RLock()
        self._services: dict[str, PipelineSpec] = {}
        for spec in specs.values():
            self._services.setdefault(spec.service, spec)
        #: (alarm, environment, region) → its state and history
        self._alarms: dict[tuple[str, str, str], _AlarmTrack] = defaultdict(_AlarmTrack)
        #: (service, environment, scope) → (time, requests) per tick
        self._requests: dict[tuple[str, str, str], _Series] = defaultdict(_Series)
        self.listeners: list[AlarmListener] = []
        self.forced: dict[tuple[str, str, str], str] = {}
        self._share_cache: dict[int, _Shares] = {}
        self._evaluated: set[tuple[str, str, str]] = set()  # alarms evaluated this tick
        self._released: set[tuple[str, str, str]] = set()  # no longer forced, not yet ticked

    # --- the simulation step (a clock tick hook) -------------------------------------------

    def tick(self, previous: datetime, now: datetime) -> None:
        minutes = (now - previous).total_seconds() / 60
        if minutes <= 0:
            return
        changes: list[tuple[str, str, str, str]] = []
        with self._lock:
            self._evaluated = set()
            totals: dict[tuple[str, str, str], dict[str, list[float]]] = {}
            for (service, environment, scope), boxes in list(self.fleet._boxes.items()):
                spec = self._services.get(service)
                if spec is None:
                    continue
                region = scope.split("/")[0]
                info = self.catalogue.region(region)
                if environment in INTEGRATION_TEST_ENVIRONMENTS:
                    self._requests[(service, environment, scope)].add(
                        now, INTEGRATION_TEST_REQUESTS_PER_MINUTE * minutes
                    )
                    continue
                requests = REQUESTS_PER_MINUTE[info.traffic if info else "low"] * minutes
                self._requests[(service, environment, scope)].add(now, requests)
                region_totals = totals.setdefault(
                    (service, environment, region), {"all": [0.0, 0.0], "one-box": [0.0, 0.0]}
                )
                self._serve(spec, boxes, requests, now, region_totals)
            team_breach: dict[tuple[str, str, str], bool] = defaultdict(bool)
            for (service, environment, region), counts in totals.items():
                spec = self._services[service]
                rule = next(a for a in spec.alarms.high_severity if a.metric == "FaultRate")
                names = spec.alarm_names
                fleet_rate = counts["all"][1] / counts["all"][0] if counts["all"][0] else 0.0
                one_rate = (
                    counts["one-box"][1] / counts["one-box"][0] if counts["one-box"][0] else 0.0
                )
                high = self._evaluate(
                    (names.high_severity_composite, environment, region),
                    fleet_rate > rule.threshold,
                    rule.datapoints_to_alarm,
                    now,
                    changes,
                    f"fleet fault rate {fleet_rate:.2%} > {rule.threshold:.2%}",
                )
                team_breach[(spec.team, environment, region)] |= high
                self._evaluate(
                    (names.one_box_composite, environment, region),
                    one_rate > rule.threshold or high,
                    rule.datapoints_to_alarm,
                    now,
                    changes,
                    f"one-box fault rate {one_rate:.2%} > {rule.threshold:.2%}",
                )
            for (team, environment, region), breached in team_breach.items():
                self._evaluate(
                    (f"{team}-aggregate", environment, region),
                    breached,
                    1,
                    now,
                    changes,
                    "a service's high-severity alarm is in ALARM",
                )
            # Alarms forced by hand that no rule evaluated this minute (a company-wide alarm,
            # or an alarm of an integration-test environment) change state here too.
            for key in [k for k in (*self.forced, *self._released) if k not in self._evaluated]:
                self._evaluate(key, False, 1, now, changes, "set by hand")
            self._released.clear()
        for name, environment, region, reason in changes:
            for listener in self.listeners:
                listener(name, environment, region, reason)

    def _serve(
        self,
        spec: PipelineSpec,
        boxes: list[Box],
        requests: float,
        now: datetime,
        totals: dict[str, list[float]],
    ) -> None:
        """Add one minute of a scope's traffic and faults to its region's totals."""
        for version, one_box, since, share in self._shares(spec, boxes).groups:
            behaviour = self.fleet.behaviours.get(version, _DEFAULT_BEHAVIOUR)
            served = requests * share
            failed = served * behaviour.faults(now - (since or now))
            totals["all"][0] += served
            totals["all"][1] += failed
            if one_box:
                totals["one-box"][0] += served
                totals["one-box"][1] += failed

    def _shares(self, spec: PipelineSpec, boxes: list[Box]) -> _Shares:
        """The live boxes' shares of the scope's traffic (the one-box its configured share, the
        rest split evenly), summed over boxes alike in version, role and age. Cached until a
        deployment changes the fleet."""
        key = id(boxes)
        cached = self._share_cache.get(key)
        if cached is not None and cached.generation == self.fleet.generation:
            return cached
        live = [b for b in boxes if b.version is not None]
        one_box = [b for b in live if b.one_box]
        rest = [b for b in live if not b.one_box]
        if one_box and rest:
            box_share = min(spec.one_box_percent, 100.0 / len(live)) / 100
            pairs = [(b, box_share / len(one_box)) for b in one_box]
            pairs += [(b, (1 - box_share) / len(rest)) for b in rest]
        else:
            pairs = [(b, 1 / len(live)) for b in live]
        groups: dict[tuple[str, bool, datetime | None], float] = defaultdict(float)
        for box, share in pairs:
            groups[(box.version or "", box.one_box, box.since)] += share
        cached = _Shares(
            generation=self.fleet.generation,
            groups=tuple((*key, share) for key, share in groups.items()),
        )
        self._share_cache[key] = cached
        return cached

    def _evaluate(
        self,
        key: tuple[str, str, str],
        breaching: bool,
        needed: int,
        now: datetime,
        changes: list[tuple[str, str, str, str]],
        reason: str,
    ) -> bool:
        self._evaluated.add(key)
        track = self._alarms[key]
        forced = self.forced.get(key)
        track.recent.append(breaching)
        state = forced or ("ALARM" if sum(list(track.recent)[-needed:]) >= needed else "OK")
        if state != track.state:
            track.state = state
            track.history.append((now, state))
            if state == "ALARM":
                changes.append((*key, reason if not forced else "set by hand"))
        return state == "ALARM"

    def set_state(
        self, name: str, region: str, state: str | None, environment: str = "production"
    ) -> None:
        """Force an alarm (e.g. a company-wide one) to a state; None returns it to its rule
        (an alarm without a rule here returns to OK). The change takes effect, and is
        delivered, at the next tick."""
        with self._lock:
            if state is None:
                self.forced.pop((name, environment, region), None)
                self._released.add((name, environment, region))
            else:
                self.forced[(name, environment, region)] = state

    # --- AlarmReader ---------------------------------------------------------------------

    def in_alarm(self, environment: str, region: str, names: Sequence[str]) -> tuple[str, ...]:
        with self._lock:
            return tuple(
                name
                for name in names
                if (
                    self.forced.get((name, environment, region))
                    or self._alarms[(name, environment, region)].state
                )
                == "ALARM"
            )

    def breached(
        self, environment: str, region: str, names: Sequence[str], start: datetime, end: datetime
    ) -> tuple[str, ...]:
        with self._lock:
            found = []
            for name in names:
                history = self._alarms[(name, environment, region)].history
                at_start = "OK"
                for when, state in history:
                    if when <= start:
                        at_start = state
                if at_start == "ALARM" or any(
                    start <= when <= end and state == "ALARM" for when, state in history
                ):
                    found.append(name)
            return tuple(found)

    def datapoints(
        self,
        environment: str,
        region: str,
        datapoints: Datapoints,
        scope: str,
        start: datetime,
        end: datetime,
    ) -> int:
        services = {name for name, spec in self._services.items() if spec.datapoints == datapoints}
        with self._lock:
            total = sum(
                series.between(start, end)
                for (service, env, sc), series in self._requests.items()
                if service in services
                and env == environment
                and (sc == scope or (scope == region and sc.startswith(region + "/")))
            )
        return int(total)
