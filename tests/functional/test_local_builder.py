"""The local builder: the spec's build commands in real subprocesses, on a real git checkout
of the exact commit, unit tests with no network, reported as CodeBuild reports a build."""

from __future__ import annotations

import json
import socket
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.git_source import GitRepository
from domain.artifacts import S3Location
from domain.builds import Built, NotBuilt, outcome
from domain.events import Artifact
from domain.ports import BuildRequest
from examples.reference import SERVICE_CODE, CreateOrderApp
from statemachines.local.artifacts import ArtifactExistsError, LocalArtifactStore
from statemachines.local.builder import LocalBuilder, network_isolation
from tests.aws.conftest import fixture

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SPEC = CreateOrderApp.spec()
REPOSITORY = SPEC.repository


@pytest.fixture
def repository(tmp_path: Path) -> GitRepository:
    """The example service's code, committed to a real git repository at v1.1.0."""
    repository = GitRepository(tmp_path / "repo")
    code = SERVICE_CODE[REPOSITORY]
    files = {
        p.relative_to(code).as_posix(): p.read_text()
        for p in code.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    repository.commit("first", author="ana", at=AT, files={**files, "VERSION": "v1.1.0\n"})
    return repository


@pytest.fixture
def builder(repository: GitRepository, tmp_path: Path) -> LocalBuilder:
    return LocalBuilder(
        {REPOSITORY: repository},
        LocalArtifactStore(tmp_path / "artifacts"),
        tmp_path / "builds",
        account="123456789012",
        region="us-east-1",
    )


def request(commit: str, change: str = "c1", **build: Any) -> BuildRequest:
    spec_build = replace(SPEC.build, **build)
    return BuildRequest(
        pipeline_id=SPEC.pipeline_id,
        change_id=change,
        repository=REPOSITORY,
        commit_id=commit,
        build=spec_build,
    )


def test_the_example_service_builds_into_a_zip_whose_sha256_is_recorded(
    builder: LocalBuilder, repository: GitRepository
) -> None:
    build = builder.build_now(request(repository.head()))
    assert build.status == "SUCCEEDED", build.log.read_text()
    built = outcome(build.report(), pipeline_id=SPEC.pipeline_id)
    assert isinstance(built, Built)
    artifact = built.artifact
    assert artifact.version == "v1.1.0"
    assert artifact.uri.startswith(
        f"s3://shipwave-artifacts-123456789012-us-east-1/{SPEC.pipeline_id}/"
    )
    assert builder.store.verify(artifact, "production", "eu-west-1")
    location = S3Location(*artifact.uri.removeprefix("s3://").split("/", 1))
    with zipfile.ZipFile(builder.store.path(location)) as archive:
        names = set(archive.namelist())
    assert {"orders.py", "VERSION"} <= names  # the output folder (dist), packed once
    assert "unit_tests/test_orders.py" not in names
    log = build.log.read_text()
    assert "Running command PYTHONPATH=src python -m unittest discover -s unit_tests -q" in log
    assert "Ran 5 tests" in log  # the service's own unit tests ran


def test_the_same_commit_builds_the_same_bytes(
    builder: LocalBuilder, repository: GitRepository
) -> None:
    first = builder.build_now(request(repository.head()))
    second = builder.build_now(request(repository.head(), change="c2"))
    assert first.sha256 == second.sha256
    assert first.location != second.location  # each build its own immutable object


def test_the_artifact_store_writes_an_object_once(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    where = S3Location("shipwave-artifacts-123456789012-us-east-1", "p/b/v1.zip")
    digest = store.put(where, b"zip")
    with pytest.raises(ArtifactExistsError, match="written once"):
        store.put(where, b"other bytes")
    artifact = Artifact(version="v1", checksum=f"sha256:{digest}", uri=where.uri)
    assert store.verify(artifact, "production", "us-east-1")
    store.path(where).write_bytes(b"damaged")  # as a test damages it, not the store
    assert not store.verify(artifact, "production", "us-east-1")


def test_a_failing_unit_test_fails_the_build_in_post_build_naming_the_command(
    builder: LocalBuilder, repository: GitRepository
) -> None:
    code = (repository.path / "src" / "orders.py").read_text()
    broken = repository.commit(
        "price each line as one unit",
        author="ana",
        at=AT,
        files={
            "src/orders.py": code.replace(
                'item["quantity"] * item["unit_price_cents"]', 'item["unit_price_cents"]'
            )
        },
    )
    build = builder.build_now(request(broken))
    assert build.status == "FAILED"
    failed = outcome(build.report(), pipeline_id=SPEC.pipeline_id)
    assert failed == NotBuilt(
        phase="POST_BUILD",
        reason="FAILED while running the unit tests: COMMAND_EXECUTION_ERROR: Error while "
        "executing command: PYTHONPATH=src python -m unittest discover -s unit_tests -q. "
        "Reason: exit status 1",
    )
    assert "FAIL: test_an_order_is_priced_line_by_line" in build.log.read_text()
    assert build.location == ""  # nothing was stored


def test_a_commit_that_does_not_exist_fails_at_checkout(builder: LocalBuilder) -> None:
    build = builder.build_now(request("0" * 40))
    failed = outcome(build.report(), pipeline_id=SPEC.pipeline_id)
    assert isinstance(failed, NotBuilt)
    assert failed.phase == "DOWNLOAD_SOURCE"


def test_a_build_past_its_timeout_is_timed_out(
    builder: LocalBuilder, repository: GitRepository
) -> None:
    build = builder.build_now(request(repository.head(), build=("sleep 30",), timeout_minutes=0))
    assert build.status == "TIMED_OUT"
    failed = outcome(build.report(), pipeline_id=SPEC.pipeline_id)
    assert isinstance(failed, NotBuilt)
    assert failed.phase == "BUILD"
    assert "BUILD_TIMED_OUT" in failed.reason


@pytest.fixture
def listening() -> Iterator[int]:
    """A TCP server on this machine's loopback, outside any build."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def test_unit_tests_have_no_network_while_the_install_phase_has(
    builder: LocalBuilder, repository: GitRepository, listening: int
) -> None:
    if not network_isolation():
        pytest.skip("this OS refuses unshare --net: the builder says so in each build's log")
    connect = (
        "python -c \"import socket; socket.create_connection(('127.0.0.1', "
        f'{listening}), timeout=2)"'
    )
    installed = builder.build_now(request(repository.head(), install=(connect,), unit_tests=()))
    assert installed.status == "SUCCEEDED", installed.log.read_text()
    isolated = builder.build_now(request(repository.head(), change="c2", unit_tests=(connect,)))
    assert isolated.status == "FAILED"
    assert isolated.network_isolated
    failed = outcome(isolated.report(), pipeline_id=SPEC.pipeline_id)
    assert isinstance(failed, NotBuilt)
    assert failed.phase == "POST_BUILD"
    assert "unit tests run with no network" in isolated.log.read_text()


def _keys(value: Any) -> set[str]:
    """Every key path of a JSON value ("a.b", lists as "a[]")."""
    found: set[str] = set()

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                found.add(f"{path}.{key}" if path else key)
                walk(child, f"{path}.{key}" if path else key)
        elif isinstance(node, list):
            for child in node:
                walk(child, f"{path}[]")

    walk(value, "")
    return found


def test_its_report_has_the_published_shape_of_codebuilds_event(
    builder: LocalBuilder, repository: GitRepository
) -> None:
    """Every field the local report carries is one CodeBuild's published sample carries."""
    builder.start(request(repository.head()))
    (event,) = builder.reports
    published = fixture("codebuild-build-state-change.json")
    assert _keys(event) <= _keys(published), _keys(event) - _keys(published)
    assert event["detail"]["build-status"] == "SUCCEEDED"
    assert json.dumps(event)  # plain JSON, as EventBridge delivers it
    assert builder.start(request(repository.head())) == event["detail"]["build-id"]  # once
    assert len(builder.reports) == 1
