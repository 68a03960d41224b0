"""Sixteen writers on one pipeline, 1,000 appends each, on the memory and SQLite stores:
how many gave up (the goal is 0), how many conflicts were decided again, and the wall time.

    .venv/bin/python bench/contention.py [WRITERS] [APPENDS]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]

from adapters.memory import InMemoryEventStore  # noqa: E402
from adapters.sqlite import SQLiteEventStore  # noqa: E402
from tests.functional.test_contention import PIPELINE, contend  # noqa: E402

if __name__ == "__main__":
    writers = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    appends = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    with tempfile.TemporaryDirectory() as work:
        for name, store in (
            ("memory", InMemoryEventStore()),
            ("sqlite", SQLiteEventStore(Path(work) / "events.db")),
        ):
            began = time.perf_counter()
            conflicts, errors = contend(store, writers, appends)
            seconds = time.perf_counter() - began
            stored = store.last_sequence(PIPELINE)
            print(
                f"[contention] {name}: {writers} writers x {appends} appends: {stored:,} stored, "
                f"{len(errors)} gave up, {conflicts:,} conflicts decided again, {seconds:.1f} s"
            )
            for error in errors[:3]:
                print(f"  {error}")
