"""Customer traffic on the local runtime, from running the service's own code.

A version's boxes behave as its code does: before the simulated fleet serves a version, its
built artifact (read from the local artifact store, its sha256 checked) is unpacked and a
*reference box* — the code loaded in its own process, as `endpoint.py` loads it — serves the
service's customer traffic in order, each request as a Lambda Function URL hands it over. The
answers make the version's `TrafficProfile`: per window of requests, the share the code failed
(a 5xx answer or an exception, as the endpoint turns one into a 502; 4xx answers are the
customers' mistakes, not faults), whether the canary's request answered as the canary expects,
and the time the code took. Every box of the version serves the same traffic, so a box that has
served `n` requests fails as the reference box did over its `n`-th: a bug fails its share of
requests from the first one, a slow burn (a leak, a buffer that fills) fails once a box has
served enough of them — sooner on a busy region's boxes than on a quiet one's.

The customers are the service's: its repository's `load/customers.py` at the built commit
defines `requests()`, an endless deterministic stream of `{"method", "path", "body"}` (as a
team keeps a load-test script beside its code). A repository without one is served the
canary's request over and over (or `GET /` when the spec declares no canary), and says so in
the profile's `source`. A version without code (a spec without `Build.entry`: configuration)
serves nothing here; it has the platform's faults only.

`python -m statemachines.local.traffic CODE ENTRY LOAD CANARY REQUESTS WINDOW OUT` is the
reference box; `profile(...)` runs it.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from adapters.git_source import GitRepository
from domain.artifacts import s3_location
from domain.errors import ArtifactReadError
from domain.events import Artifact
from domain.spec import PipelineSpec
from statemachines.local.artifacts import LocalArtifactStore
from statemachines.local.endpoint import function_url_event
from statemachines.local.endpoint import load as load_handler

#: faults no code causes (throttles, dropped connections): every box has them
PLATFORM_FAULT_RATE = 0.001
#: what a request spends outside the code (network, the Function URL); p50 of a healthy box
NETWORK_MS = 40.0
#: how many requests the reference box serves: ten hours of the busiest box (50 a minute).
#: A box that served more behaves as over the last window (the profile's horizon).
PROFILE_REQUESTS = 30_000
WINDOW = 500
LOAD_MODEL = "load/customers.py"
_PROFILE_SECONDS = 300


class TrafficProfileError(Exception):
    """The reference box could not serve the version's code (it does not load, or hangs)."""


@dataclass(frozen=True)
class TrafficProfile:
    """How a version's code answered the service's customers, window by window."""

    window: int
    #: per window: the share of customer requests the code failed (5xx or raised)
    faults: tuple[float, ...]
    #: per window: whether the canary's request, sent after the window, answered as expected
    #: (empty when the spec declares no canary)
    canary: tuple[bool, ...] = ()
    #: the mean time the code took per request, in whole milliseconds (rounded up)
    code_ms: float = 0.0
    #: what made the profile: the code it ran and the customers it served
    source: str = ""
    #: the first failed answer, as the reference box saw it ("" when none failed)
    first_fault: str = ""
    #: how many customer requests the reference box served, and the wall time it took
    requests_served: int = 0
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if not self.faults or (self.canary and len(self.canary) != len(self.faults)):
            raise ValueError("a profile has one fault share (and canary answer) per window")

    def _index(self, served: float) -> int:
        return min(int(served // self.window), len(self.faults) - 1)

    def fault_rate(self, served: float) -> float:
        """The share of requests a box fails once it has served `served` of them."""
        return min(1.0, PLATFORM_FAULT_RATE + self.faults[self._index(served)])

    def canary_passes(self, served: float) -> bool | None:
        """Whether the canary's request passes on such a box (None: no canary)."""
        return self.canary[self._index(served)] if self.canary else None

    @property
    def latency_ms(self) -> float:
        return NETWORK_MS + self.code_ms

    @cached_property
    def steady_from(self) -> int:
        """Requests after which every later window is alike: a box past them behaves the same
        from then on (0: the code behaves the same from its first request)."""
        last = len(self.faults) - 1
        index = last
        while index > 0 and self._window(index - 1) == self._window(last):
            index -= 1
        return max(index, 0) * self.window

    def _window(self, index: int) -> tuple[float, bool | None]:
        return self.faults[index], (self.canary[index] if self.canary else None)

    def steady(self, served: float) -> bool:
        return served >= self.steady_from

    def summary(self) -> str:
        """What the code did to its customers, in a line."""
        if not any(self.faults):
            return "fails none of its customers' requests"
        if self.steady_from == 0:
            share = 100 * self.faults[0]
            return f"fails {share:.1f} % of requests from the first ({self.first_fault})"
        return (
            f"fails {100 * self.faults[0]:.1f} % of a box's first requests, "
            f"{100 * self.faults[-1]:.1f} % once it served {self.steady_from:,} "
            f"({self.first_fault})"
        )


#: a version that runs no code here (configuration): the platform's faults only
NO_CODE = TrafficProfile(window=WINDOW, faults=(0.0,), source="no code to run")


@dataclass(frozen=True)
class CanaryRequest:
    """The canary's request and the status it expects (from the spec's `Canary`)."""

    method: str
    path: str
    body: str
    expect_status: int


def profile(
    code: Path,
    entry: str,
    *,
    load: Path | None,
    canary: CanaryRequest | None,
    requests: int = PROFILE_REQUESTS,
    window: int = WINDOW,
    label: str = "",
) -> TrafficProfile:
    """Serve `requests` customer requests with the unpacked code in `code` (its `entry`
    handler) in a reference box of its own, and read the profile it writes."""
    functions = Path(__file__).resolve().parents[1]
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="shipwave-traffic-") as work:
        out = Path(work) / "profile.json"
        command = [
            sys.executable,
            "-m",
            "statemachines.local.traffic",
            str(code.resolve()),
            entry,
            str(load.resolve()) if load else "",
            json.dumps(canary.__dict__ if canary else None),
            str(requests),
            str(window),
            str(out),
        ]
        try:
            done = subprocess.run(
                command,
                cwd=work,
                env={**os.environ, "PYTHONPATH": str(functions)},
                capture_output=True,
                text=True,
                timeout=_PROFILE_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise TrafficProfileError(
                f"{label or entry}: the reference box did not finish {requests} requests in "
                f"{_PROFILE_SECONDS} s"
            ) from None
        if done.returncode != 0 or not out.exists():
            detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise TrafficProfileError(f"{label or entry}: the reference box failed ({detail})")
        data = json.loads(out.read_text())
    customers = f"the customers of {LOAD_MODEL}" if load else data["customers"]
    return TrafficProfile(
        window=window,
        faults=settled(data["faults"], data["canary"], window),
        canary=tuple(data["canary"]),
        code_ms=float(data["code_ms"]),
        source=f"{label or entry} serving {customers}",
        first_fault=data["first_fault"],
        requests_served=int(data["served"]),
        seconds=time.perf_counter() - began,
    )


#: profiles made in this process: (artifact sha256, load model, canary) → profile
_PROFILES: dict[tuple[str, str, str], TrafficProfile] = {}


class LocalTraffic:
    """The fleet's profiler on the local runtime: a built artifact's code serving its service's
    customers in a reference box. Profiles are kept by what makes them (the artifact's sha256,
    the load model, the canary), so the same build is served once per process."""

    def __init__(
        self,
        specs: Mapping[str, PipelineSpec],
        store: LocalArtifactStore,
        repositories: Mapping[str, GitRepository],
        commit_of: Callable[[Artifact], str | None],
        *,
        requests: int = PROFILE_REQUESTS,
    ) -> None:
        self.specs = specs
        self.store = store
        self.repositories = repositories
        self.commit_of = commit_of
        self.requests = requests
        #: the profiles this runtime's fleet took, by "<service> <version>"
        self.taken: dict[str, TrafficProfile] = {}

    def __call__(self, service: str, artifact: Artifact) -> TrafficProfile:
        spec = self._spec(service, artifact)
        if not spec.build.entry:
            return NO_CODE
        commit = self.commit_of(artifact)
        load = (
            self.repositories[spec.repository].file_at(commit, LOAD_MODEL)
            if commit is not None and spec.repository in self.repositories
            else None
        )
        canary = _canary(spec)
        key = (artifact.checksum, load or "", json.dumps(canary.__dict__ if canary else None))
        if key not in _PROFILES:
            with tempfile.TemporaryDirectory(prefix="shipwave-box-") as work:
                code = Path(work) / "code"
                try:
                    self.store.unpack(artifact, code)
                except ArtifactReadError as error:
                    raise TrafficProfileError(f"{artifact.version}: {error}") from None
                model = None
                if load is not None:
                    model = Path(work) / "customers.py"
                    model.write_text(load)
                _PROFILES[key] = profile(
                    code,
                    spec.build.entry,
                    load=model,
                    canary=canary,
                    requests=self.requests,
                    label=f"{service} {artifact.version}",
                )
        self.taken[f"{service} {artifact.version}"] = _PROFILES[key]
        return _PROFILES[key]

    def _spec(self, service: str, artifact: Artifact) -> PipelineSpec:
        """The pipeline that built the artifact (its key starts with the pipeline's id)."""
        location = s3_location(artifact)
        pipeline = location.key.split("/", 1)[0] if location else ""
        spec = self.specs.get(pipeline)
        if spec is None or spec.service != service:
            raise TrafficProfileError(
                f"{service} {artifact.version}: {artifact.uri} was built by no pipeline of "
                f"{service}: its code is not known"
            )
        return spec


def _canary(spec: PipelineSpec) -> CanaryRequest | None:
    if not spec.canary.url:
        return None
    path = urlsplit(spec.canary.url.replace("{region}", "region")).path or "/"
    return CanaryRequest(spec.canary.method, path, spec.canary.body, spec.canary.expect_status)


def settled(faults: list[float], canary: list[bool], window: int) -> tuple[float, ...]:
    """The windows' fault shares, with the tail where the code no longer changes replaced by
    its mean. A box's requests are a sample of the customers' mix, so a window's share of a
    bug that fails some kinds of order varies around that share; the tail is the longest run of
    last windows alike in the canary's answer whose shares are each within four standard
    deviations of the run's mean (a share p of `window` requests varies by
    sqrt(p(1-p)/window)). Before the tail the code was still changing (a buffer filling) and
    every window is kept as measured."""
    if not faults:
        return ()
    start = len(faults) - 1
    while start > 0:
        if canary and canary[start - 1] != canary[-1]:
            break
        tail = faults[start - 1 :]
        mean = sum(tail) / len(tail)
        spread = 4 * math.sqrt(mean * (1 - mean) / window) + 1 / window
        if any(abs(share - mean) > spread for share in tail):
            break
        start -= 1
    tail = faults[start:]
    mean = round(sum(tail) / len(tail), 6)
    return (*faults[:start], *([mean] * len(tail)))


# --- the reference box (runs in its own process) ---------------------------------------------


def _customers(load: str, canary: dict[str, Any] | None) -> tuple[Iterator[dict[str, Any]], str]:
    if load:
        spec = importlib.util.spec_from_file_location("shipwave_load_model", load)
        if spec is None or spec.loader is None:
            raise SystemExit(f"{load}: not a Python module")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return iter(module.requests()), "its load model"
    if canary:
        request = {"method": canary["method"], "path": canary["path"], "body": canary["body"]}
        return itertools.repeat(request), "the canary's request (no load/customers.py)"
    return itertools.repeat({"method": "GET", "path": "/", "body": ""}), (
        "GET / (no load/customers.py, no canary)"
    )


def _answer(handler: Any, request: Mapping[str, Any]) -> tuple[int, str]:
    event = function_url_event(
        str(request.get("method", "GET")),
        str(request.get("path", "/")),
        str(request.get("body", "")),
        headers={"content-type": "application/json"},
    )
    try:
        answer = handler(event, None)
        status = int(answer.get("statusCode", 200))
    except Exception as error:  # the endpoint answers 502 for a function that raised
        return 502, f"{type(error).__name__}: {error}"
    return status, (f"{status}: {str(answer.get('body', ''))[:200]}" if status >= 500 else "")


def main(argv: list[str]) -> None:
    code, entry, load, canary_json, count, size, out = argv
    handler = load_handler(Path(code), entry)
    canary = json.loads(canary_json)
    stream, customers = _customers(load, canary)
    faults: list[float] = []
    canary_passed: list[bool] = []
    first_fault = ""
    spent = 0.0
    served = 0
    for _ in range(int(count) // int(size)):
        failed = 0
        for request in itertools.islice(stream, int(size)):
            began = time.perf_counter()
            status, fault = _answer(handler, request)
            spent += time.perf_counter() - began
            served += 1
            if status >= 500:
                failed += 1
                first_fault = first_fault or f"request {served}: {fault}"
        faults.append(round(failed / int(size), 6))
        if canary:
            status, _ = _answer(handler, canary)
            canary_passed.append(status == canary["expect_status"])
    Path(out).write_text(
        json.dumps(
            {
                "faults": faults,
                "canary": canary_passed,
                "code_ms": math.ceil(1000 * spent / max(served, 1)),
                "first_fault": first_fault,
                "customers": customers,
                "served": served,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
