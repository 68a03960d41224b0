"""Test-wide settings: fake AWS credentials so no test can reach a real account."""

import os

for name, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}.items():
    os.environ[name] = value
os.environ.pop("AWS_PROFILE", None)

from hypothesis import HealthCheck, settings  # noqa: E402

# Generation speed depends on the machine's load (two workers beside Lambda sandboxes), not on
# the code: a slow draw is not a finding. Every property still runs its full example count.
settings.register_profile("shipwave", suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("shipwave")


# --- e2e state coverage (here, so the xdist controller reports it) -----------------------------

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from examples.reference import CreateOrderApp  # noqa: E402
from statemachines.generator import SEP, to_json  # noqa: E402

STATES_DIR = Path(__file__).parent.parent / ".shipwave" / "e2e-states"


# --- the synthesized app, once per worker --------------------------------------------------


@pytest.fixture(scope="session")
def cloud_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`cdk synth` of the app with cdk.json's context for account 111122223333, into a folder
    of its own (cdk-nag runs in it: any unacknowledged finding fails the synth)."""
    from infra.app import synthesize

    outdir = tmp_path_factory.mktemp("cdk.out")
    synthesize(outdir, "111122223333")
    return outdir


def _names(machine: dict[str, object]) -> set[str]:
    names: set[str] = set()

    def walk(states: dict[str, object]) -> None:
        for name, state in states.items():
            names.add(name)
            if isinstance(state, dict) and state.get("Type") == "Map":
                walk(state["ItemProcessor"]["States"])

    walk(machine["States"])  # type: ignore[arg-type]
    return names


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER") is None and STATES_DIR.exists():
        for stale in STATES_DIR.glob("*.json"):
            stale.unlink()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Every worker's entered states, merged: per state of the reference machine, and per
    kind of state (the name without stage and step) across every e2e pipeline."""
    merged: dict[str, set[str]] = {}
    for path in STATES_DIR.glob("*.json") if STATES_DIR.exists() else ():
        for machine, names in json.loads(path.read_text()).items():
            merged.setdefault(machine, set()).update(names)
    if not merged:
        return
    reference = to_json(CreateOrderApp.spec())
    all_names = _names(json.loads(reference))
    entered = merged.get(reference, set()) & all_names
    kinds = {name.split(SEP)[-1] for machine in merged for name in _names(json.loads(machine))}
    kinds_entered = {name.split(SEP)[-1] for names in merged.values() for name in names}
    terminalreporter.write_line(
        f"e2e state coverage: reference {CreateOrderApp.pipeline_id()} machine "
        f"{len(entered)}/{len(all_names)} states ({100 * len(entered) / len(all_names):.0f} %); "
        f"state kinds {len(kinds & kinds_entered)}/{len(kinds)} across all e2e pipelines"
        + (f" (never: {', '.join(sorted(kinds - kinds_entered))})" if kinds - kinds_entered else "")
    )
