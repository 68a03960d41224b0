"""Cold start of every synthesized function, as Lambda would run it; prints its figures.

    .venv/bin/python bench/cold_start.py [--runs 5]

Each function runs from the cloud assembly alone (its code asset, the Powertools layer of
the pinned release, the runtime's boto3) in a clean Python 3.13
(`python -I -B`: no bytecode is written, as on Lambda's read-only /var/task). Printed:
- the import time of each handler module (the cold start's init before the first event),
  median and slowest of `--runs` fresh interpreters; Lambda's init phase adds the runtime's
  own start and the download of the zip, which this machine cannot measure;
- the code asset's size, unzipped and zipped (Lambda allows 250 MB unzipped with layers,
  50 MB zipped for a direct upload), and each layer's unzipped size.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))
sys.path.insert(0, str(ROOT))

from infra.app import synthesize  # noqa: E402
from tests.aws import sandbox  # noqa: E402
from tests.aws.cfn import World  # noqa: E402

MB = 1024 * 1024
UNZIPPED_QUOTA = 250 * MB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "cdk.out"
        synthesize(out, "111122223333")
        functions = sandbox.functions(out)
        world = World(account="111122223333", region="us-east-1")
        world.refs = {
            name: f"bench-{name}"
            for name in json.loads((out / "shipwave-controller.template.json").read_text())[
                "Resources"
            ]
        }
        work = Path(folder) / "work"
        work.mkdir()
        print(f"[cold start] python -I -B {sandbox.LAMBDA_PYTHON}, {args.runs} fresh runs each")
        for name, package in sorted(functions.items()):
            seconds = []
            for _ in range(args.runs):
                outcome = sandbox.invoke(
                    package, {}, world=world, endpoint="http://127.0.0.1:9", work=work
                )
                if "import_error" in outcome:
                    raise SystemExit(f"{name}: {outcome['traceback']}")
                seconds.append(outcome["import_seconds"])
            print(
                f"  {name:<22} import {1000 * statistics.median(seconds):6.0f} ms median, "
                f"{1000 * max(seconds):6.0f} ms slowest"
            )
        package = next(iter(functions.values()))
        asset = sandbox.size(package.asset)
        zipped = Path(shutil.make_archive(str(work / "asset"), "zip", package.asset))
        layers = [sandbox.size(layer) for layer in package.layers]
        total = asset + sum(layers)
        described = zip(package.layer_versions, layers, strict=True)
        print(
            f"[asset] code {asset / MB:.1f} MB unzipped, {zipped.stat().st_size / MB:.1f} MB "
            f"zipped; layers {', '.join(f'{d}: {s / MB:.1f} MB' for d, s in described)}"
        )
        print(
            f"[asset] code + layers {total / MB:.1f} MB of Lambda's 250 MB unzipped quota "
            f"({100 * total / UNZIPPED_QUOTA:.0f} %)"
        )


if __name__ == "__main__":
    main()
