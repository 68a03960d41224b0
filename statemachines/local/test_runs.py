"""The local runtime's integration tests: the spec's test command in a subprocess, against a
loopback endpoint that serves the very artifact the stage deployed.

For each run: the artifact's zip is read from the local artifact store and its sha256 checked
(a copy that is not the artifact is never served), unpacked, and served by
`statemachines.local.endpoint` in its own process on 127.0.0.1; the tests' code is a `git archive`
of the change's commit; the command runs with `SHIPWAVE_ENDPOINT` (the endpoint's URL),
`SHIPWAVE_STAGE` and `SHIPWAVE_TEST_REPORT` (where it writes its JUnit XML report). The
report names each failed test. The run's end is kept as CodeBuild's "Build State Change"
event of the pipeline's test project, delivered to the build handler as on AWS.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from junitparser import Error, Failure, JUnitXml
from junitparser.junitparser import JUnitXmlError

from adapters.git_source import GitError, GitRepository
from domain.conventions import (
    BUILD_CHANGE_VARIABLE,
    BUILD_PIPELINE_VARIABLE,
    BUILD_STAGE_VARIABLE,
    test_project_name,
)
from domain.errors import ArtifactReadError, IntegrationTestRunError
from domain.ports import IntegrationTestRequest, IntegrationTestRuns
from statemachines.local.artifacts import LocalArtifactStore
from statemachines.local.builder import command_environment, state_change_event

#: how long the endpoint may take to listen
_ENDPOINT_START_SECONDS = 20.0


@dataclass
class LocalTestRun:
    run_id: str
    stage: str
    change_id: str
    status: str = "IN_PROGRESS"
    tests: int = 0
    failed: tuple[str, ...] = ()
    reason: str = ""
    log: Path = Path()
    seconds: float = 0.0
    endpoint: str = ""
    phases: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)


class LocalTestRunner(IntegrationTestRuns):
    def __init__(
        self,
        repositories: Mapping[str, GitRepository],
        store: LocalArtifactStore,
        work: Path,
        *,
        account: str,
        region: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.repositories = repositories
        self.store = store
        self.work = work
        self.account = account
        self.region = region
        self.clock = clock
        self.runs: dict[str, LocalTestRun] = {}
        #: CodeBuild "Build State Change" events not yet delivered, oldest first
        self.reports: deque[dict[str, Any]] = deque()
        self._started: dict[str, str] = {}

    def start(self, request: IntegrationTestRequest) -> str:
        key = request.run_key
        if key not in self._started:
            run = self.run_now(request)
            self._started[key] = run.run_id
            self.reports.append(self._event(request, run))
        return self._started[key]

    def failed_tests(self, run_id: str) -> tuple[str, ...]:
        run = self.runs.get(run_id)
        if run is None:
            raise IntegrationTestRunError(f"no local test run {run_id!r}")
        return run.failed

    def run_now(self, request: IntegrationTestRequest) -> LocalTestRun:
        project = test_project_name(request.pipeline_id)
        number = str(uuid.uuid4())
        run_id = f"arn:aws:codebuild:{self.region}:{self.account}:build/{project}:{number}"
        folder = self.work / number
        folder.mkdir(parents=True)
        run = LocalTestRun(
            run_id=run_id,
            stage=request.stage,
            change_id=request.change_id,
            log=folder / "tests.log",
        )
        self.runs[run_id] = run
        began = time.perf_counter()
        try:
            self._run(request, run, folder)
        except (IntegrationTestRunError, GitError, OSError) as error:
            run.status, run.reason = "FAILED", str(error)
            run.phases.append(("BUILD", "FAILED", (f"CLIENT_ERROR: {error}",)))
        run.seconds = time.perf_counter() - began
        return run

    def _run(self, request: IntegrationTestRequest, run: LocalTestRun, folder: Path) -> None:
        code = folder / "artifact"
        self._unpack(request, code)
        source = folder / "src"
        repository = self.repositories.get(request.repository)
        if repository is None:
            raise IntegrationTestRunError(
                f"no local git repository is named {request.repository!r}"
            )
        repository.archive(request.commit_id, source)
        report = folder / "report.xml"
        with run.log.open("w") as out, self._endpoint(code, request.entry, folder, out) as url:
            run.endpoint = url
            out.write(f"integration tests of {request.stage} against {url}\n")
            out.flush()
            environment = command_environment(
                folder,
                SHIPWAVE_ENDPOINT=url,
                SHIPWAVE_TEST_REPORT=str(report),
                **{
                    BUILD_STAGE_VARIABLE: request.stage,
                    BUILD_PIPELINE_VARIABLE: request.pipeline_id,
                    BUILD_CHANGE_VARIABLE: request.change_id,
                },
            )
            try:
                done = subprocess.run(
                    ["bash", "-e", "-c", request.command],
                    cwd=source,
                    env=environment,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=request.timeout_minutes * 60,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                run.status, run.reason = "TIMED_OUT", "the integration tests ran past their timeout"
                run.phases.append(("BUILD", "TIMED_OUT", ("BUILD_TIMED_OUT",)))
                return
        self._judge(run, report, done.returncode)

    def _judge(self, run: LocalTestRun, report: Path, returncode: int) -> None:
        """Passed only when the command succeeded and its report names no failure."""
        try:
            suites = JUnitXml.fromfile(str(report))
        except (OSError, JUnitXmlError, ValueError) as error:
            run.status = "FAILED"
            run.reason = f"no readable JUnit report at SHIPWAVE_TEST_REPORT ({error})"
            run.phases.append(("BUILD", "FAILED", (run.reason,)))
            return
        failed: list[str] = []
        total = 0
        for case in _cases(suites):
            total += 1
            if any(isinstance(r, Failure | Error) for r in case.result):
                failed.append(f"{case.classname}.{case.name}" if case.classname else case.name)
        run.tests, run.failed = total, tuple(failed)
        if returncode == 0 and not failed and total:
            run.status = "SUCCEEDED"
            run.phases.append(("BUILD", "SUCCEEDED", ()))
            return
        run.status = "FAILED"
        run.reason = (
            f"{len(failed)} of {total} integration tests failed"
            if failed
            else ("the report holds no test" if not total else f"exit status {returncode}")
        )
        run.phases.append(
            (
                "BUILD",
                "FAILED",
                (f"COMMAND_EXECUTION_ERROR: {run.reason}. Reason: exit status {returncode}",),
            )
        )

    def _unpack(self, request: IntegrationTestRequest, into: Path) -> None:
        try:
            self.store.unpack(request.artifact, into)
        except ArtifactReadError as error:
            raise IntegrationTestRunError(str(error)) from None

    def _endpoint(self, code: Path, entry: str, folder: Path, out: Any) -> _Endpoint:
        return _Endpoint(code, entry, folder / "port", out)

    def _event(self, request: IntegrationTestRequest, run: LocalTestRun) -> dict[str, Any]:
        return state_change_event(
            account=self.account,
            region=self.region,
            at=self.clock(),
            build_id=run.run_id,
            project=test_project_name(request.pipeline_id),
            status=run.status,
            variables={
                BUILD_PIPELINE_VARIABLE: request.pipeline_id,
                BUILD_CHANGE_VARIABLE: request.change_id,
                BUILD_STAGE_VARIABLE: request.stage,
            },
            source_version=request.commit_id,
            log=run.log,
            phases=[
                {"phase-context": list(context), "phase-type": phase, "phase-status": status}
                for phase, status, context in run.phases
            ],
        )


def _cases(suites: Any) -> list[Any]:
    """Every test case of a report (a <testsuites> of suites, or one <testsuite>)."""
    found = []
    for item in suites:
        if hasattr(item, "classname"):
            found.append(item)
        else:
            found.extend(_cases(item))
    return found


class _Endpoint:
    """The artifact's code served on loopback in its own process, for one test run."""

    def __init__(self, code: Path, entry: str, port_file: Path, out: Any) -> None:
        self.code, self.entry, self.port_file, self.out = code, entry, port_file, out
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> str:
        functions = Path(__file__).resolve().parents[1]
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "statemachines.local.endpoint",
                str(self.code),
                self.entry,
                str(self.port_file),
            ],
            cwd=functions,
            env={**os.environ, "PYTHONPATH": str(functions)},
            stdout=self.out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + _ENDPOINT_START_SECONDS
        while not self.port_file.exists() or not self.port_file.read_text():
            if self.process.poll() is not None:
                raise IntegrationTestRunError(
                    f"the endpoint serving {self.entry} exited ({self.process.returncode}): "
                    "the artifact's code does not load"
                )
            if time.monotonic() > deadline:
                raise IntegrationTestRunError(
                    f"the endpoint serving {self.entry} did not start listening"
                )
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port_file.read_text()}"

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
