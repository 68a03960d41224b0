"""A stage's integration tests as decisions (domain/integration.py), their states in the ASL,
and what a spec must say for them."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import UnknownBuildError
from domain.events import (
    Artifact,
    ArtifactBuilt,
    ChangeReceived,
    Commit,
    Event,
    IntegrationTestsFailed,
    IntegrationTestsPassed,
    IntegrationTestsStarted,
    ReviewPassed,
    StageLeaseAcquired,
    Stamper,
)
from domain.integration import decide_finished, decide_started
from domain.spec import Build, IntegrationTests, PipelineSpecError
from domain.state import PipelineState, evolve, project
from examples.reference import CreateOrderApp, OrdersTeamPipeline
from statemachines.generator import definition
from tests.builders import T0

PIPELINE = "create-order-application"
RUN = "arn:aws:codebuild:us-east-1:123456789012:build/shipwave-build-x-tests:r1"


def holding(stage: str = "alpha") -> PipelineState:
    stamp = Stamper(PIPELINE, 1, T0)
    events: list[Event] = [
        stamp(
            ChangeReceived,
            "c1:received",
            change_id="c1",
            source="local",
            repository="acme/create-order",
            branch="main",
            commits=(Commit(commit_id="a" * 40, author="ana"),),
            head="a" * 40,
        ),
        stamp(ReviewPassed, "c1:review-passed", change_id="c1", approvals=()),
        stamp(
            ArtifactBuilt,
            "c1:built",
            change_id="c1",
            artifact=Artifact(version="v2", checksum="sha256:" + "ab" * 32, uri="s3://b/k.zip"),
        ),
        stamp(StageLeaseAcquired, f"c1:{stage}:lease", stage=stage, change_id="c1"),
    ]
    return project(events)


def started(state: PipelineState) -> PipelineState:
    (event,) = decide_started(
        state,
        Stamper(PIPELINE, state.sequence + 1, T0),
        change_id="c1",
        stage="alpha",
        run_id=RUN,
        token="tok",
    )
    assert isinstance(event, IntegrationTestsStarted)
    return evolve(state, event)


def finish(state: PipelineState, **outcome: Any) -> list[Event]:
    fields: dict[str, Any] = {
        "status": "SUCCEEDED",
        "failed_tests": (),
        "reason": "",
        "log_url": "",
    }
    fields.update(outcome)
    return decide_finished(
        state,
        Stamper(PIPELINE, state.sequence + 1, T0),
        change_id="c1",
        stage="alpha",
        run_id=RUN,
        **fields,
    )


def test_tests_run_only_for_the_built_change_holding_the_stage() -> None:
    with pytest.raises(UnknownBuildError, match="does not hold 'beta'"):
        decide_started(
            holding(), Stamper(PIPELINE, 5, T0), change_id="c1", stage="beta", run_id=RUN, token="t"
        )
    with pytest.raises(UnknownBuildError, match="not a built change"):
        decide_started(
            holding(),
            Stamper(PIPELINE, 5, T0),
            change_id="ghost",
            stage="alpha",
            run_id=RUN,
            token="t",
        )
    state = started(holding())
    assert state.changes["c1"].status == "testing"
    again = decide_started(
        state,
        Stamper(PIPELINE, state.sequence + 1, T0),
        change_id="c1",
        stage="alpha",
        run_id=RUN,
        token="tok",
    )
    assert again == []  # a retried start records nothing


def test_a_run_that_succeeded_with_no_failed_test_passes() -> None:
    (passed,) = finish(started(holding()))
    assert isinstance(passed, IntegrationTestsPassed)


@pytest.mark.parametrize(
    ("outcome", "named"),
    [
        (
            {"status": "FAILED", "failed_tests": ("T.test_limit",), "reason": "1 of 5 failed"},
            ("T.test_limit",),
        ),
        (
            {"status": "SUCCEEDED", "failed_tests": ("T.test_limit",)},
            ("T.test_limit",),
        ),  # exit 0, report says no
        ({"status": "TIMED_OUT"}, ()),
        ({"status": "STOPPED"}, ()),
    ],
)
def test_anything_but_a_clean_success_fails_the_stage_naming_the_failed_tests(
    outcome: dict[str, Any], named: tuple[str, ...]
) -> None:
    state = started(holding())
    (failed,) = finish(state, **outcome)
    assert isinstance(failed, IntegrationTestsFailed)
    assert failed.failed_tests == named
    after = evolve(state, failed)
    assert after.changes["c1"].status == "rolling-back"
    assert after.changes["c1"].reason.startswith("integration tests failed at alpha: ")


def test_a_run_still_going_decides_nothing_and_an_unknown_run_is_refused() -> None:
    state = started(holding())
    assert finish(state, status="IN_PROGRESS") == []
    with pytest.raises(UnknownBuildError, match="no integration test run"):
        finish(holding())


def test_the_stages_named_get_a_test_callback_between_deploying_and_succeeding() -> None:
    states = definition(CreateOrderApp.spec())["States"]
    assert states["Alpha · Regions"]["Next"] == "Alpha · Integration tests"
    tests = states["Alpha · Integration tests"]
    assert tests["Resource"].endswith(".waitForTaskToken")
    assert tests["Parameters"]["Payload"]["action"] == "test"
    assert tests["Next"] == "Alpha · Succeeded"
    assert tests["Catch"][0]["Next"] == "Alpha · Tests failed"
    assert states["Alpha · Tests failed"]["Next"] == "Alpha · Roll back"
    assert states["Alpha · Tests failed"]["ResultPath"] == "$.error"  # why, from the log
    assert states["Gamma · Regions"]["Next"] == "Gamma · Integration tests"
    # production waves are not tested this way (the canaries and alarms watch them)
    assert states["Wave1 · Regions"]["Next"] == "Wave1 · Succeeded"
    assert "Wave1 · Integration tests" not in states


def test_a_spec_without_tests_has_no_test_states() -> None:
    class Untested(OrdersTeamPipeline):
        service = "untested"
        repository = "acme/untested"

    assert not [name for name in definition(Untested.spec())["States"] if "tests" in name.lower()]


def test_integration_tests_need_pre_production_stages_endpoints_and_an_entry() -> None:
    class Broken(OrdersTeamPipeline):
        service = "broken"
        repository = "acme/broken"
        build = Build()
        integration_tests = IntegrationTests(
            command="make integration",
            stages=("alpha", "wave1", "nostage"),
            endpoints={"alpha": "http://plain.example"},
            timeout_minutes=1,
        )

    with pytest.raises(PipelineSpecError) as raised:
        Broken.spec()
    assert raised.value.problems == (
        "pipeline broken-application: integration_tests.endpoints: 'alpha' needs the "
        "https:// endpoint its tests call on AWS",
        "pipeline broken-application: integration_tests.stages: 'wave1' is not a "
        "pre-production stage of the pipeline (alpha, beta, gamma)",
        "pipeline broken-application: integration_tests.stages: 'nostage' is not a "
        "pre-production stage of the pipeline (alpha, beta, gamma)",
        "pipeline broken-application: build.entry: name the artifact's handler "
        "(module.function): the local runtime serves it to the integration tests",
        "pipeline broken-application: integration_tests.timeout_minutes: 1 is not in "
        "CodeBuild's [5, 2160] minutes",
    )


def test_zeta_runs_the_integration_tests_against_the_endpoint_it_names() -> None:
    """Zeta (production endpoints of the team's other services) is a pre-production stage
    like the others: named, it gets its own test run between deploying and succeeding."""

    class WithZeta(CreateOrderApp):
        zeta = "us-east-1"
        integration_tests = IntegrationTests(
            command=CreateOrderApp.integration_tests.command,
            stages=("alpha", "zeta"),
            endpoints={
                "alpha": "https://orders.alpha.acme.example",
                "zeta": "https://orders.zeta.acme.example",
            },
        )

    spec = WithZeta.spec()
    assert spec.tests_at("zeta")
    assert not spec.tests_at("beta")
    states = definition(spec)["States"]
    assert states["Zeta · Regions"]["Next"] == "Zeta · Integration tests"
    assert states["Zeta · Integration tests"]["Next"] == "Zeta · Succeeded"
    assert states["Beta · Regions"]["Next"] == "Beta · Succeeded"
