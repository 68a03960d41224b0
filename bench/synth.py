"""CDK synth benchmark; prints its figures.

    .venv/bin/python bench/synth.py [--runs 2] [--pipelines examples.ten_services:PIPELINES]

- synth wall time of `npx cdk synth -q` (what `make synth` runs; target <= 20 s for the
  reference app)
- resources per stack (target < 500), largest template (target < 1 MB)
- ASL definition size per pipeline (target <= 256 KB)
- per AWS quota (infra/quotas.py), the tightest figure of the app and its margin
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))
sys.path.insert(0, str(ROOT))

from infra.config import load_specs  # noqa: E402
from infra.quotas import measure, tightest  # noqa: E402
from statemachines.generator import to_json  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--pipelines", default="examples.reference:PIPELINES")
    args = parser.parse_args()
    environment = {
        **os.environ,
        "CDK_DISABLE_VERSION_CHECK": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    timings = []
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "cdk.out"
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run(
                [
                    *("npx", "--no-install", "cdk", "synth", "-q", "-o", str(out)),
                    *("-c", f"shipwave:pipelines={args.pipelines}"),
                ],
                cwd=ROOT,
                env=environment,
                check=True,
                capture_output=True,
            )
            timings.append(time.perf_counter() - start)
        templates = sorted(out.glob("*.template.json"))
        counts = {
            path.name.removesuffix(".template.json"): len(json.loads(path.read_text())["Resources"])
            for path in templates
        }
        sizes = {path.name: path.stat().st_size for path in templates}
        margins = tightest(measure(out))
    print(
        f"[synth] npx cdk synth -q, {len(templates)} stacks: median "
        f"{statistics.median(timings):.1f} s, runs {', '.join(f'{t:.1f}' for t in timings)} s "
        "(target <= 20 s)"
    )
    controller = counts.pop("shipwave-controller")
    pipelines = {k: v for k, v in counts.items() if k.startswith("shipwave-pipeline-")}
    regions = {k: v for k, v in counts.items() if k.startswith("shipwave-region-")}
    teams = {k: v for k, v in counts.items() if k.startswith("shipwave-team-")}
    print(
        f"[synth] resources per stack: controller {controller}, pipelines "
        f"{min(pipelines.values())}-{max(pipelines.values())}, regions "
        f"{min(regions.values())}-{max(regions.values())}, team stacks "
        f"{min(teams.values())}-{max(teams.values())} (target < 500)"
    )
    largest = max(sizes, key=lambda name: sizes[name])
    print(f"[synth] largest template: {largest} {sizes[largest] / 1024:.0f} KB (target < 1 MB)")
    specs = load_specs(args.pipelines)
    sizes_asl = {spec.pipeline_id: len(to_json(spec).encode()) for spec in specs}
    largest_asl = max(sizes_asl, key=lambda name: sizes_asl[name])
    print(
        f"[synth] ASL definition, largest of {len(specs)}: {largest_asl} "
        f"{sizes_asl[largest_asl] / 1024:.1f} KB ({sizes_asl[largest_asl]:,} bytes; "
        "target <= 256 KB)"
    )
    print(f"[quotas] {args.pipelines}: the tightest figure per AWS quota")
    for quota, item in sorted(margins.items(), key=lambda pair: pair[1].margin):
        print(
            f"  {quota:<22} {item.used:>9,} of {item.limit:>9,} ({100 * item.margin:5.1f} % "
            f"free)  {item.where}"
        )


if __name__ == "__main__":
    main()
