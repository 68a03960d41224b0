"""When a change merged at a time would reach each stage and region: the spec's schedule.

Computed as the state machine runs a change when nothing goes wrong and nothing else holds
a stage: the review passes at once, the build takes `build_seconds`; each stage starts when
the one before it ended; in a stage every region goes through the stage's steps on its own
(`statemachines/generator.py`: a Map over regions), each production step that deploys
(one-box, a rolling AZ or batch) starting only inside that region's window, holidays
included (`domain.rollout.check_window`, the deploy step's own gate), each step then baking
its bake time; the stage ends when its last region has; a pre-production stage that runs
the team's integration tests then waits `tests_seconds` for them. Alarms, supersession and
other changes holding a stage are not foreseen: a plan is the earliest the change can be
everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.catalogue import DEFAULT_CATALOGUE, Catalogue, Region
from domain.rollout import next_opening, window_closed
from domain.spec import PipelineSpec, TimeWindow

DEPLOYING_PHASES = ("one-box", "rolling")


@dataclass(frozen=True)
class Wait:
    region: str
    step: str
    since: datetime
    until: datetime
    reason: str  # each reason it stays closed, in order: "outside the deployment window in
    # us-east-1; public holiday in us-east-1: Thanksgiving Day"


@dataclass(frozen=True)
class RegionPlan:
    stage: str
    region: str
    starts: datetime  # its first step's deployment
    ends: datetime  # its last step baked
    waits: tuple[Wait, ...]


@dataclass(frozen=True)
class StagePlan:
    stage: str
    production: bool
    enters: datetime
    ends: datetime  # its last region done (and its integration tests, when it runs them)
    regions: tuple[RegionPlan, ...]


@dataclass(frozen=True)
class Plan:
    pipeline_id: str
    merged_at: datetime
    built_at: datetime
    stages: tuple[StagePlan, ...]

    @property
    def everywhere(self) -> datetime:
        return self.stages[-1].ends if self.stages else self.built_at


def plan(
    spec: PipelineSpec,
    merged_at: datetime,
    *,
    build_seconds: float = 600,
    tests_seconds: float = 900,
    catalogue: Catalogue = DEFAULT_CATALOGUE,
) -> Plan:
    built = merged_at + timedelta(seconds=build_seconds)
    now = built
    stages = []
    for stage in spec.stages:
        enters = now
        regions = []
        for region_name in stage.regions:
            region = catalogue.region(region_name)
            if region is None:
                raise ValueError(f"region {region_name!r} is not in the catalogue")
            t = enters
            starts: datetime | None = None
            waits: list[Wait] = []
            for step in stage.steps:
                if not any(scope.region == region_name for scope in step.scopes):
                    continue
                if stage.production and step.phase in DEPLOYING_PHASES:
                    closed = window_closed(t, region, spec.window)
                    if closed is not None:
                        opening = next_opening(t, region, spec.window)
                        reasons = _reasons(t, opening, region, spec.window)
                        waits.append(Wait(region_name, step.name, t, opening, reasons))
                        t = opening
                if starts is None:
                    starts = t
                t += timedelta(seconds=step.bake_seconds)
            regions.append(
                RegionPlan(
                    stage=stage.name,
                    region=region_name,
                    starts=starts or t,
                    ends=t,
                    waits=tuple(waits),
                )
            )
        ends = max((r.ends for r in regions), default=enters)
        if spec.tests_at(stage.name):
            ends += timedelta(seconds=tests_seconds)
        stages.append(
            StagePlan(
                stage=stage.name,
                production=stage.production,
                enters=enters,
                ends=ends,
                regions=tuple(regions),
            )
        )
        now = ends
    return Plan(
        pipeline_id=spec.pipeline_id, merged_at=merged_at, built_at=built, stages=tuple(stages)
    )


def _reasons(since: datetime, until: datetime, region: Region, window: TimeWindow) -> str:
    """Every distinct reason the window stays closed from `since` to `until`, in order (a
    wait over a holiday names the holiday, not only the closing hour before it)."""
    found: dict[str, None] = {}
    moment = since
    while moment < until:
        closed = window_closed(moment, region, window)
        if closed is not None:
            found.setdefault(closed.reason, None)
        moment = moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return "; ".join(found)
