"""The hostile-input suite with many more examples than `make test` runs: every step handler
driven with hostile values in every field; prints inputs, rejected, accepted (an unhandled
error fails the run and is printed by pytest).

    .venv/bin/python bench/fuzz.py [EXAMPLES]   (default 5,000)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    examples = sys.argv[1] if len(sys.argv) > 1 else "5000"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
            "tests/e2e/test_hostile_inputs.py",
        ],
        cwd=ROOT,
        env={**os.environ, "SHIPWAVE_FUZZ_EXAMPLES": examples},
        capture_output=True,
        text=True,
        check=False,
    )
    # the handlers log each event they refuse: print the figures, or everything on a failure
    lines = done.stdout.splitlines()
    shown = (
        lines
        if done.returncode
        else [line for line in lines if line.startswith("[fuzz]") or " passed" in line]
    )
    print("\n".join(shown))
    sys.exit(done.returncode)
