"""Simulations for local runs: a fleet of boxes and a CloudWatch that watches it.

They stand in for AWS only on the local runtime, behind the same ports the real adapters
implement (`DeployTarget`, `AlarmReader`, `ArtifactStore`). They are deterministic: traffic
is an expected number of requests per minute, and what the boxes answer comes from running
each version's code (`traffic.py`), so a scenario gives the same result every run.

- `SimulatedFleet`: boxes per AZ/cell (or per region for pre-production), each running a
  version. One-box puts the artifact on one box beside the old ones; rolling batches replace
  the rest; rollback returns every box to the known-good artifact. Before a version first
  runs on a box, its code serves the service's customers in a reference box and the answers
  make its `TrafficProfile`. It records the most boxes each version ever ran on, per scope,
  so tests can prove a bad version never left its one-box. `HostFaults` say what no request
  reveals (failing health checks, a broken metrics agent).
- `SimulatedCloudWatch`: every virtual minute each scope serves requests (by the region's
  traffic class); each box fails the share its code failed over the same requests, counted
  from the box's own: a bug from its first request, a slow burn once the box has served
  enough (busy regions first). Alpha and beta serve only integration tests (datapoints, no
  customer-fault alarms); gamma mirrors production. Per service and region it evaluates the
  pipeline's metric alarms on the whole fleet and on one-box boxes alone, the canary's
  SuccessPercent in production regions (the share of traffic on boxes that answer the
  canary's request as it expects), derives the composites (service high-severity, service
  one-box, team aggregate: the services' high-severity composites and canaries), keeps the
  alarm history and delivers each OK→ALARM change to a listener, as EventBridge delivers it
  to the controller. A region whose metrics stopped moving and whose boxes' code no longer
  changes is settled: evaluating it again would change nothing.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from domain.alarm_health import AlarmStatus
from domain.catalogue import DEFAULT_CATALOGUE, Catalogue
from domain.errors import AlarmReadError, DeployTargetError, TransientDeployError
from domain.events import Artifact
from domain.ports import AlarmReader, ArtifactStore, DeployResult, DeployTarget
from domain.rollout import batch_size, healthy_percent, one_box_traffic_percent
from domain.spec import Datapoints, MetricAlarm, PipelineSpec, Rolling
from statemachines.local.traffic import NO_CODE, TrafficProfile, TrafficProfileError

REQUESTS_PER_MINUTE = {"high": 600.0, "low": 30.0}
#: alpha and beta serve integration tests, not customers: their traffic counts as datapoints,
#: but faults that only customer traffic reveals raise no alarm there (gamma mirrors production)
INTEGRATION_TEST_ENVIRONMENTS = frozenset({"alpha", "beta"})
INTEGRATION_TEST_REQUESTS_PER_MINUTE = 20.0


@dataclass(frozen=True)
class HostFaults:
    """How a version's hosts behave beside its code: what no request to the code reveals (the
    code's own faults, latency and slow burns come from running it: `traffic.py`)."""

    cpu_percent: float = 35.0
    memory_percent: float = 50.0
    disk_percent: float = 40.0
    healthy: bool = True  # False: new boxes fail their health checks
    #: boxes replaced in this rolling batch (and later ones) fail their health checks
    unhealthy_from_batch: int | None = None
    #: False: the version's boxes publish no metrics (a broken agent): alarms see no data
    reports_metrics: bool = True


Profiler = Callable[[str, Artifact], TrafficProfile]  # (service, artifact) → its profile


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

    def verify(self, artifact: Artifact, environment: str, region: str) -> bool:
        """One store serves every region here: each region's copy is these bytes."""
        content = self._bytes.get(artifact.version)
        if content is None:
            return False
        return f"sha256:{hashlib.sha256(content).hexdigest()}" == artifact.checksum


class SimulatedFleet:
    """Every service's boxes, by scope. `target(spec)` gives the DeployTarget of a pipeline."""

    def __init__(self, clock: Callable[[], datetime], *, boxes_per_scope: int = 12) -> None:
        self.clock = clock
        self.boxes_per_scope = boxes_per_scope
        #: version → how its hosts behave (what its code does not decide)
        self.hosts: dict[str, HostFaults] = {}
        #: (service, version) → how its code answered the service's customers
        self.profiles: dict[tuple[str, str], TrafficProfile] = {}
        #: runs a version's code before the fleet first serves it (None: versions run no code)
        self.profiler: Profiler | None = None
        self._lock = threading.RLock()
        self._boxes: dict[tuple[str, str, str], list[Box]] = {}  # (service, environment, scope)
        #: the most boxes each version ran on: (service, environment, scope, version) → count
        self.peak_boxes: dict[tuple[str, str, str, str], int] = defaultdict(int)
        self.broken_targets: set[str] = set()  # services whose rollbacks fail
        #: service → rollbacks still to fail as throttled (a rollback tried again passes)
        self.flaky_rollbacks: dict[str, int] = defaultdict(int)
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
                self.generation += 1
                self._boxes[key] = [
                    Box(name=f"{scope}/box-{n:02d}", version=None)
                    for n in range(1, self.boxes_per_scope + 1)
                ]
            return self._boxes[key]

    def target(self, spec: PipelineSpec) -> DeployTarget:
        return _FleetTarget(self, spec.service)

    def take(self, service: str, artifact: Artifact) -> TrafficProfile:
        """The profile of the artifact's code, made (once per version) before a box runs it.
        Code that cannot be served (it does not load, it hangs) fails every request."""
        key = (service, artifact.version)
        if key not in self.profiles:
            if self.profiler is None:
                self.profiles[key] = NO_CODE
            else:
                try:
                    self.profiles[key] = self.profiler(service, artifact)
                except TrafficProfileError as error:
                    self.profiles[key] = TrafficProfile(
                        window=1, faults=(1.0,), source=str(error), first_fault=str(error)
                    )
        return self.profiles[key]

    def profile(self, service: str, version: str | None) -> TrafficProfile:
        return self.profiles.get((service, version or ""), NO_CODE)

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
        hosts = self.fleet.hosts.get(version or "", _HEALTHY_HOSTS)
        failing = hosts.unhealthy_from_batch
        failing_batch = failing is not None and batch >= failing
        unhealthy = tuple(b.name for b in changed if not hosts.healthy or failing_batch)
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
        self.fleet.take(self.service, artifact)
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
        self.fleet.take(self.service, artifact)
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
        if self.fleet.flaky_rollbacks[self.service] > 0:
            self.fleet.flaky_rollbacks[self.service] -= 1
            raise TransientDeployError(f"{self.service} in {scope}: Throttling: rate exceeded")
        if artifact is not None:
            self.fleet.take(self.service, artifact)
        with self.fleet._lock:
            boxes = self.fleet.boxes(self.service, environment, scope)
            version = artifact.version if artifact else None
            changed = [b for b in boxes if b.version != version or b.one_box]
            self.fleet._set(self.service, environment, scope, changed, version, one_box=False)
            return self._result(environment, scope, version, changed)


_HEALTHY_HOSTS = HostFaults()

#: how each statistic of the standard alarms reads a version's behaviour (traffic-weighted)
_LATENCY_FACTOR = {"p50": 1.0, "p90": 2.0, "p99": 4.0}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}
#: a region whose metrics did not move for this many ticks is settled: every alarm's recent
#: datapoints are alike, so evaluating it again changes nothing (exact, not an estimate)
_SETTLED_TICKS = 10


@dataclass(frozen=True)
class _Group:
    """Boxes of a scope alike in version, role and age, and their share of its traffic."""

    version: str
    one_box: bool
    since: datetime | None
    share: float
    boxes: int


@dataclass(frozen=True)
class _Scope:
    service: str
    environment: str
    name: str
    region: str
    requests_per_minute: float
    first_tick: int  # the index of the first tick that counted this scope's traffic
    boxes: list[Box]


@dataclass
class _AlarmTrack:
    state: str = "OK"
    recent: deque[bool] = field(default_factory=lambda: deque(maxlen=10))
    history: list[tuple[datetime, str]] = field(default_factory=list)


@dataclass
class _RegionWatch:
    """A region's last metrics, kept while the fleet there does not change."""

    generation: int = -1
    fleet: dict[tuple[str, str], float] = field(default_factory=dict)
    one_box: dict[tuple[str, str], float] = field(default_factory=dict)
    stable_ticks: int = 0
    #: every box there serves as it will from now on (no code of theirs is still changing)
    steady: bool = False


@dataclass(frozen=True)
class _Served:
    """A group of boxes, the requests it serves a minute, its code's profile, and the requests
    each of its boxes served so far."""

    group: _Group
    weight: float
    profile: TrafficProfile
    per_box: float


def _canaries(spec: PipelineSpec, environment: str) -> tuple[MetricAlarm, ...]:
    """The canary alarms of a production region, when the spec declares a canary."""
    return spec.alarms.canaries if environment == "production" and spec.canary.url else ()


AlarmListener = Callable[[str, str, str, str], None]  # (alarm, environment, region, reason)
Metrics = dict[tuple[str, str], float]  # (metric, statistic) → value


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
        #: every tick's time and the minutes simulated up to it (requests are rate x minutes)
        self._ticks: list[datetime] = []
        self._minutes: list[float] = []
        self._scopes: dict[tuple[str, str, str], _Scope] = {}
        self._layout_generation = -1
        self._by_region: dict[tuple[str, str, str], list[_Scope]] = defaultdict(list)
        self._groups: dict[int, tuple[int, tuple[_Group, ...]]] = {}
        #: (service, environment, scope, version, since) → (requests per box so far, per box a
        #: minute since, minutes simulated then)
        self._served: dict[tuple[str, str, str, str, datetime | None], tuple[float, float, float]]
        self._served = {}
        self._regions: dict[tuple[str, str, str], _RegionWatch] = defaultdict(_RegionWatch)
        self.listeners: list[AlarmListener] = []
        self.forced: dict[tuple[str, str, str], str] = {}
        #: every alarm the pipelines define exists in every environment and region (as the
        #: CDK app creates them), but for those a test deleted or disabled
        self._defined = {
            name
            for spec in specs.values()
            for name in (
                *(a.name for a in (*spec.alarms.high_severity, *spec.alarms.one_box)),
                *(a.name for a in spec.alarms.canaries),
                *(a.name for a in spec.alarms.anomaly),
                spec.alarm_names.high_severity_composite,
                spec.alarm_names.one_box_composite,
                spec.alarm_names.team_aggregate,
                *spec.alarm_names.blockers,
            )
        }
        self.deleted: set[tuple[str, str, str]] = set()  # (alarm, environment, region)
        self.actions_disabled: set[tuple[str, str, str]] = set()
        #: (environment, region) → why reading CloudWatch there fails (throttled, denied)
        self.read_failures: dict[tuple[str, str], str] = {}
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
            self._ticks.append(now)
            self._minutes.append((self._minutes[-1] if self._minutes else 0.0) + minutes)
            if self._layout_generation != self.fleet.generation:
                self._layout()
            by_hand = {(env, region) for _, env, region in (*self.forced, *self._released)}
            #: (team, environment, region) → its services' high-severity composites in ALARM
            team_breach: dict[tuple[str, str, str], list[str]] = defaultdict(list)
            for key, scopes in self._by_region.items():
                service, environment, region = key
                spec = self._services[service]
                watch = self._regions[key]
                if not watch.steady or watch.generation != self.fleet.generation:
                    fleet, one_box, watch.steady = self._measure(spec, scopes)
                    if (fleet, one_box) != (watch.fleet, watch.one_box):
                        watch.stable_ticks = 0
                    watch.fleet, watch.one_box = fleet, one_box
                    watch.generation = self.fleet.generation
                fleet, one_box = watch.fleet, watch.one_box
                # an alarm set or released by hand unsettles its region: its rules take over
                watch.stable_ticks = (
                    0 if (environment, region) in by_hand else watch.stable_ticks + 1
                )
                settled = watch.stable_ticks >= _SETTLED_TICKS and watch.steady
                names = spec.alarm_names
                team = team_breach[(spec.team, environment, region)]
                canaries = _canaries(spec, environment)
                if settled:
                    for name in (names.high_severity_composite, *(a.name for a in canaries)):
                        if self._alarms[(name, environment, region)].state == "ALARM":
                            team.append(name)
                    continue
                for rule in canaries:  # a failing canary is one of the team aggregate's
                    if self._evaluate_set((rule,), fleet, environment, region, now, changes):
                        team.append(rule.name)
                high_reason = self._evaluate_set(
                    spec.alarms.high_severity, fleet, environment, region, now, changes
                )
                high_alarm = self._evaluate(
                    (names.high_severity_composite, environment, region),
                    bool(high_reason),
                    1,
                    now,
                    changes,
                    high_reason,
                )
                team.extend([names.high_severity_composite] if high_alarm else [])
                one_box_reason = self._evaluate_set(
                    spec.alarms.one_box, one_box, environment, region, now, changes
                )
                self._evaluate(
                    (names.one_box_composite, environment, region),
                    bool(one_box_reason) or high_alarm,
                    1,
                    now,
                    changes,
                    one_box_reason or high_reason,
                )
            for (team_name, environment, region), in_alarm in team_breach.items():
                self._evaluate(
                    (f"{team_name}-aggregate", environment, region),
                    bool(in_alarm),
                    1,
                    now,
                    changes,
                    f"{', '.join(in_alarm)} in ALARM",
                )
            # Alarms forced by hand that no rule evaluated this minute (a company-wide alarm,
            # or an alarm of an integration-test environment) change state here too.
            for key in [k for k in (*self.forced, *self._released) if k not in self._evaluated]:
                self._evaluate(key, False, 1, now, changes, "set by hand")
            self._released.clear()
        for name, environment, region, reason in changes:
            for listener in self.listeners:
                listener(name, environment, region, reason)

    def _layout(self) -> None:
        """Take in scopes the fleet gained since the last tick; their traffic counts from now."""
        for (service, environment, scope), boxes in list(self.fleet._boxes.items()):
            known = self._scopes.get((service, environment, scope))
            if known is not None and known.boxes is not boxes:  # seeded again: new boxes
                self._scopes[(service, environment, scope)] = dataclasses.replace(
                    known, boxes=boxes
                )
            if service not in self._services or known is not None:
                continue
            region = scope.split("/")[0]
            info = self.catalogue.region(region)
            rate = (
                INTEGRATION_TEST_REQUESTS_PER_MINUTE
                if environment in INTEGRATION_TEST_ENVIRONMENTS
                else REQUESTS_PER_MINUTE[info.traffic if info else "low"]
            )
            self._scopes[(service, environment, scope)] = _Scope(
                service, environment, scope, region, rate, len(self._ticks) - 1, boxes
            )
        # Customer-facing scopes by (service, environment, region). Alpha and beta serve
        # integration tests only: their traffic counts as datapoints but raises no alarm.
        self._by_region = defaultdict(list)
        for counted in self._scopes.values():
            if counted.environment not in INTEGRATION_TEST_ENVIRONMENTS:
                key = (counted.service, counted.environment, counted.region)
                self._by_region[key].append(counted)
        self._layout_generation = self.fleet.generation

    def _measure(self, spec: PipelineSpec, scopes: list[_Scope]) -> tuple[Metrics, Metrics, bool]:
        """One minute of the region's metrics, for the whole fleet and for one-box boxes, and
        whether every box there is past the point where its code's behaviour still changes."""
        fleet: list[_Served] = []
        for scope in scopes:
            for group in self._shares(spec, scope.boxes):
                weight = scope.requests_per_minute * group.share
                fleet.append(
                    _Served(
                        group,
                        weight,
                        self.fleet.profile(spec.service, group.version),
                        self._served_per_box(scope, group, weight / group.boxes),
                    )
                )
        steady = all(served.profile.steady(served.per_box) for served in fleet)
        return (
            self._metrics(spec, fleet, canary=bool(spec.canary.url)),
            self._metrics(spec, [s for s in fleet if s.group.one_box], canary=False),
            steady,
        )

    def _served_per_box(self, scope: _Scope, group: _Group, rate: float) -> float:
        """Requests each box of the group served since it took its version: the minutes since
        the last measure at the rate the boxes had then; from now on at `rate`."""
        key = (scope.service, scope.environment, scope.name, group.version, group.since)
        minutes = self._minutes[-1] if self._minutes else 0.0
        before = self._served.get(key)
        served = before[0] + before[1] * (minutes - before[2]) if before else 0.0
        self._served[key] = (served, rate, minutes)
        return served

    def _metrics(self, spec: PipelineSpec, groups: list[_Served], *, canary: bool) -> Metrics:
        """One minute of metrics from the boxes that publish them (none: no data); with the
        canary's success, which needs no agent on the boxes: the share of the traffic served by
        boxes that answer the canary's request as it expects (a box whose version runs no
        code here passes it)."""
        metrics: Metrics = {}
        reporting = [
            (s, hosts)
            for s in groups
            if (hosts := self.fleet.hosts.get(s.group.version, _HEALTHY_HOSTS)).reports_metrics
        ]
        served = sum(s.weight for s, _ in reporting)
        if reporting and served > 0:
            failed = sum(s.weight * s.profile.fault_rate(s.per_box) for s, _ in reporting)
            latency = sum(s.weight * s.profile.latency_ms for s, _ in reporting) / served
            metrics = {
                ("FaultRate", "Average"): failed / served,
                ("LogErrors", "Sum"): failed,
                ("CPUUtilization", "Average"): sum(s.weight * h.cpu_percent for s, h in reporting)
                / served,
                ("MemoryUtilization", "Average"): sum(
                    s.weight * h.memory_percent for s, h in reporting
                )
                / served,
                ("DiskUtilization", "Maximum"): max(h.disk_percent for _, h in reporting),
                ("UnhealthyHosts", "Maximum"): float(
                    sum(s.group.boxes for s, h in reporting if not h.healthy)
                ),
                ("RequestCount", "Sum"): served,
            }
            for statistic, factor in _LATENCY_FACTOR.items():
                metrics[("Latency", statistic)] = latency * factor
        total = sum(s.weight for s in groups)
        if canary and total > 0:
            passed = sum(
                s.weight for s in groups if s.profile.canary_passes(s.per_box) is not False
            )
            metrics[("SuccessPercent", "Average")] = 100.0 * passed / total
        return {key: round(value, 9) for key, value in metrics.items()}

    def _evaluate_set(
        self,
        rules: Sequence[MetricAlarm],
        metrics: Metrics,
        environment: str,
        region: str,
        now: datetime,
        changes: list[tuple[str, str, str, str]],
    ) -> str:
        """Evaluate each metric alarm from its rule; the reasons of those in ALARM, or ""."""
        reasons = []
        for rule in rules:
            value = metrics.get((rule.metric, rule.statistic))
            breaching = value is not None and _COMPARE[rule.comparison](value, rule.threshold)
            reason = (
                f"{rule.metric} {rule.statistic} {value:g} vs threshold {rule.threshold:g}"
                if value is not None
                else ""
            )
            if self._evaluate(
                (rule.name, environment, region),
                breaching,
                rule.datapoints_to_alarm,
                now,
                changes,
                reason,
                deliver=False,  # EventBridge delivers the composites the controller watches
                no_data=value is None,
            ):
                reasons.append(f"{rule.name}: {reason}")
        return "; ".join(reasons)

    def _shares(self, spec: PipelineSpec, boxes: list[Box]) -> tuple[_Group, ...]:
        """The live boxes' shares of the scope's traffic (the one-box its configured share, the
        rest split evenly), summed over boxes alike in version, role and age. Cached until a
        deployment changes the fleet."""
        cached = self._groups.get(id(boxes))
        if cached is not None and cached[0] == self.fleet.generation:
            return cached[1]
        live = [b for b in boxes if b.version is not None]
        one_box = [b for b in live if b.one_box]
        rest = [b for b in live if not b.one_box]
        if one_box and rest:
            box_share = min(spec.one_box_percent, 100.0 / len(live)) / 100
            pairs = [(b, box_share / len(one_box)) for b in one_box]
            pairs += [(b, (1 - box_share) / len(rest)) for b in rest]
        else:
            pairs = [(b, 1 / len(live)) for b in live]
        alike: dict[tuple[str, bool, datetime | None], list[float]] = defaultdict(list)
        for box, share in pairs:
            alike[(box.version or "", box.one_box, box.since)].append(share)
        groups = tuple(
            _Group(version, one, since, sum(shares), len(shares))
            for (version, one, since), shares in alike.items()
        )
        self._groups[id(boxes)] = (self.fleet.generation, groups)
        return groups

    def _evaluate(
        self,
        key: tuple[str, str, str],
        breaching: bool,
        needed: int,
        now: datetime,
        changes: list[tuple[str, str, str, str]],
        reason: str,
        *,
        deliver: bool = True,
        no_data: bool = False,
    ) -> bool:
        self._evaluated.add(key)
        track = self._alarms[key]
        forced = self.forced.get(key)
        if no_data and forced is None:
            # CloudWatch with missing data treated as missing: INSUFFICIENT_DATA, not OK
            track.recent.append(False)
            if track.state != "INSUFFICIENT_DATA":
                track.state = "INSUFFICIENT_DATA"
                track.history.append((now, track.state))
            return False
        track.recent.append(breaching)
        if forced is None and not breaching and track.state == "OK":
            return False  # the common case: nothing breaches, nothing changes
        state = forced or ("ALARM" if sum(list(track.recent)[-needed:]) >= needed else "OK")
        if state != track.state:
            track.state = state
            track.history.append((now, state))
            if state == "ALARM" and deliver:
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

    def delete(self, name: str, region: str, environment: str = "production") -> None:
        """Remove an alarm (a stack deleted it, someone renamed it); `restore` brings it back."""
        with self._lock:
            self.deleted.add((name, environment, region))

    def restore(self, name: str, region: str, environment: str = "production") -> None:
        with self._lock:
            self.deleted.discard((name, environment, region))

    # --- AlarmReader ---------------------------------------------------------------------

    def states(self, environment: str, region: str, names: Sequence[str]) -> dict[str, AlarmStatus]:
        with self._lock:
            failure = self.read_failures.get((environment, region))
            if failure:
                raise AlarmReadError(f"{environment} {region}: describe alarms failed ({failure})")
            found: dict[str, AlarmStatus] = {}
            for name in names:
                key = (name, environment, region)
                if name not in self._defined or key in self.deleted:
                    continue
                state = self.forced.get(key) or self._alarms[key].state
                found[name] = AlarmStatus(
                    name=name,
                    state=state,  # type: ignore[arg-type]
                    actions_enabled=key not in self.actions_disabled,
                )
            return found

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
        """Requests the scope (or every AZ of a region) served in (start, end]."""
        services = {name for name, spec in self._services.items() if spec.datapoints == datapoints}
        with self._lock:
            high = bisect.bisect_right(self._ticks, end) - 1
            total = 0.0
            for (service, env, name), counted in self._scopes.items():
                if service not in services or env != environment:
                    continue
                if not (name == scope or (scope == region and name.startswith(region + "/"))):
                    continue
                low = max(bisect.bisect_right(self._ticks, start), counted.first_tick) - 1
                if high > low:
                    before = self._minutes[low] if low >= 0 else 0.0
                    total += counted.requests_per_minute * (self._minutes[high] - before)
        return int(total)
