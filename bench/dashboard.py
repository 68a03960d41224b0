"""How long the dashboard takes to render its pages for a pipeline of 1,000,000 events.

    .venv/bin/python bench/dashboard.py                  # the 1M-event SQLite log of bench/out
    .venv/bin/python bench/dashboard.py --events 100000  # a smaller one

The log is the one bench/event_log.py builds (snapshots every 1,000 events, the last 1,000
without one) and is reused from bench/out/. Each page is fetched over the app's ASGI
interface (Starlette's test client: the whole request, routing, fold and templates, without
a socket); "cold" is a new app with nothing cached, "warm" the same app again.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from event_log import OUT, PIPELINE, _build_log, _reusable
from starlette.testclient import TestClient

from adapters.sqlite import SQLiteEventStore
from domain.spec import PipelineSpec
from examples.reference import CreateOrderApp
from service.pipeline_log import PipelineLog
from shipwave.dashboard import create_app

#: the bench log's pipeline as a spec (the reference pipeline's stages, the bench's id): the
#: DORA panel needs its production stages, the other pages read the log alone
SPECS = {PIPELINE: dataclasses.replace(CreateOrderApp.spec(), pipeline_id=PIPELINE)}


def _client(path: Path, specs: dict[str, PipelineSpec] | None = None) -> TestClient:
    store = SQLiteEventStore(path, create=False, read_only=True)
    return TestClient(create_app(store, specs or {}, source=str(path)))


def _time(fetch: Callable[[], int], rounds: int) -> tuple[float, float, int]:
    """(first, median of the rest) in ms, and the status of the last response."""
    timings = []
    status = 0
    for _ in range(rounds):
        start = time.perf_counter()
        status = fetch()
        timings.append((time.perf_counter() - start) * 1000)
    rest = timings[1:] or timings
    return timings[0], statistics.median(rest), status


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    path = OUT / f"events-{args.events}.db"
    if not _reusable(path, args.events):
        path.unlink(missing_ok=True)
        _build_log(path, args.events)
    print(f"[dashboard] {args.events:,} events of {PIPELINE} ({path.stat().st_size / 1e6:,.0f} MB)")

    client = _client(path)
    page = client.get(f"/pipelines/{PIPELINE}")
    sequence = args.events
    oldest = "chg-1"
    state = PipelineLog(SQLiteEventStore(path, create=False, read_only=True)).state(PIPELINE)
    newest = (*state.finished, *state.changes.values())[-1].change_id
    middle = "2026-11-23T12:00:00Z"
    pages: list[tuple[str, str, dict[str, str]]] = [
        ("pipelines (all at a glance)", "/", {}),
        ("one pipeline: grid, conveyor, changes", f"/pipelines/{PIPELINE}", {}),
        ("live region, log unchanged (204)", f"/pipelines/{PIPELINE}/live?seq={sequence}", {}),
        ("live region, log grew", f"/pipelines/{PIPELINE}/live?seq={sequence - 1}", {}),
        ("DORA panel (reads the last 30 days)", f"/pipelines/{PIPELINE}/metrics", {}),
        (
            f"the newest change's timeline ({newest}, read from its merge)",
            f"/pipelines/{PIPELINE}/changes/{newest}",
            {},
        ),
        (
            f"the oldest change's timeline ({oldest}, reads every event)",
            f"/pipelines/{PIPELINE}/changes/{oldest}",
            {},
        ),
        (
            "state at a time (folds up to it)",
            f"/pipelines/{PIPELINE}/at?t={middle}",
            {"HX-Request": "true"},
        ),
    ]
    assert page.status_code == 200, page.text[:500]
    for title, url, headers in pages:
        cold = _client(path, SPECS if "DORA" in title else None)

        def fetch(
            client: TestClient = cold, url: str = url, headers: dict[str, str] = headers
        ) -> int:
            return int(client.get(url, headers=headers).status_code)

        first, _, status = _time(fetch, 1)
        heavy = "every event" in title or "folds" in title or "30 days" in title
        rounds = 2 if heavy else args.rounds
        _, warm, status = _time(fetch, rounds + 1)
        print(
            f"[dashboard] {title}: HTTP {status}, cold {first:,.0f} ms, "
            f"warm median {warm:,.0f} ms over {rounds}"
        )


if __name__ == "__main__":
    main()
