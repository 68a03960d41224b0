"""`shipwave`: see what is deployed where, what happened, and run the local demo."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from adapters.sqlite_outbox import Published, SQLiteOutbox
from domain import codec
from domain.chain import parse_head
from domain.describe import concerns_change
from domain.dora import dora
from domain.errors import ShipwaveError
from domain.events import Event, to_dict
from domain.operations import approve_emergency, override_blocker
from domain.plan import plan
from domain.ports import EventStore
from domain.spec import PipelineSpec, PipelineSpecError
from domain.state import PipelineState
from service.pipeline_log import Decision, PipelineLog, Recorded
from service.verify import verify as verify_log
from shipwave.bootstrap import (
    DEFAULT_EVENT_LOG,
    DEFAULT_PIPELINES,
    load_pipelines,
    local_outbox,
    open_store,
    operator_engine,
)
from shipwave.demo import run_demo
from shipwave.pages import parse_utc
from shipwave.render import dora_view, history_view, plan_view, status_view

app = typer.Typer(
    name="shipwave",
    help="Safe, hands-off deployments: waves, one-box, bake, automatic rollback.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)
console = Console()
if not console.is_terminal:
    console.width = 160  # logs and pipes: wide enough that tables do not wrap every cell
errors = Console(stderr=True)

EventLogOption = Annotated[
    str,
    typer.Option(
        "--event-log",
        envvar="SHIPWAVE_EVENT_LOG",
        help="sqlite:///path.db or dynamodb://TABLE?region=R",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
PipelinesOption = Annotated[
    str,
    typer.Option(
        "--pipelines",
        envvar="SHIPWAVE_PIPELINES",
        help="MODULE:ATTR naming the team's pipeline classes (as cdk.json's shipwave:pipelines)",
    ),
]

_RELATIVE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def complete_pipelines(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of a pipeline id: the pipelines of the event log the command reads
    (its --event-log, SHIPWAVE_EVENT_LOG or the default); none when it cannot be read."""
    url = ctx.params.get("event_log") or os.environ.get("SHIPWAVE_EVENT_LOG", DEFAULT_EVENT_LOG)
    try:
        names = open_store(str(url), read_only=True).pipelines()
    except ShipwaveError:
        return []
    return [name for name in names if name.startswith(incomplete)]


class CliInputError(ShipwaveError):
    """A command-line value shipwave cannot use."""


def parse_when(value: str, now: datetime) -> datetime:
    """An ISO-8601 time (UTC when no zone is given) or an age such as 90m, 2h, 3d."""
    relative = _RELATIVE.match(value.strip())
    if relative:
        amount, unit = relative.groups()
        try:
            return now - timedelta(**{_UNITS[unit]: int(amount)})
        except OverflowError:
            raise CliInputError(
                f"time {value!r}: {amount} {_UNITS[unit]} ago is before the year 1"
            ) from None
    parsed = parse_utc(value)
    if parsed is None:
        raise CliInputError(
            f"time {value!r}: write ISO-8601 (2026-11-23T09:00Z) or an age (90m, 2h, 3d)"
        )
    return parsed


def _pipelines(store: EventStore, pipeline: str | None) -> list[str]:
    if pipeline is not None:
        return [pipeline]
    names = list(store.pipelines())
    if not names:
        raise CliInputError("the event log holds no pipeline yet")
    return names


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True) + "\n")


@app.command()
def status(
    pipeline: Annotated[
        str | None,
        typer.Argument(help="Pipeline id; all when omitted.", autocompletion=complete_pipelines),
    ] = None,
    event_log: EventLogOption = DEFAULT_EVENT_LOG,
    as_json: JsonOption = False,
    at: Annotated[
        str | None, typer.Option("--at", help="Show the state as it was at this time.")
    ] = None,
    watch: Annotated[
        float | None,
        typer.Option(
            "--watch", help="Refresh in place every SECONDS as the log grows (Ctrl-C stops)."
        ),
    ] = None,
) -> None:
    """What version is where, what is in flight, what is blocked and why."""
    log = PipelineLog(open_store(event_log, read_only=True))
    if watch is not None:
        if as_json or at:
            raise CliInputError("--watch shows the state as it changes: not with --json or --at")
        if not 0.2 <= watch <= 3600:
            raise CliInputError(f"--watch {watch:g}: write seconds from 0.2 to 3600")
        _watch(log, pipeline, watch)
        return
    moment = parse_when(at, datetime.now(UTC)) if at else None
    states = [
        log.state_at(name, moment) if moment else log.state(name)
        for name in _pipelines(log.store, pipeline)
    ]
    if as_json:
        encoded = [
            {**codec.encode(state), "head": _head_json(log.store, state)} for state in states
        ]
        _print_json(encoded[0] if pipeline else encoded)
        return
    for state in states:
        console.print(status_view(state))


def _watch(log: PipelineLog, pipeline: str | None, seconds: float) -> None:
    """The status, redrawn in place every `seconds` (only the log's new events are read).
    A read that fails shows as such, in red, until the log can be read again: the screen
    never keeps showing a state it could not check."""

    def view() -> Group:
        stamp = datetime.now(UTC).strftime("%H:%M:%S UTC")
        try:
            states = [log.state(name) for name in _pipelines(log.store, pipeline)]
        except ShipwaveError as error:
            return Group(
                Text(f"watching every {seconds:g} s · {stamp} · Ctrl-C stops", style="dim"),
                Text(f"cannot read the event log: {error}", style="bold red"),
            )
        return Group(
            Text(f"watching every {seconds:g} s · {stamp} · Ctrl-C stops", style="dim"),
            *(status_view(state) for state in states),
        )

    with Live(view(), console=console, auto_refresh=False, vertical_overflow="visible") as live:
        try:
            while True:
                time.sleep(seconds)
                live.update(view(), refresh=True)
        except KeyboardInterrupt:
            pass


def _head_json(store: EventStore, state: PipelineState) -> dict[str, object]:
    """The chain head of the state shown: keep it to check the log later (`shipwave verify
    --expect-head SEQUENCE:HASH`)."""
    digest = store.hash_at(state.pipeline_id, state.sequence)
    return {"sequence": state.sequence, "hash": digest, "text": f"{state.sequence}:{digest}"}


@app.command()
def verify(
    pipeline: Annotated[
        str | None,
        typer.Argument(help="Pipeline id; all when omitted.", autocompletion=complete_pipelines),
    ] = None,
    event_log: EventLogOption = DEFAULT_EVENT_LOG,
    expect_head: Annotated[
        str | None,
        typer.Option(
            "--expect-head",
            help="SEQUENCE:HASH kept from an earlier `status --json` (its head.text) or verify: "
            "the log must still hold it",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check every link of the event log's hash chain and the newest snapshot; exit 1 at the
    first broken link, naming the pipeline and the sequence."""
    store = open_store(event_log, read_only=True)
    expect = parse_head(expect_head) if expect_head is not None else None
    names = _pipelines(store, pipeline)
    if expect is not None and len(names) > 1:
        raise CliInputError("--expect-head belongs to one pipeline: name it")
    verdicts = [verify_log(store, name, expect) for name in names]
    if as_json:
        _print_json(
            [
                {
                    "pipeline_id": v.pipeline_id,
                    "intact": v.intact,
                    "checked": v.checked,
                    "head": {"sequence": v.head.sequence, "hash": v.head.hash, "text": str(v.head)},
                    "problems": list(v.problems),
                    "notes": list(v.notes),
                }
                for v in verdicts
            ]
        )
    else:
        for v in verdicts:
            if v.intact:
                console.print(
                    f"[green]intact[/green] {v.pipeline_id}: {v.checked:,} events chained, "
                    f"head {v.head}",
                    highlight=False,
                    soft_wrap=True,
                )
            else:
                console.print(
                    f"[red]BROKEN[/red] {v.pipeline_id}: {v.problems[0]}",
                    highlight=False,
                    soft_wrap=True,
                )
                for problem in v.problems[1:]:
                    console.print(f"  also: {problem}", highlight=False, soft_wrap=True)
            for note in v.notes:
                console.print(f"  {note}", highlight=False, soft_wrap=True)
    if not all(v.intact for v in verdicts):
        raise typer.Exit(1)


@app.command()
def history(
    pipeline: Annotated[
        str | None,
        typer.Argument(help="Pipeline id; all when omitted.", autocompletion=complete_pipelines),
    ] = None,
    change: Annotated[
        str | None, typer.Option("--change", help="Only events about this change.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only events at or after this time (or age).")
    ] = None,
    event_log: EventLogOption = DEFAULT_EVENT_LOG,
    as_json: JsonOption = False,
) -> None:
    """Every recorded transition, oldest first."""
    log = PipelineLog(open_store(event_log, read_only=True))
    start = parse_when(since, datetime.now(UTC)) if since else None

    def selected(name: str) -> Iterator[Event]:
        for event in log.events(name):
            if start is not None and event.at < start:
                continue
            if change is not None and not concerns_change(event, change):
                continue
            yield event

    names = _pipelines(log.store, pipeline)
    outbox = local_outbox(log.store)
    published = {name: _published(outbox, name) for name in names}
    if as_json:
        _print_json(
            [
                {**to_dict(event), **_notification_json(published[name], event.sequence)}
                for name in names
                for event in selected(name)
            ]
        )
        return
    for name in names:
        console.print(history_view(name, selected(name), published[name]))


def _published(outbox: SQLiteOutbox | None, pipeline: str) -> dict[int, Published] | None:
    if outbox is None:
        return None
    return {note.sequence: note for note in outbox.published(pipeline)}


def _notification_json(published: dict[int, Published] | None, sequence: int) -> dict[str, Any]:
    """A local log's events carry the notification each became (None: not yet published)."""
    if published is None:
        return {}
    note = published.get(sequence)
    return {
        "notification": {"detail_type": note.detail_type, "severity": note.severity}
        if note
        else None
    }


@app.command()
def validate(
    pipelines: Annotated[
        str, typer.Argument(help="MODULE:ATTR naming the team's pipeline classes")
    ] = DEFAULT_PIPELINES,
) -> None:
    """Check a team's pipeline classes as the CDK app will: every problem, one line each,
    exit 1 when there is any."""
    try:
        specs = load_pipelines(pipelines)
    except PipelineSpecError as error:
        for problem in error.problems:
            errors.print(f"[red]error:[/red] {problem}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    console.print(
        f"{len(specs)} pipelines valid in {pipelines}: {', '.join(sorted(specs))}",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def metrics(
    pipeline: Annotated[
        str | None,
        typer.Argument(help="Pipeline id; all when omitted.", autocompletion=complete_pipelines),
    ] = None,
    since: Annotated[
        str, typer.Option("--since", help="Start of the window: a time or an age (30d).")
    ] = "30d",
    event_log: EventLogOption = DEFAULT_EVENT_LOG,
    pipelines: PipelinesOption = DEFAULT_PIPELINES,
    as_json: JsonOption = False,
) -> None:
    """DORA's four keys from the log: deployment frequency, lead time (merge to everywhere),
    change failure rate (rolled back in production), time to restore."""
    store = open_store(event_log, read_only=True)
    now = datetime.now(UTC)
    start = parse_when(since, now)
    if start >= now:
        raise CliInputError(f"--since {since!r} is not in the past")
    specs = load_pipelines(pipelines)
    figures = []
    for name in _pipelines(store, pipeline):
        if name not in specs:
            raise CliInputError(
                f"pipeline {name!r} is not in {pipelines}: its production stages are unknown "
                "(name its module with --pipelines)"
            )
        production = frozenset(s.name for s in specs[name].stages if s.production)
        if pipeline is not None and store.last_sequence(name) == 0:
            raise CliInputError(f"pipeline {name!r} has no events in the log")
        events = list(store.read(name))
        # the window ends now, or at the newest event when the log runs ahead of this clock
        # (the local runtime's virtual time)
        until = max([now, *(e.at for e in events[-1:])])
        figures.append(dora(name, events, production=production, since=start, until=until))
    if as_json:
        _print_json([codec.encode(f) for f in figures])
        return
    for f in figures:
        console.print(dora_view(f))


def _spec(pipelines: str, pipeline: str) -> PipelineSpec:
    specs = load_pipelines(pipelines)
    if pipeline not in specs:
        raise CliInputError(
            f"pipeline {pipeline!r} is not in {pipelines} (it has {', '.join(sorted(specs))})"
        )
    return specs[pipeline]


def _record(event_log: str, pipeline: str, decide: Decision) -> Recorded:
    """A person's act on a running pipeline, decided on its current state and recorded now
    (an unknown pipeline is refused by reading its state first)."""
    log = PipelineLog(open_store(event_log))
    log.state(pipeline)
    return log.record(pipeline, datetime.now(UTC), decide)


@app.command()
def emergency(
    pipeline: Annotated[
        str, typer.Argument(help="Pipeline id.", autocompletion=complete_pipelines)
    ],
    change: Annotated[str, typer.Argument(help="The change that must ship faster.")],
    approver: Annotated[
        list[str], typer.Option("--approver", help="A senior engineer approving (twice or more).")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why this cannot wait.")],
    bake_factor: Annotated[
        float, typer.Option("--bake-factor", help="Share of each bake this change waits.")
    ] = 0.25,
    event_log: EventLogOption = DEFAULT_EVENT_LOG,
    pipelines: PipelinesOption = DEFAULT_PIPELINES,
) -> None:
    """Record an approved emergency: this change bakes faster, and still passes every step.
    The approvers must be distinct, among the pipeline's emergency approvers, and not the
    change's authors."""
    spec = _spec(pipelines, pipeline)
    result = _record(
        event_log,
        pipeline,
        lambda state, stamp: approve_emergency(
            state,
            stamp,
            change_id=change,
            approvers=tuple(approver),
            reason=reason,
            bake_factor=bake_factor,
            senior_approvers=spec.emergency_approvers,
        ),
    )
    console.print(
        f"recorded at sequence {result.events[-1].sequence}: emergency for {change}, "
        f"bakes × {bake_factor:g}, approved by {', '.join(approver)}"
    )


@app.command()
def override(
    pipeline: Annotated[
        str, typer.Argument(help="Pipeline id.", autocompletion=complete_pipelines)
    ],
    stage: Annotated[str, typer.Argument(help="The stage the change is held at.")],
    change: Annotated[str, typer.Argument(help="The change to let through.")],
    blocker: Annotated[str, typer.Option("--blocker", help="As `shipwave status` names it.")],
    by: Annotated[str, typer.Option("--by", help="Who overrides.")],
    why: Annotated[str, typer.Option("--why", help="Why it must ship now.")],
    event_log: EventLogOption = DEFAULT_EVENT_LOG,
) -> None:
    """Let one change past a blocker (to ship a fix); recorded with who and why."""
    result = _record(
        event_log,
        pipeline,
        lambda state, stamp: override_blocker(
            state, stamp, stage=stage, change_id=change, blocker=blocker, by=by, why=why
        ),
    )
    console.print(
        f"recorded at sequence {result.events[-1].sequence}: {blocker} at {stage} "
        f"overridden for {change} by {by}"
    )


@app.command()
def rollback(
    pipeline: Annotated[
        str, typer.Argument(help="Pipeline id.", autocompletion=complete_pipelines)
    ],
    stage: Annotated[str, typer.Argument(help="The stage whose rollback failed.")],
    to: Annotated[str, typer.Option("--to", help="The earlier version to redeploy.")],
    by: Annotated[str, typer.Option("--by", help="Who acts.")],
    why: Annotated[str, typer.Option("--why", help="Why.")],
    event_log: EventLogOption = DEFAULT_EVENT_LOG,
    pipelines: PipelinesOption = DEFAULT_PIPELINES,
) -> None:
    """Redeploy a named earlier artifact (checksum verified) to the scopes of a stage whose
    rollback failed; recorded with who and why. Then `shipwave unblock` releases the stage."""
    result = operator_engine(event_log, pipelines).recover(pipeline, stage, to, by=by, why=why)
    console.print(
        f"recorded: {stage} back on {result['artifact']} in {', '.join(result['recovered'])}, "
        f"by {by}"
    )


@app.command()
def unblock(
    pipeline: Annotated[
        str, typer.Argument(help="Pipeline id.", autocompletion=complete_pipelines)
    ],
    stage: Annotated[str, typer.Argument(help="The stage held by a failed rollback.")],
    by: Annotated[str, typer.Option("--by", help="Who acts.")],
    why: Annotated[str, typer.Option("--why", help="Why it is safe now.")],
    event_log: EventLogOption = DEFAULT_EVENT_LOG,
    pipelines: PipelinesOption = DEFAULT_PIPELINES,
) -> None:
    """Release a stage held by a failed rollback once none of its scopes runs the failed
    change; the newest change waiting for it goes on. Recorded with who and why."""
    result = operator_engine(event_log, pipelines).unblock(pipeline, stage, by=by, why=why)
    console.print(f"recorded: {stage} unblocked by {by}")
    for change in result["next"]:
        if change in result["resumed"]:
            console.print(f"{change} takes {stage} and goes on")
        else:
            console.print(
                f"{change} takes {stage}, but its execution could not be reached from here "
                "(a local run's executions lived in the process that ran them)"
            )
    if not result["next"]:
        console.print("no change was waiting for it")


@app.command("plan")
def plan_change(
    pipeline: Annotated[str, typer.Argument(help="Pipeline id.")],
    merged_at: Annotated[
        str, typer.Option("--merged-at", help="When the change merges (a time, or an age).")
    ],
    pipelines: PipelinesOption = DEFAULT_PIPELINES,
    build_minutes: Annotated[
        float, typer.Option("--build-minutes", help="How long its build takes.")
    ] = 10,
    tests_minutes: Annotated[
        float, typer.Option("--tests-minutes", help="How long the integration tests take.")
    ] = 15,
    as_json: JsonOption = False,
) -> None:
    """When a change merged at a time would reach each stage and region, from the spec: its
    bakes, windows and public holidays (the earliest, when nothing else holds a stage)."""
    spec = _spec(pipelines, pipeline)
    moment = parse_when(merged_at, datetime.now(UTC))
    for name, minutes in (("--build-minutes", build_minutes), ("--tests-minutes", tests_minutes)):
        if not 0 <= minutes <= 24 * 60:
            raise CliInputError(f"{name} {minutes:g}: write minutes from 0 to 1440")
    schedule = plan(
        spec, moment, build_seconds=build_minutes * 60, tests_seconds=tests_minutes * 60
    )
    if as_json:
        everywhere = schedule.everywhere.isoformat().replace("+00:00", "Z")
        _print_json({**codec.encode(schedule), "everywhere": everywhere})
        return
    console.print(plan_view(schedule))


@app.command()
def dashboard(
    event_log: EventLogOption = DEFAULT_EVENT_LOG,
    pipelines: PipelinesOption = DEFAULT_PIPELINES,
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 8321,
    refresh: Annotated[
        float, typer.Option("--refresh", help="Seconds between live updates of a page.")
    ] = 2.0,
) -> None:
    """Serve the pipelines' pages on http://127.0.0.1:PORT, read from the event log with
    your credentials (it never writes); each page updates itself as the log grows."""
    # the web stack loads for this command alone: the others start as fast as before
    import uvicorn  # noqa: PLC0415

    from shipwave.dashboard import create_app  # noqa: PLC0415

    if not 0 < port < 65536:
        raise CliInputError(f"--port {port}: not a TCP port (1 to 65535)")
    if not 0.1 <= refresh <= 3600:
        raise CliInputError(f"--refresh {refresh:g}: write seconds from 0.1 to 3600")
    store = open_store(event_log, read_only=True)
    specs = load_pipelines(pipelines)
    application = create_app(store, specs, source=event_log, refresh_seconds=refresh)
    errors.print(f"shipwave dashboard on http://127.0.0.1:{port}/ (Ctrl-C stops it)")
    uvicorn.run(application, host="127.0.0.1", port=port, log_level="warning")


@app.command()
def report(
    html_file: Annotated[
        str, typer.Option("--html", help="The HTML file to write (one self-contained page).")
    ],
    event_log: EventLogOption = DEFAULT_EVENT_LOG,
    pipelines: PipelinesOption = DEFAULT_PIPELINES,
) -> None:
    """Write the dashboard's pages as one static HTML file (a CI artifact, an S3 object)."""
    from shipwave.dashboard import write_report  # noqa: PLC0415

    store = open_store(event_log, read_only=True)
    _pipelines(store, None)  # an empty log is refused, not written as an empty report
    specs = load_pipelines(pipelines)
    target = Path(html_file)
    if target.is_dir():
        raise CliInputError(f"--html {html_file!r} is a directory: name a file")
    size = write_report(store, specs, target, source=event_log)
    console.print(f"wrote {target} ({size:,} bytes)", highlight=False, soft_wrap=True)


@app.command("run")
def run_local(
    pipelines: Annotated[
        str, typer.Argument(help="MODULE:ATTR naming the team's pipeline classes")
    ],
    only: Annotated[
        list[str] | None,
        typer.Option("--pipeline", help="Run this pipeline only (repeat for more)."),
    ] = None,
    code: Annotated[
        list[str] | None,
        typer.Option(
            "--code", help="REPOSITORY=DIR: the folder the repository's first commit holds."
        ),
    ] = None,
    adopt: Annotated[
        str, typer.Option("--adopt", help="The version already running everywhere.")
    ] = "v1.0.0",
    merge: Annotated[str, typer.Option("--merge", help="The version merged and deployed.")] = (
        "v1.1.0"
    ),
    start: Annotated[
        str, typer.Option("--start", help="Virtual time the run starts at (ISO-8601, UTC).")
    ] = "2026-11-23T08:00:00Z",
    max_days: Annotated[
        float, typer.Option("--max-days", help="Stop after this much virtual time.")
    ] = 30,
    event_log: Annotated[
        str,
        typer.Option(
            "--event-log",
            help="sqlite:///path.db (an existing file is kept aside) or dynamodb (moto)",
        ),
    ] = "sqlite:///.shipwave/run.db",
    source_dir: Annotated[
        str, typer.Option("--source-dir", help="Where the run's git repositories are made.")
    ] = ".shipwave/run-source",
) -> None:
    """Run a team's pipelines on the local runtime: each adopts a version everywhere, one
    change is merged and carried through every stage in virtual time; exit 1 unless every
    change completed."""
    from shipwave.local_run import chosen_specs, parse_code, run_pipelines  # noqa: PLC0415

    specs = chosen_specs(load_pipelines(pipelines), only or [])
    moment = parse_utc(start)
    if moment is None:
        raise CliInputError(f"--start {start!r}: write ISO-8601 (2026-11-23T08:00Z)")
    if not 0 < max_days <= 366:
        raise CliInputError(f"--max-days {max_days:g}: write days from 0 to 366")
    if adopt == merge:
        raise CliInputError(f"--merge {merge!r} is the adopted version: nothing would change")
    outcome = run_pipelines(
        specs,
        event_log=event_log,
        console=console,
        start=moment,
        adopt=adopt,
        merge=merge,
        code=parse_code(code or [], specs),
        source_dir=Path(source_dir),
        max_days=max_days,
    )
    if any(status != "completed" for status in outcome.values()):
        raise typer.Exit(1)


@app.command()
def demo(
    event_log: Annotated[
        str,
        typer.Option(
            "--event-log",
            help="sqlite:///path.db (an existing file is kept aside) or dynamodb (moto)",
        ),
    ] = DEFAULT_EVENT_LOG,
) -> None:
    """Run the reference pipeline on the local runtime: four scenarios, virtual time."""
    run_demo(event_log, console)


def main() -> None:
    """Entry point: shipwave errors are one line on stderr and exit code 1, never a traceback."""
    try:
        app()
    except ShipwaveError as error:
        errors.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        raise SystemExit(1) from None
