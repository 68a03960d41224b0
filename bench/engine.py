"""Deployment-engine benchmark on the local runtime; prints its figures.

    .venv/bin/python bench/engine.py

- wall time of the reference good-change rollout (24 regions; target <= 60 s on 2 cores) and
  its virtual duration
- Step Functions transitions of one bake at 1 h (a one-box bake) and at 12 h (the bake after
  wave 1), counted in the execution history (target: equal, <= 10)
- the largest execution's history events (target <= 10,000)
- alarm-state-change-to-rollback-start latency (virtual seconds and wall ms), on a bad change
- estimated Step Functions cost of one global rollout at $0.025 per 1,000 transitions
  (target <= $0.05)
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))
sys.path.insert(0, str(ROOT))

from adapters.sqlite import SQLiteEventStore  # noqa: E402
from domain.events import AlarmFired, RollbackStarted  # noqa: E402
from examples import changes as edits  # noqa: E402
from examples.reference import CreateOrderApp  # noqa: E402
from statemachines.generator import SEP  # noqa: E402
from statemachines.local.runtime import LocalRuntime  # noqa: E402

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
PRICE_PER_TRANSITION = 0.025 / 1000


def transitions(history: list[dict[str, Any]]) -> int:
    """Billed state transitions: every state entered (Map iterations' states included)."""
    return sum(1 for event in history if event["type"].endswith("StateEntered"))


def bake_transitions(history: list[dict[str, Any]], bake_state: str) -> int:
    """Transitions from entering one bake until its verdict is acted on (Bake, Check,
    Verdict, and the state after it), for the first iteration that baked in that state."""
    entered = [e for e in history if e["type"].endswith("StateEntered")]
    names = [e["stateEnteredEventDetails"]["name"] for e in entered]
    first = names.index(bake_state)
    prefix = bake_state.removesuffix(f"{SEP}Bake")
    count = 0
    for name in names[first:]:
        if not name.startswith(prefix):
            continue
        count += 1
        if name.endswith(("Done", "Roll back")):
            break
    return count


def main() -> None:
    spec = CreateOrderApp.spec()
    pipeline = spec.pipeline_id
    with (
        tempfile.TemporaryDirectory() as folder,
        LocalRuntime(
            [spec], event_log=SQLiteEventStore(Path(folder) / "e.db"), start=START
        ) as runtime,
    ):
        runtime.adopt(pipeline, "v1.0.0")
        wall = time.perf_counter()
        good = runtime.merge(pipeline, "v1.1.0")
        runtime.run()
        wall = time.perf_counter() - wall
        virtual = runtime.clock.now() - START
        history = runtime.history(good)
        status = runtime.executions[good].status
        one_hour = bake_transitions(history, f"Wave1{SEP}OneBox{SEP}Bake")
        twelve_hours = bake_transitions(history, f"Wave1{SEP}Bake{SEP}Bake")
        moved = transitions(history)

        delivered: list[float] = []
        original = runtime._deliver_alarm

        def timed(*args: Any) -> None:
            delivered.append(time.perf_counter())
            original(*args)

        runtime.cloudwatch.listeners = [timed]
        started: list[float] = []
        runtime_invoke = runtime._invoke

        def watch(name: str, payload: dict[str, Any]) -> Any:
            if name == "shipwave-deploy" and payload.get("action") == "rollback":
                started.append(time.perf_counter())
            return runtime_invoke(name, payload)

        from statemachines.local import moto_patches

        moto_patches.route_lambda(watch)
        bad = runtime.merge(pipeline, "v1.2.0", files={"src/orders.py": edits.bulk_discounts()})
        runtime.run()
        log = list(runtime.store.read(pipeline))
        alarm = next(e for e in log if isinstance(e, AlarmFired) and e.change_id == bad)
        rollback = next(e for e in log if isinstance(e, RollbackStarted) and e.change_id == bad)
        bad_history = len(runtime.history(bad))

    print(
        f"[engine] reference good-change rollout ({len(spec.regions)} regions, "
        f"{len(spec.scopes())} scopes): {status}, wall {wall:.1f} s (target <= 60 s), "
        f"virtual {virtual}"
    )
    print(
        f"[engine] transitions of one bake: 1 h one-box bake {one_hour}, 12 h wave-1 bake "
        f"{twelve_hours} (target: equal, <= 10)"
    )
    print(
        f"[engine] largest execution history: {len(history):,} events (good change; the "
        f"bad change's: {bad_history:,}) (target <= 10,000)"
    )
    wall_ms = (started[0] - delivered[0]) * 1000 if started and delivered else float("nan")
    print(
        f"[engine] alarm state change to rollback start: virtual "
        f"{(rollback.at - alarm.at).total_seconds():.0f} s, wall {wall_ms:.0f} ms"
    )
    print(
        f"[engine] one global rollout: {moved:,} state transitions, estimated "
        f"${moved * PRICE_PER_TRANSITION:.4f} at $0.025 per 1,000 (target <= $0.05)"
    )


if __name__ == "__main__":
    main()
