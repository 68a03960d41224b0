"""`shipwave run MODULE:ATTR`: any team's pipelines on the local runtime.

Each pipeline's repository is a real git repository (its first commit holds the folder
given with `--code REPOSITORY=DIR`, or nothing); the service runs the adopted version
everywhere; one change is merged on each pipeline's branch and carried through the
generated state machine, the real handlers and the event log, in virtual time.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from domain.errors import ShipwaveError
from domain.spec import PipelineSpec
from shipwave.demo import Progress, fresh_source_dir, open_demo_store
from statemachines.local.runtime import LocalRuntime


class RunInputError(ShipwaveError):
    """What `shipwave run` was asked cannot be run."""


def chosen_specs(specs: Mapping[str, PipelineSpec], names: Sequence[str]) -> list[PipelineSpec]:
    unknown = [name for name in names if name not in specs]
    if unknown:
        raise RunInputError(
            f"no pipeline {', '.join(map(repr, unknown))} in the module "
            f"(it has {', '.join(sorted(specs))})"
        )
    return [specs[name] for name in names] if names else list(specs.values())


def parse_code(pairs: Sequence[str], specs: Sequence[PipelineSpec]) -> dict[str, Path]:
    """`REPOSITORY=DIR` pairs: the folder each repository's first commit holds."""
    repositories = {spec.repository for spec in specs}
    code: dict[str, Path] = {}
    for pair in pairs:
        repository, sep, folder = pair.partition("=")
        if not sep or not repository or not folder:
            raise RunInputError(f"--code {pair!r}: write REPOSITORY=DIR (acme/orders=./src)")
        if repository not in repositories:
            raise RunInputError(
                f"--code {pair!r}: no pipeline run here builds {repository!r} "
                f"(they build {', '.join(sorted(repositories))})"
            )
        path = Path(folder)
        if not path.is_dir():
            raise RunInputError(f"--code {pair!r}: {folder} is not a directory")
        code[repository] = path.resolve()
    return code


def run_pipelines(
    specs: Sequence[PipelineSpec],
    *,
    event_log: str,
    console: Console,
    start: datetime,
    adopt: str,
    merge: str,
    code: Mapping[str, Path],
    source_dir: Path,
    max_days: float,
) -> dict[str, str]:
    """Adopt `adopt` everywhere, merge `merge` on each pipeline, run until every execution
    ended; returns each change's final status by pipeline."""
    store_factory, where = open_demo_store(event_log)
    source = fresh_source_dir(source_dir)
    wall = time.monotonic()
    console.rule(f"[bold]shipwave run: {', '.join(s.pipeline_id for s in specs)}")
    with LocalRuntime(
        specs, event_log=store_factory, start=start, source_dir=source, code=code
    ) as runtime:
        for spec in specs:
            progress = Progress(console, runtime.log, spec.pipeline_id, runtime.clock.now)
            runtime.adopt(spec.pipeline_id, adopt)
            progress.seen = runtime.store.last_sequence(spec.pipeline_id)
            runtime.clock.on_tick(progress)
        changes = {
            spec.pipeline_id: runtime.merge(
                spec.pipeline_id, merge, approved_by=spec.reviewers[:1] or None
            )
            for spec in specs
        }
        runtime.run(max_days=max_days)
        outcome: dict[str, str] = {}
        table = Table(title="What happened to each change", title_justify="left")
        for column in ("Pipeline", "Change", "Status", "Stage", "Why"):
            table.add_column(column)
        for pipeline, change in changes.items():
            state = runtime.log.state(pipeline)
            found = state.changes.get(change) or next(
                (c for c in state.finished if c.change_id == change), None
            )
            status = found.status if found else "unknown"
            outcome[pipeline] = status
            table.add_row(
                pipeline,
                change,
                status,
                (found.stage or "-") if found else "-",
                (found.reason or "-") if found else "-",
            )
        console.print(table)
        console.print(
            f"virtual time {runtime.clock.now() - start} · wall time "
            f"{time.monotonic() - wall:.1f} s · notifications published "
            f"{runtime.notifications.published:,}",
            highlight=False,
        )
    console.print(f"Event log: [bold]{where}[/bold]", highlight=False)
    if where.startswith("sqlite"):
        console.print(
            f"Next: [bold]shipwave history --event-log {event_log}[/bold] or "
            f"[bold]shipwave dashboard --event-log {event_log}[/bold]",
            highlight=False,
        )
    return outcome
