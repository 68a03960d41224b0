"""Chaos suite: randomized runs of a small pipeline on the local runtime under injected faults;
prints the runs, the faults injected by kind, how the changes ended, and every violation of
the event log's invariants (the goal is 0). See statemachines/local/chaos.py.

    .venv/bin/python bench/chaos.py                 # 200 runs, seeds 0..199
    .venv/bin/python bench/chaos.py --runs 20 --first-seed 1000
    .venv/bin/python bench/chaos.py --seed 17       # one run again, with its plan
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

# before the handlers are imported: their Logger and Metrics read these once
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "1")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))
sys.path.insert(0, str(ROOT))

from statemachines.local.chaos import RunReport, run, small_pipeline  # noqa: E402


def summary(reports: list[RunReport], wall: float) -> str:
    faults: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    for report in reports:
        faults.update(report.faults)
        outcomes.update(report.outcomes)
    violations = [(r.seed, v) for r in reports for v in r.violations]
    lines = [
        f"[chaos] {len(reports)} runs in {wall:.0f} s ({wall / max(len(reports), 1):.1f} s a "
        f"run), {sum(r.events for r in reports):,} events recorded",
        "[chaos] faults injected: "
        + ", ".join(f"{kind} {n}" for kind, n in sorted(faults.items(), key=lambda kv: -kv[1]))
        + f" (total {sum(faults.values()):,})",
        "[chaos] changes ended: "
        + ", ".join(
            f"{status} {n}" for status, n in sorted(outcomes.items(), key=lambda kv: -kv[1])
        ),
        f"[chaos] violations: {len(violations)} in {len({s for s, _ in violations})} runs (goal 0)",
    ]
    lines += [f"[chaos]   seed {seed}: {violation}" for seed, violation in violations]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--seed", type=int, help="one run, printing why each change ended")
    args = parser.parse_args()
    seeds = (
        [args.seed]
        if args.seed is not None
        else range(args.first_seed, args.first_seed + args.runs)
    )
    spec = small_pipeline()
    reports = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for seed in seeds:
            report = run(seed, spec, folder=Path(folder))
            reports.append(report)
            if args.seed is not None:
                for line in report.reasons:
                    print(f"[chaos] {line}")
            if report.violations:
                print(f"[chaos] seed {seed}: {len(report.violations)} violations", flush=True)
    print(summary(reports, time.perf_counter() - start))
    sys.exit(1 if any(r.violations for r in reports) else 0)


if __name__ == "__main__":
    main()
