"""The local runtime's build: the pipeline's build commands in a subprocess, on a checkout of
the exact commit, reported the way CodeBuild reports a build.

Each build gets a fresh folder holding `git archive` of the commit. Its phases run as CodeBuild
runs a buildspec's: INSTALL, BUILD, then POST_BUILD (the unit tests), each phase's commands
in one `bash -e` shell, with CodeBuild's variables (`CODEBUILD_RESOLVED_SOURCE_VERSION`,
`CODEBUILD_BUILD_ID`, `CODEBUILD_SRC_DIR`) and the pipeline's and change's ids. The unit
tests run in a new network namespace (`unshare --net --map-root-user`): no network at all;
where the OS refuses namespaces the build log says so and the tests run with the network.
What the commands leave in the spec's output folder is packed once, as a zip with fixed
timestamps and order (the same tree gives the same bytes), and stored in the local artifact
store under `<pipeline>/<build>/<version>.zip` of the home region's artifact bucket.

The end of each build is kept as CodeBuild's "Build State Change" event (`reports`); the local
runtime delivers it to the build handler on the next tick, as EventBridge would.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
import uuid
import zipfile
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.git_source import GitError, GitRepository
from domain.artifacts import S3Location, artifact_bucket
from domain.builds import BuildReport, Phase, version_problem
from domain.conventions import BUILD_CHANGE_VARIABLE, BUILD_PIPELINE_VARIABLE, build_project_name
from domain.errors import BuildStartError
from domain.ports import Builder, BuildRequest
from statemachines.local.artifacts import LocalArtifactStore

#: a zip entry's time when the tree gives none (the earliest a zip can hold)
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def network_isolation() -> tuple[str, ...]:
    """The prefix that runs a command without network, or () where the OS cannot."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    try:
        done = subprocess.run(
            [unshare, "--net", "--map-root-user", "true"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return (unshare, "--net", "--map-root-user") if done.returncode == 0 else ()


@dataclass(frozen=True)
class _Phase:
    phase: str
    status: str
    context: tuple[str, ...] = ()
    seconds: float = 0.0


@dataclass
class LocalBuild:
    """One build's outcome, for a person reading the demo or a test."""

    build_id: str
    change_id: str
    status: str
    phases: list[_Phase]
    log: Path
    location: str = ""
    sha256: str = ""
    seconds: float = 0.0
    network_isolated: bool = False
    commit_id: str = ""

    def report(self) -> BuildReport:
        """The build's end as the domain reads CodeBuild's event."""
        return BuildReport(
            build_id=self.build_id,
            status=self.status,
            phases=tuple(
                Phase(phase=p.phase, status=p.status, context=p.context) for p in self.phases
            ),
            artifact_location=self.location,
            sha256=self.sha256,
            log_url=self.log.as_uri(),
        )


class LocalBuilder(Builder):
    def __init__(
        self,
        repositories: Mapping[str, GitRepository],
        store: LocalArtifactStore,
        work: Path,
        *,
        account: str,
        region: str,
        clock: Any = None,
    ) -> None:
        self.repositories = repositories
        self.store = store
        self.work = work.resolve()  # builds report their log as a file:// URI
        self.account = account
        self.region = region
        self.clock = clock or (lambda: datetime.now(UTC))
        self.isolation = network_isolation()
        self.builds: dict[str, LocalBuild] = {}
        #: CodeBuild "Build State Change" events not yet delivered, oldest first
        self.reports: deque[dict[str, Any]] = deque()
        self._started: dict[str, str] = {}

    def start(self, request: BuildRequest) -> str:
        key = request.run_key
        if key not in self._started:
            build = self.build_now(request)
            self._started[key] = build.build_id
            self.reports.append(self._event(request, build))
        return self._started[key]

    def build_now(self, request: BuildRequest) -> LocalBuild:
        """Build outside any pipeline (onboarding: the version the fleet already runs)."""
        repository = self.repositories.get(request.repository)
        if repository is None:
            raise BuildStartError(f"no local git repository is named {request.repository!r}")
        project = build_project_name(request.pipeline_id)
        number = uuid.uuid4()
        build_id = f"arn:aws:codebuild:{self.region}:{self.account}:build/{project}:{number}"
        build = self._run(request, repository, build_id, str(number))
        self.builds[build_id] = build
        return build

    # --- one build ------------------------------------------------------------------------

    def _run(
        self, request: BuildRequest, repository: GitRepository, build_id: str, number: str
    ) -> LocalBuild:
        began = time.perf_counter()
        folder = self.work / number
        source = folder / "src"
        log = folder / "build.log"
        folder.mkdir(parents=True)
        phases = [_Phase("SUBMITTED", "SUCCEEDED"), _Phase("PROVISIONING", "SUCCEEDED")]
        build = LocalBuild(
            build_id=build_id,
            change_id=request.change_id,
            status="IN_PROGRESS",
            phases=phases,
            log=log,
            commit_id=request.commit_id,
        )
        environment = self._environment(request, build_id, source)
        with log.open("w") as out:
            out.write(f"shipwave local build {build_id}\ncommit {request.commit_id}\n")
            try:
                repository.archive(request.commit_id, source)
            except GitError as error:
                out.write(f"checkout failed: {error}\n")
                phases.append(_Phase("DOWNLOAD_SOURCE", "FAILED", (f"CLIENT_ERROR: {error}",)))
                return self._ended(build, "FAILED", began)
            phases.append(_Phase("DOWNLOAD_SOURCE", "SUCCEEDED"))
            deadline = time.monotonic() + request.build.timeout_minutes * 60
            for phase, commands in request.build.phases():
                isolated = phase == "POST_BUILD" and bool(self.isolation)
                if phase == "POST_BUILD" and commands:
                    build.network_isolated = isolated
                    out.write(
                        "unit tests run with no network (a new network namespace)\n"
                        if isolated
                        else "unit tests run WITH the network: this OS refuses unshare --net\n"
                    )
                status, context, seconds = self._phase(
                    commands, source, environment, out, deadline, isolated=isolated
                )
                phases.append(_Phase(phase, status, context, seconds))
                if status != "SUCCEEDED":
                    return self._ended(
                        build, "TIMED_OUT" if status == "TIMED_OUT" else "FAILED", began
                    )
            stored = self._pack(request, source, environment, number, out)
            if isinstance(stored, str):
                phases.append(_Phase("UPLOAD_ARTIFACTS", "FAILED", (stored,)))
                return self._ended(build, "FAILED", began)
            build.location, build.sha256 = stored
            phases.append(_Phase("UPLOAD_ARTIFACTS", "SUCCEEDED"))
        shutil.rmtree(source, ignore_errors=True)
        return self._ended(build, "SUCCEEDED", began)

    def _ended(self, build: LocalBuild, status: str, began: float) -> LocalBuild:
        build.phases.append(_Phase("FINALIZING", "SUCCEEDED"))
        build.phases.append(_Phase("COMPLETED", ""))
        build.status = status
        build.seconds = time.perf_counter() - began
        return build

    def _environment(self, request: BuildRequest, build_id: str, source: Path) -> dict[str, str]:
        """What CodeBuild sets, and no more of ours than a build container would have."""
        return command_environment(
            source.parent,
            CODEBUILD_BUILD_ID=build_id,
            CODEBUILD_RESOLVED_SOURCE_VERSION=request.commit_id,
            CODEBUILD_SRC_DIR=str(source),
            **{
                BUILD_PIPELINE_VARIABLE: request.pipeline_id,
                BUILD_CHANGE_VARIABLE: request.change_id,
            },
        )

    def _phase(
        self,
        commands: tuple[str, ...],
        source: Path,
        environment: Mapping[str, str],
        out: Any,
        deadline: float,
        *,
        isolated: bool,
    ) -> tuple[str, tuple[str, ...], float]:
        if not commands:
            return "SUCCEEDED", (), 0.0
        began = time.perf_counter()
        script = "set -e\n" + "".join(
            f"echo '[Container] Running command '{_quote(c)}\n{c}\n" for c in commands
        )
        prefix = self.isolation if isolated else ()
        out.flush()
        try:
            done = subprocess.run(
                [*prefix, "bash", "-c", script],
                cwd=source,
                env=dict(environment),
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=max(1.0, deadline - time.monotonic()),
                check=False,
            )
        except subprocess.TimeoutExpired:
            return "TIMED_OUT", ("BUILD_TIMED_OUT: the build ran past its timeout",), 0.0
        seconds = time.perf_counter() - began
        if done.returncode == 0:
            return "SUCCEEDED", (), seconds
        failing = _failing_command(out, commands)
        return (
            "FAILED",
            (
                f"COMMAND_EXECUTION_ERROR: Error while executing command: {failing}. "
                f"Reason: exit status {done.returncode}",
            ),
            seconds,
        )

    def _pack(
        self,
        request: BuildRequest,
        source: Path,
        environment: Mapping[str, str],
        number: str,
        out: Any,
    ) -> tuple[str, str] | str:
        """Zip the output folder and store it: (location ARN, sha256), or why not."""
        version = subprocess.run(
            ["bash", "-c", f"printf '%s' {request.build.version}"],
            cwd=source,
            env=dict(environment),
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        problem = version_problem(version)
        if problem:
            out.write(f"artifact name: {problem}\n")
            return f"CLIENT_ERROR: {problem}"
        output = source / request.build.output
        if not output.is_dir():
            return f"CLIENT_ERROR: no output folder {request.build.output!r} after the build"
        content = _zip(output)
        location = S3Location(
            artifact_bucket(self.account, self.region),
            f"{request.pipeline_id}/{number}/{version}.zip",
        )
        sha256 = self.store.put(location, content)
        out.write(f"artifact {location.uri} sha256:{sha256} ({len(content):,} bytes)\n")
        return f"arn:aws:s3:::{location.bucket}/{location.key}", sha256

    def _event(self, request: BuildRequest, build: LocalBuild) -> dict[str, Any]:
        """CodeBuild's "Build State Change" event for the ended build."""
        return state_change_event(
            account=self.account,
            region=self.region,
            at=self.clock(),
            build_id=build.build_id,
            project=build_project_name(request.pipeline_id),
            status=build.status,
            variables={
                BUILD_PIPELINE_VARIABLE: request.pipeline_id,
                BUILD_CHANGE_VARIABLE: request.change_id,
            },
            source_version=request.commit_id,
            log=build.log,
            phases=[
                {
                    "phase-context": list(p.context),
                    "duration-in-seconds": round(p.seconds),
                    "phase-type": p.phase,
                    **({"phase-status": p.status} if p.status else {}),
                }
                for p in build.phases
            ],
            information={
                "artifact": {"sha256sum": build.sha256, "location": build.location},
                "timeout-in-minutes": request.build.timeout_minutes,
            },
            image=request.build.image,
        )


def command_environment(home: Path, **variables: str) -> dict[str, str]:
    """The environment a team's commands run in here (a build's, a test run's): this Python
    first on PATH, a home of their own, and `variables`; nothing else of ours leaks in."""
    python = str(Path(sys.executable).parent)
    return {
        "PATH": f"{python}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        **variables,
    }


def state_change_event(
    *,
    account: str,
    region: str,
    at: datetime,
    build_id: str,
    project: str,
    status: str,
    variables: Mapping[str, str],
    source_version: str,
    log: Path,
    phases: list[dict[str, Any]],
    information: Mapping[str, Any] | None = None,
    image: str = "",
) -> dict[str, Any]:
    """CodeBuild's "Build State Change" event of an ended build, in the published sample's
    shape (tests/fixtures/aws/codebuild-build-state-change.json), as EventBridge delivers it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "CodeBuild Build State Change",
        "source": "aws.codebuild",
        "account": account,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [build_id],
        "detail": {
            "build-status": status,
            "project-name": project,
            "build-id": build_id,
            "additional-information": {
                **(information or {}),
                "environment": {
                    **({"image": image} if image else {}),
                    "type": "LINUX_CONTAINER",
                    "environment-variables": [
                        {"name": name, "type": "PLAINTEXT", "value": value}
                        for name, value in variables.items()
                    ],
                },
                "build-complete": True,
                "source-version": source_version,
                "logs": {"deep-link": log.as_uri()},
                "phases": phases,
            },
            "current-phase": "COMPLETED",
            "current-phase-context": "[]",
            "version": "1",
        },
    }


def _quote(command: str) -> str:
    return "'" + command.replace("'", "'\\''") + "'"


def _failing_command(out: Any, commands: tuple[str, ...]) -> str:
    """The last command the phase's log says it ran (the one that failed)."""
    out.flush()
    try:
        text = Path(out.name).read_text(errors="replace")
    except (AttributeError, OSError):
        return commands[-1]
    ran = [c for c in commands if f"Running command {c}\n" in text]
    return ran[-1] if ran else commands[0]


def _zip(folder: Path) -> bytes:
    """The folder's files as a zip with fixed times and order: the same tree, the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=_ZIP_EPOCH)
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()
