"""Pipelines as code: the reference resolves as designed; invalid classes say what is wrong."""

from __future__ import annotations

import pytest

from domain.catalogue import DEFAULT_CATALOGUE, Catalogue, Region
from domain.spec import (
    ALL_REMAINING,
    Alarms,
    BakeTimes,
    Build,
    Canary,
    Pipeline,
    PipelineSpecError,
    Rolling,
    TimeWindow,
    Wave,
    resolve_all,
    standard_alarms,
)
from examples.reference import (
    PIPELINES,
    CreateOrderApp,
    CreateOrderConfig,
    OrderHistoryApp,
    OrdersTeamPipeline,
)


def test_reference_pipeline_covers_24_regions_and_76_azs_in_5_waves() -> None:
    spec = CreateOrderApp.spec()

    waves = [stage for stage in spec.stages if stage.production]
    assert [w.name for w in waves] == ["wave1", "wave2", "wave3", "wave4", "wave5"]
    assert [len(w.regions) for w in waves] == [1, 1, 3, 12, 7]
    production_azs = {
        scope.scope
        for w in waves
        for step in w.steps
        if step.phase == "rolling"
        for scope in step.scopes
    }
    assert len(production_azs) == 76
    assert len({r for w in waves for r in w.regions}) == 24
    assert [s.name for s in spec.stages[:3]] == ["alpha", "beta", "gamma"]


def test_first_wave_is_low_traffic_second_high_traffic_az_by_az() -> None:
    spec = CreateOrderApp.spec()
    wave1, wave2 = spec.stages[3], spec.stages[4]
    assert DEFAULT_CATALOGUE.by_name[wave1.regions[0]].traffic == "low"
    assert DEFAULT_CATALOGUE.by_name[wave2.regions[0]].traffic == "high"
    assert [step.name for step in wave2.steps] == [
        "OneBox",
        "AZ1",
        "AZ2",
        "AZ3",
        "AZ4",
        "AZ5",
        "AZ6",
        "Bake",
    ]


def test_every_wave_starts_with_one_box_and_steps_take_one_az_per_region() -> None:
    for pipeline in PIPELINES:
        for stage in pipeline.spec().stages:
            if not stage.production:
                continue
            assert stage.steps[0].phase == "one-box"
            assert stage.steps[-1].phase == "bake"
            for step in stage.steps:
                regions = [scope.region for scope in step.scopes]
                assert len(regions) == len(set(regions)), (stage.name, step.name)


def test_gamma_spans_regions_and_has_a_one_box_step() -> None:
    gamma = CreateOrderApp.spec().stages[2]
    assert gamma.regions == ("us-east-1", "eu-west-1")
    assert [step.phase for step in gamma.steps] == ["one-box", "rolling"]


def test_default_bakes_follow_the_article() -> None:
    spec = CreateOrderApp.spec()
    wave1, wave3 = spec.stages[3], spec.stages[5]
    assert wave1.steps[0].bake_seconds == 3600  # after one-box
    assert wave1.steps[-1].bake_seconds == 12 * 3600  # after the first wave
    assert wave3.steps[-1].bake_seconds == 3 * 3600  # 2-4 h after later waves
    assert wave3.steps[1].bake_seconds == 1800  # extra per AZ


def test_subclasses_override_only_what_differs() -> None:
    app, config, history = CreateOrderApp.spec(), CreateOrderConfig.spec(), OrderHistoryApp.spec()

    assert config.pipeline_id == "create-order-configuration"
    assert config.kind == "configuration"
    assert config.bake.after_one_box == 1800
    assert [s.regions for s in config.stages] == [s.regions for s in app.stages]
    assert history.window.no_fridays
    assert app.window == OrdersTeamPipeline.window
    assert {p.spec().team for p in PIPELINES} == {"orders"}
    assert history.alarm_names.high_severity_composite == "order-history-high-severity"
    assert history.alarm_names.team_aggregate == "orders-aggregate"


def test_adding_a_region_to_the_catalogue_adds_it_to_every_pipeline() -> None:
    extra = Region(
        name="eu-west-9",
        azs=("euw9-az1", "euw9-az2"),
        time_zone="Europe/Dublin",
        traffic="low",
        holiday_country="IE",
    )
    catalogue = Catalogue((*DEFAULT_CATALOGUE.regions, extra))

    for pipeline in PIPELINES:
        spec = pipeline.spec(catalogue)
        assert "eu-west-9" in spec.stages[-1].regions
        assert ("wave5", "eu-west-9/euw9-az2") in spec.scopes()


def test_standard_alarms_cover_practice_12_and_13() -> None:
    alarms = standard_alarms("create-order")
    high = {a.name.removeprefix("create-order-") for a in alarms.high_severity}
    assert high == {
        "fault-rate",
        "latency-p50",
        "latency-p90",
        "latency-p99",
        "cpu",
        "memory",
        "disk",
        "log-errors",
        "failing-health-checks",
    }
    assert len(alarms.one_box) == len(alarms.high_severity)
    assert {a.metric for a in alarms.anomaly} == {"RequestCount", "Latency", "Errors"}


# --- invalid specs -------------------------------------------------------------------------


class Base(OrdersTeamPipeline):
    service = "broken"
    repository = "acme/broken"


def _problems(pipeline: type[Pipeline]) -> tuple[str, ...]:
    with pytest.raises(PipelineSpecError) as raised:
        pipeline.spec()
    for problem in raised.value.problems:
        assert problem.startswith("pipeline broken-application: ")
        assert problem in str(raised.value)
    return raised.value.problems


def test_unknown_region_and_az() -> None:
    class Broken(Base):
        gamma = ("us-east-1", "eu-wst-1")
        waves = (
            Wave(regions=("af-south-1",), azs={"af-south-1": ("afs1-az1", "afs1-az9")}),
            Wave(regions=("mars-north-1",)),
        )

    assert _problems(Broken) == (
        "pipeline broken-application: gamma: unknown region 'eu-wst-1'",
        "pipeline broken-application: waves[1].azs: unknown AZ 'afs1-az9' in region 'af-south-1'",
        "pipeline broken-application: waves[2].regions: unknown region 'mars-north-1'",
    )


def test_region_in_two_waves_and_empty_wave() -> None:
    class Broken(Base):
        waves = (
            Wave(regions=("af-south-1",)),
            Wave(regions=()),
            Wave(regions=("us-east-1", "af-south-1")),
        )

    assert _problems(Broken) == (
        "pipeline broken-application: waves[2].regions: the wave is empty",
        "pipeline broken-application: waves[3].regions: region 'af-south-1' is already in waves[1]",
    )


def test_all_remaining_that_leaves_nothing_is_an_empty_wave() -> None:
    every = tuple(r.name for r in DEFAULT_CATALOGUE.regions)

    class Broken(Base):
        waves = (Wave(regions=every), Wave(regions=ALL_REMAINING))

    assert _problems(Broken) == (
        "pipeline broken-application: waves[2].regions: the wave is empty",
    )


def test_build_commands_output_version_and_timeout_are_checked() -> None:
    class Broken(Base):
        source = "svn"  # type: ignore[assignment]
        build = Build(
            install=("pip install -r requirements.txt", "  "),
            build="make",  # type: ignore[arg-type]
            output="../elsewhere",
            version="",
            timeout_minutes=3,
        )

    assert _problems(Broken) == (
        "pipeline broken-application: source: 'svn' is not 'codecommit' or 'github'",
        "pipeline broken-application: build.install: a command is blank",
        "pipeline broken-application: build.build: must be a tuple of shell commands: 'make'",
        "pipeline broken-application: build.output: '../elsewhere' must be a folder inside the "
        "checkout (relative, no '..')",
        "pipeline broken-application: build.version: must be one shell word naming the artifact",
        "pipeline broken-application: build.timeout_minutes: 3 is not in CodeBuild's "
        "[5, 2160] minutes",
    )


def test_the_reference_service_declares_its_build() -> None:
    build = CreateOrderApp.spec().build
    assert build.unit_tests == ("PYTHONPATH=src python -m unittest discover -s unit_tests -q",)
    assert (build.output, build.version) == ("dist", "$(cat VERSION)")
    assert [phase for phase, _ in build.phases()] == ["INSTALL", "BUILD", "POST_BUILD"]


def test_one_box_share_and_batch_limits() -> None:
    class Broken(Base):
        one_box_percent = 15.0
        rolling = Rolling(batch_percent=40.0)

    problems = _problems(Broken)
    assert "pipeline broken-application: one_box_percent: 15 % is not in (0, 10] %" in problems
    assert (
        "pipeline broken-application: rolling.batch_percent: 40 % is not in (0, 33] %" in problems
    )


def test_bake_below_floor() -> None:
    class Broken(Base):
        bake = BakeTimes(after_one_box=600, floor=1800)

    assert _problems(Broken) == (
        "pipeline broken-application: bake.after_one_box: 600 s is below the configured floor "
        "of 1800 s",
    )


def test_time_window_with_no_open_hour() -> None:
    class Broken(Base):
        window = TimeWindow(days=(4,), no_fridays=True)

    (problem,) = _problems(Broken)
    assert problem.startswith("pipeline broken-application: window: no open hour")


def test_late_start_before_opening_has_no_open_hour() -> None:
    class Broken(Base):
        window = TimeWindow(start_hour=9, end_hour=17, latest_start_hour=8)

    (problem,) = _problems(Broken)
    assert "no open hour" in problem


def test_alarms_named_but_not_defined() -> None:
    class Broken(Base):
        blockers = ("company-large-scale-event", "team-panic-button")

        @classmethod
        def alarms(cls) -> Alarms:
            standard = standard_alarms(cls.service)
            return Alarms(
                high_severity=standard.high_severity,
                one_box=standard.one_box,
                anomaly=standard.anomaly,
                aggregate_also=("payments-latency",),
            )

    problems = _problems(Broken)
    assert any(
        "alarms.aggregate_also: alarm 'payments-latency' is named but not defined" in p
        for p in problems
    )
    assert any(
        "blockers: alarm 'team-panic-button' is named but not defined" in p for p in problems
    )


def test_missing_fields_are_reported_together() -> None:
    class Nameless(Pipeline):
        waves = (Wave(regions=("af-south-1",)),)

    with pytest.raises(PipelineSpecError) as raised:
        Nameless.spec()
    assert [p.split(": ")[1] for p in raised.value.problems] == [
        "team",
        "service",
        "repository",
        "reviewers",
    ]


def test_a_team_name_too_long_for_its_deploy_role_names_fails_the_build_by_name() -> None:
    long_team = type(
        "LongTeam",
        (CreateOrderApp,),
        {"team": "t" * 34, "blockers": ("company-large-scale-event",)},
    )
    with pytest.raises(PipelineSpecError) as raised:
        resolve_all((long_team,), "tests")
    assert raised.value.problems == (
        "pipeline create-order-application: team: '" + "t" * 34 + "' is 34 characters; at "
        "most 33, so that its deploy role 'shipwave-deploy-" + "t" * 34 + "-<region>' fits "
        "IAM's 64-character role names in every region",
    )
    resolve_all((type("LongestTeam", (long_team,), {"team": "t" * 33}),), "tests")


def test_a_canary_calls_each_regions_own_https_endpoint() -> None:
    class Broken(Base):
        canary = Canary(url="http://orders.example/health", every_minutes=0, expect_status=42)

    assert _problems(Broken) == (
        "pipeline broken-application: canary.url: 'http://orders.example/health' must be an "
        "https:// URL with {region}: each region's canary calls that region's endpoint",
        "pipeline broken-application: canary.every_minutes: 0 is not in [1, 60]",
        "pipeline broken-application: canary.expect_status: 42 is no HTTP status",
    )
