"""Pipelines as code.

A team writes a base class that fixes its waves, regions, bake times, windows and alarms;
each microservice's pipeline subclasses it and overrides only what differs:

    class OrdersTeam(Pipeline):
        team = "orders"
        waves = (Wave(regions=("af-south-1",)), Wave(regions=("us-east-1",)), ...,
                 Wave(regions=ALL_REMAINING))

    class CreateOrderApp(OrdersTeam):
        service = "create-order"
        repository = "acme/create-order"

`CreateOrderApp.spec()` validates the class against the region catalogue and resolves it into
a `PipelineSpec`: plain data, every stage split into steps of at most one AZ/cell per region,
every production wave starting with a one-box step. All problems are reported at once, one
line each, naming the pipeline and the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import ClassVar, Literal

from domain.catalogue import DEFAULT_CATALOGUE, Catalogue
from domain.conventions import ROLE_NAME_MAX, team_deploy_role_name, team_name_max
from domain.errors import ShipwaveError
from domain.notifications import SEVERITIES, Severity

#: an address an SNS email subscription accepts (one @, a dot in the domain)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

SourceKind = Literal[
    "application", "infrastructure", "configuration", "os-patching", "operator-tools"
]
StepPhase = Literal["one-box", "rolling", "bake"]
SourceSystem = Literal["codecommit", "github"]
DatapointPolicy = Literal["extend", "hold", "proceed"]
Comparison = Literal[
    "GreaterThanThreshold",
    "GreaterThanOrEqualToThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
]
AnomalyComparison = Literal[
    "LessThanLowerOrGreaterThanUpperThreshold",
    "GreaterThanUpperThreshold",
    "LessThanLowerThreshold",
]

ALL_REMAINING: Literal["all-remaining"] = "all-remaining"
MAX_ONE_BOX_PERCENT = 10.0
MAX_BATCH_PERCENT = 33.0
MIN_HEALTHY_PERCENT = 66.0
HOUR = 3600
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
#: CodeBuild's bounds on a build's timeout, in minutes
BUILD_TIMEOUT_MINUTES = (5, 2160)


class PipelineSpecError(ShipwaveError):
    """A pipeline class is invalid; `problems` holds one line per problem."""

    def __init__(self, problems: tuple[str, ...]) -> None:
        super().__init__("invalid pipeline spec:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


# --- what a team writes --------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Wave:
    """A production wave: its regions (or all regions no earlier wave took)."""

    regions: tuple[str, ...] | Literal["all-remaining"]
    #: Order or subset of AZs/cells per region; default: the catalogue's AZs in order.
    azs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: The bake after the whole wave; default from BakeTimes (first wave vs later waves).
    bake_seconds: int | None = None


@dataclass(frozen=True, kw_only=True)
class BakeTimes:
    after_one_box: int = 1 * HOUR
    after_pre_production: int = 1 * HOUR
    after_first_wave: int = 12 * HOUR
    after_later_waves: int = 3 * HOUR
    after_each_az: int = HOUR // 2  # the extra watch per AZ/cell step inside a wave
    floor: int = HOUR // 2  # no configured bake may be shorter


@dataclass(frozen=True, kw_only=True)
class Datapoints:
    """A bake also needs enough traffic to mean anything (e.g. >= 100 Create requests)."""

    namespace: str = "AWS/ApiGateway"
    metric: str = "Count"
    dimensions: tuple[tuple[str, str], ...] = ()
    minimum: int = 100
    policy: DatapointPolicy = "extend"
    max_extensions: int = 3


@dataclass(frozen=True, kw_only=True)
class Rolling:
    batch_percent: float = 33.0
    min_healthy_percent: float = 66.0
    fast_rollback: bool = False  # deploy `fast_forward_percent` at a time, roll back 33 %
    fast_forward_percent: float = 5.0
    rollback_percent: float = 33.0


@dataclass(frozen=True, kw_only=True)
class TimeWindow:
    """When deployments may start, in each region's local time."""

    days: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday = 0
    start_hour: int = 9
    end_hour: int = 17
    latest_start_hour: int | None = None  # e.g. 15: no late-afternoon starts
    no_fridays: bool = False
    skip_holidays: bool = True

    def open_hours(self) -> tuple[tuple[int, int], ...]:
        """Every (weekday, hour) at which a deployment may start."""
        last = (
            self.end_hour
            if self.latest_start_hour is None
            else min(self.end_hour, self.latest_start_hour)
        )
        days = [d for d in self.days if not (self.no_fridays and d == 4)]
        return tuple((day, hour) for day in days for hour in range(self.start_hour, last))


@dataclass(frozen=True, kw_only=True)
class Build:
    """How a commit becomes the pipeline's artifact (SPEC practice 3): the same shell commands
    run on CodeBuild (the pipeline's build project) and in the local runtime's builder, on a
    checkout of the exact commit. `unit_tests` run with no network access. What the commands
    leave in `output` is packed once as a zip named `version` (a shell word, expanded after
    the commands ran, as CodeBuild expands a buildspec's artifact name), stored immutably,
    and its sha256 recorded."""

    install: tuple[str, ...] = ()
    build: tuple[str, ...] = ()
    unit_tests: tuple[str, ...] = ()
    output: str = "."
    #: default: the VERSION file at the checkout's root, else the commit's first 12 digits
    version: str = '$(cat VERSION 2>/dev/null || printf %.12s "$CODEBUILD_RESOLVED_SOURCE_VERSION")'
    #: the artifact's handler ("orders.handler"): what the local runtime's endpoint serves
    entry: str = ""
    timeout_minutes: int = 20
    image: str = "aws/codebuild/standard:7.0"

    def phases(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(CodeBuild phase, its commands), in the order they run."""
        return (("INSTALL", self.install), ("BUILD", self.build), ("POST_BUILD", self.unit_tests))


@dataclass(frozen=True, kw_only=True)
class IntegrationTests:
    """The team's integration tests (SPEC practices 4 and 6), run against each stage named
    here after it deployed: `command` runs in a checkout of the change's commit with
    `SHIPWAVE_ENDPOINT` (the stage's endpoint: `endpoints[stage]` on AWS, a loopback server
    of the artifact locally) and writes a JUnit XML report to `SHIPWAVE_TEST_REPORT`. A failed
    test fails the stage, which rolls back, with the failed tests' names recorded."""

    command: str = ""
    stages: tuple[str, ...] = ("alpha", "beta", "gamma")
    endpoints: Mapping[str, str] = field(default_factory=dict)
    timeout_minutes: int = 15


@dataclass(frozen=True, kw_only=True)
class Notify:
    """Tell the team of this pipeline's transitions: the CDK app wires an SNS topic that
    receives every notification of `severity` or worse (`info` < `warning` < `critical`;
    `domain.notifications`), with an email subscription per address."""

    severity: Severity = "warning"
    emails: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Canary:
    """A synthetic customer of the service in each production region (SPEC practice 12): a
    CloudWatch Synthetics canary named `<service>-canary` that every `every_minutes` sends
    `method` with `body` to the region's endpoint (`url`, `{region}` replaced) and expects
    `expect_status`. Its SuccessPercent alarm (the standard set's `<service>-canary`) is one of
    the team aggregate's, so a failing canary blocks and rolls back like any alarm."""

    url: str = ""
    method: Literal["GET", "POST", "PUT"] = "GET"
    body: str = ""
    expect_status: int = 200
    every_minutes: int = 5


@dataclass(frozen=True, kw_only=True)
class MetricAlarm:
    name: str
    namespace: str
    metric: str
    statistic: str  # "Average", "Sum", "Maximum", "p99", ...
    threshold: float
    comparison: Comparison = "GreaterThanThreshold"
    period_seconds: int = 60
    evaluation_periods: int = 3
    datapoints_to_alarm: int = 3
    dimensions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, kw_only=True)
class AnomalyAlarm:
    """Rolls back on abnormal standard metrics without any alarm the team wrote."""

    name: str
    namespace: str
    metric: str
    statistic: str
    band_width: float = 3.0  # standard deviations
    comparison: AnomalyComparison = "LessThanLowerOrGreaterThanUpperThreshold"
    period_seconds: int = 300
    evaluation_periods: int = 3
    dimensions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, kw_only=True)
class Alarms:
    high_severity: tuple[MetricAlarm, ...]
    one_box: tuple[MetricAlarm, ...]
    anomaly: tuple[AnomalyAlarm, ...]
    canaries: tuple[MetricAlarm, ...] = ()
    #: Other alarms of the team (by name) the team's aggregate composite also watches.
    aggregate_also: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class LambdaAliasTarget:
    """One-box = weighted alias routing (<= 10 %), rolling = weight steps."""

    function_name: str
    alias: str = "live"


@dataclass(frozen=True, kw_only=True)
class EcsServiceTarget:
    """One-box = a one-task service on the same target group; rolling via the main service."""

    cluster: str
    service: str
    one_box_service: str


@dataclass(frozen=True, kw_only=True)
class SimulatedFleetTarget:
    """A simulated fleet for local runs (see the local runtime)."""

    boxes_per_az: int = 6


Target = LambdaAliasTarget | EcsServiceTarget | SimulatedFleetTarget


# --- what the generator and the handlers read ----------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ScopeSpec:
    region: str
    scope: str  # "eu-west-1" or "eu-west-1/euw1-az2"


@dataclass(frozen=True, kw_only=True)
class StepSpec:
    name: str  # "OneBox", "AZ2", "Rolling", "Bake"
    phase: StepPhase
    scopes: tuple[ScopeSpec, ...]
    bake_seconds: int


@dataclass(frozen=True, kw_only=True)
class StageSpec:
    name: str  # "alpha", "gamma", "wave2"
    title: str  # "Alpha", "Wave2": how the console shows it
    production: bool
    regions: tuple[str, ...]
    steps: tuple[StepSpec, ...]


#: the name endings of the alarms shipwave acts on (see AlarmNames)
HIGH_SEVERITY_SUFFIX = "-high-severity"
ONE_BOX_SUFFIX = "-one-box"
AGGREGATE_SUFFIX = "-aggregate"
ACTED_ON_SUFFIXES = (HIGH_SEVERITY_SUFFIX, ONE_BOX_SUFFIX, AGGREGATE_SUFFIX)


@dataclass(frozen=True, kw_only=True)
class AlarmNames:
    """The alarms shipwave acts on when they change. Their names follow one convention
    (`<service>` + HIGH_SEVERITY_SUFFIX, `<service>` + ONE_BOX_SUFFIX, `<team>` +
    AGGREGATE_SUFFIX), so an event rule can match every service's by suffix."""

    high_severity_composite: str
    one_box_composite: str
    team_aggregate: str
    blockers: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class PipelineSpec:
    pipeline_id: str
    team: str
    service: str
    kind: SourceKind
    repository: str
    branch: str
    stages: tuple[StageSpec, ...]
    one_box_percent: float
    rolling: Rolling
    datapoints: Datapoints
    window: TimeWindow
    bake: BakeTimes
    alarms: Alarms
    alarm_names: AlarmNames
    target: Target
    build: Build = Build()
    integration_tests: IntegrationTests = IntegrationTests()
    canary: Canary = Canary()
    #: where the repository is: CodeCommit (its name after the owner) or GitHub
    source: SourceSystem = "codecommit"
    #: who may approve a commit (user names, IAM principals, GitHub logins): SPEC practice 2
    reviewers: tuple[str, ...] = ()
    #: the senior engineers whose approval lets one urgent change bake faster (practice 15)
    emergency_approvers: tuple[str, ...] = ()
    #: an emergency's reduced bake never goes below this
    min_emergency_bake_seconds: int = 600
    #: a stage blocked longer than this (by anything but its time window) pages people
    page_after_blocked_seconds: int = 4 * 3600
    #: the team's SNS topic of this pipeline's notifications (None: EventBridge rules only)
    notify: Notify | None = None
    #: the IAM principals (fnmatch patterns of ARNs) that may pause, resume or abort on AWS
    operators: tuple[str, ...] = ()

    @property
    def regions(self) -> tuple[str, ...]:
        """Every region the pipeline deploys to, in first-deployment order."""
        seen: dict[str, None] = {}
        for stage in self.stages:
            for region in stage.regions:
                seen.setdefault(region)
        return tuple(seen)

    def tests_at(self, stage: str) -> bool:
        """Whether the integration tests run after `stage` deployed."""
        return bool(self.integration_tests.command) and stage in self.integration_tests.stages

    def scopes(self) -> tuple[tuple[str, str], ...]:
        """(stage, scope) for every scope the pipeline deploys to."""
        return tuple(
            dict.fromkeys(
                (stage.name, scope.scope)
                for stage in self.stages
                for step in stage.steps
                if step.phase != "bake"
                for scope in step.scopes
            )
        )


# --- the base class ------------------------------------------------------------------------


def standard_alarms(service: str) -> Alarms:
    """SPEC practice 12 and 13 for one microservice: the high-severity set, the one-box set and
    anomaly detection on request count, latency and errors."""
    ns = f"Shipwave/{service}"

    def metric(name: str, metric_name: str, statistic: str, threshold: float) -> MetricAlarm:
        return MetricAlarm(
            name=f"{service}-{name}",
            namespace=ns,
            metric=metric_name,
            statistic=statistic,
            threshold=threshold,
        )

    high = (
        metric("fault-rate", "FaultRate", "Average", 0.01),
        metric("latency-p50", "Latency", "p50", 100),
        metric("latency-p90", "Latency", "p90", 300),
        metric("latency-p99", "Latency", "p99", 1000),
        metric("cpu", "CPUUtilization", "Average", 80),
        metric("memory", "MemoryUtilization", "Average", 85),
        metric("disk", "DiskUtilization", "Maximum", 90),
        metric("log-errors", "LogErrors", "Sum", 10),
        metric("failing-health-checks", "UnhealthyHosts", "Maximum", 0),
    )
    one_box = tuple(
        MetricAlarm(
            name=f"{service}-one-box-{alarm.name.removeprefix(service + '-')}",
            namespace=ns,
            metric=alarm.metric,
            statistic=alarm.statistic,
            threshold=alarm.threshold,
            dimensions=(("Fleet", "one-box"),),
        )
        for alarm in high
    )
    anomaly = (
        AnomalyAlarm(
            name=f"{service}-anomaly-requests",
            namespace=ns,
            metric="RequestCount",
            statistic="Sum",
            comparison="LessThanLowerThreshold",
        ),
        AnomalyAlarm(
            name=f"{service}-anomaly-latency",
            namespace=ns,
            metric="Latency",
            statistic="p99",
            comparison="GreaterThanUpperThreshold",
        ),
        AnomalyAlarm(
            name=f"{service}-anomaly-errors",
            namespace=ns,
            metric="Errors",
            statistic="Sum",
            comparison="GreaterThanUpperThreshold",
        ),
    )
    canary = MetricAlarm(
        name=f"{service}-canary",
        namespace="CloudWatchSynthetics",
        metric="SuccessPercent",
        statistic="Average",
        threshold=90,
        comparison="LessThanThreshold",
        dimensions=(("CanaryName", f"{service}-canary"),),
    )
    return Alarms(high_severity=high, one_box=one_box, anomaly=anomaly, canaries=(canary,))


class Pipeline:
    """Base of every pipeline class. Override class attributes; call `spec()` to resolve."""

    team: ClassVar[str]
    service: ClassVar[str]
    kind: ClassVar[SourceKind] = "application"
    repository: ClassVar[str]
    branch: ClassVar[str] = "main"
    source: ClassVar[SourceSystem] = "codecommit"
    build: ClassVar[Build] = Build()
    integration_tests: ClassVar[IntegrationTests] = IntegrationTests()
    canary: ClassVar[Canary] = Canary()

    alpha: ClassVar[str] = "us-east-1"
    beta: ClassVar[str] = "us-east-1"
    gamma: ClassVar[tuple[str, ...]] = ("us-east-1",)
    zeta: ClassVar[str | None] = None
    waves: ClassVar[tuple[Wave, ...]] = ()

    one_box_percent: ClassVar[float] = 10.0
    rolling: ClassVar[Rolling] = Rolling()
    bake: ClassVar[BakeTimes] = BakeTimes()
    datapoints: ClassVar[Datapoints] = Datapoints()
    window: ClassVar[TimeWindow] = TimeWindow()
    blockers: ClassVar[tuple[str, ...]] = ("company-large-scale-event",)
    target: ClassVar[Target] = SimulatedFleetTarget()
    reviewers: ClassVar[tuple[str, ...]] = ()
    emergency_approvers: ClassVar[tuple[str, ...]] = ()
    min_emergency_bake_seconds: ClassVar[int] = 600
    page_after_blocked_seconds: ClassVar[int] = 4 * 3600
    notify: ClassVar[Notify | None] = None
    operators: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def pipeline_id(cls) -> str:
        return f"{getattr(cls, 'service', cls.__name__.lower())}-{cls.kind}"

    @classmethod
    def alarms(cls) -> Alarms:
        """The standard set for the service; override to add or tune alarms."""
        return standard_alarms(cls.service)

    @classmethod
    def spec(cls, catalogue: Catalogue = DEFAULT_CATALOGUE) -> PipelineSpec:
        """Validate against the catalogue and resolve; raises PipelineSpecError."""
        return _Resolver(cls, catalogue).resolve()


def resolve_all(pipelines: Sequence[type[Pipeline]], where: str) -> tuple[PipelineSpec, ...]:
    """Validate and resolve a team's pipelines; every problem of every pipeline, and ids
    defined twice, are reported together."""
    specs: list[PipelineSpec] = []
    problems: list[str] = []
    for pipeline in pipelines:
        try:
            specs.append(pipeline.spec())
        except PipelineSpecError as error:
            problems.extend(error.problems)
    ids = [spec.pipeline_id for spec in specs]
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"pipeline {duplicate}: defined twice in {where}")
    if problems:
        raise PipelineSpecError(tuple(problems))
    return tuple(specs)


class _Resolver:
    def __init__(self, cls: type[Pipeline], catalogue: Catalogue) -> None:
        self.cls = cls
        self.catalogue = catalogue
        self.problems: list[str] = []
        self.pipeline = cls.pipeline_id() if hasattr(cls, "service") else cls.__name__

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"pipeline {self.pipeline}: {where}: {message}")

    def resolve(self) -> PipelineSpec:
        cls = self.cls
        for attribute in ("team", "service", "repository"):
            if not isinstance(getattr(cls, attribute, None), str) or not getattr(cls, attribute):
                self.problem(attribute, "is required")
        for attribute in ("team", "service"):
            value = getattr(cls, attribute, "")
            if isinstance(value, str) and value and not _NAME.match(value):
                self.problem(attribute, f"{value!r} must be lowercase letters, digits and '-'")
        team = getattr(cls, "team", "")
        longest = team_name_max(tuple(region.name for region in self.catalogue.regions))
        if isinstance(team, str) and len(team) > longest:
            self.problem(
                "team",
                f"{team!r} is {len(team)} characters; at most {longest}, so that its deploy "
                f"role {team_deploy_role_name(team, '<region>')!r} fits IAM's "
                f"{ROLE_NAME_MAX}-character role names in every region",
            )
        self._check_percentages()
        self._check_bakes()
        self._check_window()
        self._check_datapoints()
        self._check_people()
        self._check_notify()
        self._check_operators()
        self._check_build()
        alarms = cls.alarms() if hasattr(cls, "service") else None
        names = self._check_alarms(alarms) if alarms else None
        stages = self._stages()
        self._check_integration_tests(stages)
        self._check_canary()
        if self.problems or alarms is None or names is None:
            raise PipelineSpecError(tuple(self.problems))
        return PipelineSpec(
            pipeline_id=cls.pipeline_id(),
            team=cls.team,
            service=cls.service,
            kind=cls.kind,
            repository=cls.repository,
            branch=cls.branch,
            stages=stages,
            one_box_percent=cls.one_box_percent,
            rolling=cls.rolling,
            datapoints=cls.datapoints,
            window=cls.window,
            bake=cls.bake,
            alarms=alarms,
            alarm_names=names,
            target=cls.target,
            build=cls.build,
            integration_tests=cls.integration_tests,
            canary=cls.canary,
            source=cls.source,
            reviewers=tuple(r.strip() for r in cls.reviewers),
            emergency_approvers=tuple(a.strip() for a in cls.emergency_approvers),
            min_emergency_bake_seconds=cls.min_emergency_bake_seconds,
            page_after_blocked_seconds=cls.page_after_blocked_seconds,
            notify=cls.notify,
            operators=tuple(o.strip() for o in cls.operators),
        )

    # --- checks ----------------------------------------------------------------------------

    def _check_percentages(self) -> None:
        cls = self.cls
        if not 0 < cls.one_box_percent <= MAX_ONE_BOX_PERCENT:
            self.problem(
                "one_box_percent",
                f"{cls.one_box_percent:g} % is not in (0, {MAX_ONE_BOX_PERCENT:g}] %",
            )
        rolling = cls.rolling
        if not 0 < rolling.batch_percent <= MAX_BATCH_PERCENT:
            self.problem(
                "rolling.batch_percent",
                f"{rolling.batch_percent:g} % is not in (0, {MAX_BATCH_PERCENT:g}] %",
            )
        if not MIN_HEALTHY_PERCENT <= rolling.min_healthy_percent < 100:
            self.problem(
                "rolling.min_healthy_percent",
                f"{rolling.min_healthy_percent:g} % is not in [{MIN_HEALTHY_PERCENT:g}, 100) %",
            )
        if rolling.batch_percent > 100 - rolling.min_healthy_percent + 1e-9:
            self.problem(
                "rolling",
                f"batches of {rolling.batch_percent:g} % cannot keep "
                f"{rolling.min_healthy_percent:g} % healthy",
            )
        if rolling.fast_rollback and not (
            0 < rolling.fast_forward_percent <= rolling.batch_percent
            and 0 < rolling.rollback_percent <= MAX_BATCH_PERCENT
        ):
            self.problem(
                "rolling.fast_rollback",
                f"forward {rolling.fast_forward_percent:g} % must be in (0, batch_percent] and "
                f"rollback {rolling.rollback_percent:g} % in (0, {MAX_BATCH_PERCENT:g}]",
            )

    def _check_bakes(self) -> None:
        bake = self.cls.bake
        if bake.floor < 0:
            self.problem("bake.floor", f"{bake.floor} s is negative")
        for name in (
            "after_one_box",
            "after_pre_production",
            "after_first_wave",
            "after_later_waves",
            "after_each_az",
        ):
            seconds = getattr(bake, name)
            if seconds < bake.floor:
                self.problem(
                    f"bake.{name}", f"{seconds} s is below the configured floor of {bake.floor} s"
                )
        for index, wave in enumerate(self.cls.waves, start=1):
            if wave.bake_seconds is not None and wave.bake_seconds < bake.floor:
                self.problem(
                    f"waves[{index}].bake_seconds",
                    f"{wave.bake_seconds} s is below the configured floor of {bake.floor} s",
                )

    def _check_window(self) -> None:
        window = self.cls.window
        for day in window.days:
            if not 0 <= day <= 6:
                self.problem("window.days", f"{day} is not a weekday number (Monday=0..Sunday=6)")
        if not (0 <= window.start_hour <= 23 and 1 <= window.end_hour <= 24):
            self.problem("window", f"hours {window.start_hour}-{window.end_hour} are not 0-24")
        elif not window.open_hours():
            self.problem(
                "window",
                f"no open hour: days {list(window.days)}, {window.start_hour}:00-"
                f"{window.end_hour}:00, latest start {window.latest_start_hour}, "
                f"no Fridays {window.no_fridays}",
            )

    def _check_datapoints(self) -> None:
        datapoints = self.cls.datapoints
        if datapoints.minimum < 1:
            self.problem("datapoints.minimum", f"{datapoints.minimum} must be at least 1")
        if datapoints.max_extensions < 0:
            self.problem("datapoints.max_extensions", "must not be negative")

    def _check_people(self) -> None:
        cls = self.cls
        for attribute in ("reviewers", "emergency_approvers"):
            names = getattr(cls, attribute)
            if not isinstance(names, tuple) or not all(isinstance(n, str) for n in names):
                self.problem(attribute, f"must be a tuple of names, got {names!r}")
                continue
            if any(not n.strip() for n in names):
                self.problem(attribute, "a name is blank")
            folded = [n.strip().casefold() for n in names]
            if len(set(folded)) != len(folded):
                self.problem(attribute, f"names a person twice: {list(names)}")
        if isinstance(cls.reviewers, tuple) and not cls.reviewers:
            self.problem(
                "reviewers",
                "name the team members who may approve commits (nothing deploys unreviewed)",
            )
        if not cls.min_emergency_bake_seconds >= 60:
            self.problem(
                "min_emergency_bake_seconds", f"{cls.min_emergency_bake_seconds} is below 60"
            )

    def _check_notify(self) -> None:
        notify: object = self.cls.notify
        if notify is None:
            return
        if not isinstance(notify, Notify):
            self.problem("notify", f"must be Notify(severity=..., emails=...), got {notify!r}")
            return
        if notify.severity not in SEVERITIES:
            self.problem(
                "notify.severity", f"{notify.severity!r} is not one of {', '.join(SEVERITIES)}"
            )
        if not isinstance(notify.emails, tuple) or not all(
            isinstance(e, str) and _EMAIL.fullmatch(e) for e in notify.emails
        ):
            self.problem(
                "notify.emails", f"must be a tuple of email addresses, got {notify.emails!r}"
            )

    def _check_operators(self) -> None:
        operators: object = self.cls.operators
        if not isinstance(operators, tuple) or not all(isinstance(o, str) for o in operators):
            self.problem("operators", f"must be a tuple of IAM ARN patterns, got {operators!r}")
            return
        for pattern in operators:
            if not pattern.strip().startswith(("arn:aws:iam::", "arn:aws:sts::")):
                self.problem(
                    "operators",
                    f"{pattern!r} is not an IAM principal ARN (pattern): write "
                    "arn:aws:iam::ACCOUNT:role/NAME or arn:aws:sts::ACCOUNT:assumed-role/NAME/*",
                )

    def _check_build(self) -> None:
        build: object = self.cls.build
        source: object = self.cls.source
        if source not in ("codecommit", "github"):
            self.problem("source", f"{source!r} is not 'codecommit' or 'github'")
        if not isinstance(build, Build):
            self.problem("build", f"must be a Build(...), got {build!r}")
            return
        for phase in ("install", "build", "unit_tests"):
            commands = getattr(build, phase)
            if not isinstance(commands, tuple) or not all(isinstance(c, str) for c in commands):
                self.problem(f"build.{phase}", f"must be a tuple of shell commands: {commands!r}")
            elif any(not c.strip() for c in commands):
                self.problem(f"build.{phase}", "a command is blank")
        output = PurePosixPath(build.output)
        if not build.output or output.is_absolute() or ".." in output.parts:
            self.problem(
                "build.output",
                f"{build.output!r} must be a folder inside the checkout (relative, no '..')",
            )
        if not build.version.strip() or "\n" in build.version:
            self.problem("build.version", "must be one shell word naming the artifact")
        low, high = BUILD_TIMEOUT_MINUTES
        if not low <= build.timeout_minutes <= high:
            self.problem(
                "build.timeout_minutes",
                f"{build.timeout_minutes} is not in CodeBuild's [{low}, {high}] minutes",
            )

    def _check_integration_tests(self, stages: tuple[StageSpec, ...]) -> None:
        tests: object = self.cls.integration_tests
        if not isinstance(tests, IntegrationTests):
            self.problem("integration_tests", f"must be IntegrationTests(...), got {tests!r}")
            return
        if not tests.command.strip():
            return
        pre_production = [s.name for s in stages if not s.production]
        for stage in tests.stages:
            if stage not in pre_production:
                self.problem(
                    "integration_tests.stages",
                    f"{stage!r} is not a pre-production stage of the pipeline "
                    f"({', '.join(pre_production)})",
                )
            elif not tests.endpoints.get(stage, "").startswith("https://"):
                self.problem(
                    "integration_tests.endpoints",
                    f"{stage!r} needs the https:// endpoint its tests call on AWS",
                )
        build: object = self.cls.build
        if isinstance(build, Build) and not build.entry:
            self.problem(
                "build.entry",
                "name the artifact's handler (module.function): the local runtime serves it "
                "to the integration tests",
            )
        low, high = BUILD_TIMEOUT_MINUTES
        if not low <= tests.timeout_minutes <= high:
            self.problem(
                "integration_tests.timeout_minutes",
                f"{tests.timeout_minutes} is not in CodeBuild's [{low}, {high}] minutes",
            )

    def _check_canary(self) -> None:
        canary: object = self.cls.canary
        if not isinstance(canary, Canary):
            self.problem("canary", f"must be Canary(...), got {canary!r}")
            return
        if not canary.url:
            return
        if not canary.url.startswith("https://") or "{region}" not in canary.url:
            self.problem(
                "canary.url",
                f"{canary.url!r} must be an https:// URL with {{region}}: each region's canary "
                "calls that region's endpoint",
            )
        if canary.method not in ("GET", "POST", "PUT"):
            self.problem("canary.method", f"{canary.method!r} is not GET, POST or PUT")
        if not 1 <= canary.every_minutes <= 60:
            self.problem("canary.every_minutes", f"{canary.every_minutes} is not in [1, 60]")
        if not 100 <= canary.expect_status <= 599:
            self.problem("canary.expect_status", f"{canary.expect_status} is no HTTP status")

    def _check_alarms(self, alarms: Alarms) -> AlarmNames:
        service, team = self.cls.service, getattr(self.cls, "team", "")
        defined = [a.name for a in (*alarms.high_severity, *alarms.one_box, *alarms.canaries)]
        defined += [a.name for a in alarms.anomaly]
        for name in sorted({n for n in defined if defined.count(n) > 1}):
            self.problem("alarms", f"alarm {name!r} is defined twice")
        if not alarms.high_severity:
            self.problem("alarms.high_severity", "needs at least one alarm")
        if not alarms.one_box:
            self.problem("alarms.one_box", "needs at least one alarm")
        names = AlarmNames(
            high_severity_composite=service + HIGH_SEVERITY_SUFFIX,
            one_box_composite=service + ONE_BOX_SUFFIX,
            team_aggregate=team + AGGREGATE_SUFFIX,
            blockers=self.cls.blockers,
        )
        for name in alarms.aggregate_also:
            if name not in defined and not name.endswith("-high-severity"):
                self.problem(
                    "alarms.aggregate_also",
                    f"alarm {name!r} is named but not defined (define it, or name a "
                    "service's '<service>-high-severity' composite)",
                )
        for name in self.cls.blockers:
            if name not in self.catalogue.company_alarms and name != names.team_aggregate:
                self.problem(
                    "blockers",
                    f"alarm {name!r} is named but not defined; company-wide alarms are "
                    f"{', '.join(self.catalogue.company_alarms)}",
                )
        return names

    # --- stages ----------------------------------------------------------------------------

    def _region(self, where: str, name: str) -> bool:
        if self.catalogue.region(name) is None:
            self.problem(where, f"unknown region {name!r}")
            return False
        return True

    def _stages(self) -> tuple[StageSpec, ...]:
        cls, bake = self.cls, self.cls.bake
        stages: list[StageSpec] = []

        def whole_region(name: str, title: str, regions: tuple[str, ...], one_box: bool) -> None:
            valid = tuple(r for r in regions if self._region(name, r))
            if not regions:
                self.problem(name, "needs at least one region")
            scopes = tuple(ScopeSpec(region=r, scope=r) for r in valid)
            steps = []
            if one_box:
                steps.append(
                    StepSpec(
                        name="OneBox",
                        phase="one-box",
                        scopes=scopes,
                        bake_seconds=bake.after_one_box,
                    )
                )
            steps.append(
                StepSpec(
                    name="Rolling",
                    phase="rolling",
                    scopes=scopes,
                    bake_seconds=bake.after_pre_production,
                )
            )
            stages.append(
                StageSpec(
                    name=name, title=title, production=False, regions=valid, steps=tuple(steps)
                )
            )

        whole_region("alpha", "Alpha", (cls.alpha,), one_box=False)
        whole_region("beta", "Beta", (cls.beta,), one_box=False)
        whole_region("gamma", "Gamma", tuple(cls.gamma), one_box=True)
        if cls.zeta is not None:
            whole_region("zeta", "Zeta", (cls.zeta,), one_box=False)

        if not cls.waves:
            self.problem("waves", "needs at least one production wave")
        taken: dict[str, int] = {}
        for index, wave in enumerate(cls.waves, start=1):
            where = f"waves[{index}]"
            if wave.regions == ALL_REMAINING:
                explicit = {r for w in cls.waves if w.regions != ALL_REMAINING for r in w.regions}
                if index != len(cls.waves):
                    self.problem(
                        f"{where}.regions", "'all remaining regions' must be the last wave"
                    )
                regions = tuple(r.name for r in self.catalogue.regions if r.name not in explicit)
            else:
                regions = tuple(wave.regions)
            if not regions:
                self.problem(f"{where}.regions", "the wave is empty")
                continue
            valid: list[str] = []
            for region in regions:
                if not self._region(f"{where}.regions", region):
                    continue
                if region in taken:
                    self.problem(
                        f"{where}.regions",
                        f"region {region!r} is already in waves[{taken[region]}]",
                    )
                    continue
                taken[region] = index
                valid.append(region)
            for region in wave.azs:
                if region not in valid:
                    self.problem(f"{where}.azs", f"region {region!r} is not in this wave")
            stages.append(self._wave(index, where, tuple(valid), wave))
        return tuple(stages)

    def _wave(self, index: int, where: str, regions: tuple[str, ...], wave: Wave) -> StageSpec:
        bake = self.cls.bake
        azs: dict[str, tuple[str, ...]] = {}
        for region in regions:
            known = self.catalogue.by_name[region].azs
            chosen = tuple(wave.azs.get(region, known))
            for az in chosen:
                if az not in known:
                    self.problem(f"{where}.azs", f"unknown AZ {az!r} in region {region!r}")
            azs[region] = tuple(az for az in chosen if az in known)
            if not azs[region]:
                self.problem(f"{where}.azs", f"region {region!r} has no AZ to deploy to")
        steps = [
            StepSpec(
                name="OneBox",
                phase="one-box",
                scopes=tuple(
                    ScopeSpec(region=r, scope=f"{r}/{azs[r][0]}") for r in regions if azs[r]
                ),
                bake_seconds=bake.after_one_box,
            )
        ]
        for k in range(max((len(a) for a in azs.values()), default=0)):
            steps.append(
                StepSpec(
                    name=f"AZ{k + 1}",
                    phase="rolling",
                    scopes=tuple(
                        ScopeSpec(region=r, scope=f"{r}/{azs[r][k]}")
                        for r in regions
                        if len(azs[r]) > k
                    ),
                    bake_seconds=bake.after_each_az,
                )
            )
        final = wave.bake_seconds
        if final is None:
            final = bake.after_first_wave if index == 1 else bake.after_later_waves
        steps.append(
            StepSpec(
                name="Bake",
                phase="bake",
                scopes=tuple(ScopeSpec(region=r, scope=r) for r in regions),
                bake_seconds=final,
            )
        )
        return StageSpec(
            name=f"wave{index}",
            title=f"Wave{index}",
            production=True,
            regions=regions,
            steps=tuple(steps),
        )
