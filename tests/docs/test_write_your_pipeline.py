"""docs/write-your-pipeline.md as a reader follows it: every command of its `sh` blocks run
in order, in a copy of docs/team-example, with the installed `shipwave`, the CDK CLI of
node_modules and this Python; what each prints is checked against what the page says."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "write-your-pipeline.md"
EXAMPLE = ROOT / "docs" / "team-example"


def commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", PAGE.read_text(), re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def _dashboard(line: str, cwd: Path, env: dict[str, str]) -> str:
    """The dashboard command serves until stopped: run it, read its first page, stop it."""
    port = shlex.split(line)[shlex.split(line).index("--port") + 1]
    server = subprocess.Popen(
        ["bash", "-c", f"exec {line}"], cwd=cwd, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as page:
                    return str(page.read().decode())
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"{line}: not serving ({server.stderr})") from None
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.slow
def test_every_command_of_the_page_runs_as_it_says(tmp_path: Path) -> None:
    work = tmp_path / "refunds-repo"
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("__pycache__", ".shipwave"))
    env = {
        **os.environ,
        "PATH": os.pathsep.join(
            [
                str(Path(sys.executable).parent),
                str(ROOT / "node_modules" / ".bin"),
                os.environ["PATH"],
            ]
        ),
        "CDK_DISABLE_VERSION_CHECK": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    lines = commands()
    assert len(lines) >= 10, lines
    printed: dict[str, str] = {}
    for line in lines:
        if line.startswith("shipwave dashboard"):
            printed[line] = _dashboard(line, work, env)
            continue
        expect_failure = line.startswith("! ")
        done = subprocess.run(
            ["bash", "-c", line.removeprefix("! ")],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        output = done.stdout + done.stderr
        assert (done.returncode != 0) == expect_failure, f"{line}\n{output[-3000:]}"
        assert "Traceback" not in output, f"{line}\n{output[-3000:]}"
        printed[line] = output

    def said(prefix: str) -> str:
        (found,) = [text for line, text in printed.items() if line.startswith(prefix)]
        return found

    assert "1 pipelines valid in payments_pipelines:PIPELINES: refunds-application" in said(
        "shipwave validate payments"
    )
    bad = said("! shipwave validate bad")
    for problem in (
        "one_box_percent: 40 % is not in (0, 10] %",
        "bake.after_one_box: 60 s is below the configured floor of 1800 s",
        "window: no open hour",
        "reviewers: name the team members",
        "waves: needs at least one production wave",
    ):
        assert problem in bad
    planned = re.sub(r"[\s│]+", " ", said("shipwave plan"))  # a wrapped cell, joined again
    assert "public holiday in us-east-1: Thanksgiving Day until 2026-11-30" in planned
    assert "everywhere" in planned
    ran = said("shipwave run")
    assert re.search(r"refunds-application\s*│\s*chg-\w+\s*│\s*completed", ran), ran
    assert "virtual time 1 day" in ran
    assert "refunds-application" in said("shipwave status")
    assert "change completed: deployed everywhere" in said("shipwave history")
    assert "deployment frequency" in said("shipwave metrics")
    assert "intact refunds-application" in said("shipwave verify")
    assert (work / "report.html").stat().st_size > 10_000
    assert "refunds-application" in said("shipwave dashboard")
    stacks = {p.name for p in (work / "cdk.out").glob("*.template.json")}
    assert "shipwave-pipeline-refunds-application.template.json" in stacks
    assert {f"shipwave-team-payments-{r}.template.json" for r in ("eu-west-1", "us-east-1")} <= (
        stacks
    )
