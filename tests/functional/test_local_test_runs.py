"""The local integration test runs: the example service's real integration tests, in a
subprocess, against a loopback endpoint serving the very artifact the build made."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.git_source import GitRepository
from domain.builds import Built, outcome
from domain.events import Artifact
from domain.ports import BuildRequest, IntegrationTestRequest
from examples.reference import SERVICE_CODE, CreateOrderApp
from statemachines.local.artifacts import LocalArtifactStore
from statemachines.local.builder import LocalBuilder
from statemachines.local.endpoint import url_event
from statemachines.local.test_runs import LocalTestRunner
from tests.aws.conftest import fixture

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SPEC = CreateOrderApp.spec()
CODE = SERVICE_CODE[SPEC.repository]


@pytest.fixture
def repository(tmp_path: Path) -> GitRepository:
    repository = GitRepository(tmp_path / "repo")
    files = {
        p.relative_to(CODE).as_posix(): p.read_text()
        for p in CODE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    repository.commit("first", author="ana", at=AT, files={**files, "VERSION": "v1.1.0\n"})
    return repository


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "artifacts")


def built(
    repository: GitRepository, store: LocalArtifactStore, tmp_path: Path, commit: str
) -> Artifact:
    builder = LocalBuilder(
        {SPEC.repository: repository},
        store,
        tmp_path / "builds",
        account="123456789012",
        region="us-east-1",
    )
    build = builder.build_now(
        BuildRequest(
            pipeline_id=SPEC.pipeline_id,
            change_id=commit[:8],
            repository=SPEC.repository,
            commit_id=commit,
            build=SPEC.build,
        )
    )
    result = outcome(build.report(), pipeline_id=SPEC.pipeline_id)
    assert isinstance(result, Built), build.log.read_text()
    return result.artifact


def request(commit: str, artifact: Artifact, **changes: object) -> IntegrationTestRequest:
    tests = SPEC.integration_tests
    base = IntegrationTestRequest(
        pipeline_id=SPEC.pipeline_id,
        change_id="c1",
        stage="alpha",
        repository=SPEC.repository,
        commit_id=commit,
        artifact=artifact,
        command=tests.command,
        endpoint=tests.endpoints["alpha"],
        entry=SPEC.build.entry,
        timeout_minutes=tests.timeout_minutes,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def runner(repository: GitRepository, store: LocalArtifactStore, tmp_path: Path) -> LocalTestRunner:
    return LocalTestRunner(
        {SPEC.repository: repository},
        store,
        tmp_path / "tests",
        account="123456789012",
        region="us-east-1",
    )


def test_the_services_integration_tests_pass_against_its_artifact(
    runner: LocalTestRunner, repository: GitRepository, store: LocalArtifactStore, tmp_path: Path
) -> None:
    commit = repository.head()
    run = runner.run_now(request(commit, built(repository, store, tmp_path, commit)))
    assert run.status == "SUCCEEDED", run.log.read_text()
    assert (run.tests, run.failed) == (5, ())
    assert run.endpoint.startswith("http://127.0.0.1:")
    log = run.log.read_text()
    assert "test_an_order_of_more_than_fifty_items_is_refused" in log
    assert "POST /orders" in log  # the endpoint process served the requests


def test_a_bug_no_unit_test_sees_fails_the_integration_test_that_names_it(
    runner: LocalTestRunner, repository: GitRepository, store: LocalArtifactStore, tmp_path: Path
) -> None:
    code = (
        (CODE / "src" / "orders.py").read_text().replace("MAX_ITEMS = 50\n", "MAX_ITEMS = 5000\n")
    )
    commit = repository.commit("take any order", author="ana", at=AT, files={"src/orders.py": code})
    run = runner.run_now(request(commit, built(repository, store, tmp_path, commit)))
    assert run.status == "FAILED"
    assert run.failed == (
        "integration_tests.test_api.CreateOrderEndpointTest.test_an_order_of_more_than_fifty_items_is_refused",
    )
    assert runner.failed_tests(run.run_id) == run.failed
    assert run.reason == "1 of 5 integration tests failed"


def test_an_artifact_whose_bytes_are_not_its_checksum_is_never_served(
    runner: LocalTestRunner, repository: GitRepository, store: LocalArtifactStore, tmp_path: Path
) -> None:
    commit = repository.head()
    artifact = built(repository, store, tmp_path, commit)
    forged = replace(artifact, checksum="sha256:" + "00" * 32)
    run = runner.run_now(request(commit, forged))
    assert run.status == "FAILED"
    assert "not served" in run.reason
    assert run.endpoint == ""


def test_a_run_that_writes_no_report_fails(
    runner: LocalTestRunner, repository: GitRepository, store: LocalArtifactStore, tmp_path: Path
) -> None:
    commit = repository.head()
    run = runner.run_now(
        request(commit, built(repository, store, tmp_path, commit), command="true")
    )
    assert run.status == "FAILED"
    assert "no readable JUnit report" in run.reason


def test_code_that_does_not_load_fails_the_run_before_any_test(
    runner: LocalTestRunner, repository: GitRepository, store: LocalArtifactStore, tmp_path: Path
) -> None:
    commit = repository.head()
    run = runner.run_now(
        request(commit, built(repository, store, tmp_path, commit), entry="nowhere.handler")
    )
    assert run.status == "FAILED"
    assert "does not load" in run.reason


def test_its_report_is_codebuilds_event_and_a_run_starts_once(
    runner: LocalTestRunner, repository: GitRepository, store: LocalArtifactStore, tmp_path: Path
) -> None:
    commit = repository.head()
    first = runner.start(request(commit, built(repository, store, tmp_path, commit)))
    assert runner.start(request(commit, built(repository, store, tmp_path, commit))) == first
    (event,) = runner.reports
    published = fixture("codebuild-build-state-change.json")
    assert set(event) <= set(published)
    assert set(event["detail"]) <= set(published["detail"])
    variables = {
        v["name"]: v["value"]
        for v in event["detail"]["additional-information"]["environment"]["environment-variables"]
    }
    assert variables["SHIPWAVE_STAGE"] == "alpha"
    assert event["detail"]["project-name"] == f"shipwave-build-{SPEC.pipeline_id}-tests"


def test_the_endpoint_hands_requests_over_as_a_function_url_event() -> None:
    """The fields the service's handler reads are those of the published Function URL
    request (payload format 2.0)."""
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    request = Request(EnvironBuilder(path="/orders", method="POST", data=b'{"a": 1}').get_environ())
    event = url_event(request)
    published = fixture("lambda-function-url-request.json")
    assert set(event) <= set(published)
    assert set(event["requestContext"]["http"]) <= set(published["requestContext"]["http"])
    assert (event["body"], event["isBase64Encoded"], event["rawPath"]) == (
        '{"a": 1}',
        False,
        "/orders",
    )
