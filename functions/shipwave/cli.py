"""`shipwave`: see what is deployed where, what happened, and run the local demo."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console

from domain import codec
from domain.describe import concerns_change
from domain.errors import ShipwaveError
from domain.events import Event, to_dict
from domain.ports import EventStore
from service.pipeline_log import PipelineLog
from shipwave.bootstrap import DEFAULT_EVENT_LOG, open_store
from shipwave.demo import run_demo
from shipwave.render import history_view, status_view

app = typer.Typer(
    name="shipwave",
    help="Safe, hands-off deployments: waves, one-box, bake, automatic rollback.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
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

_RELATIVE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class CliInputError(ShipwaveError):
    """A command-line value shipwave cannot use."""


def parse_when(value: str, now: datetime) -> datetime:
    """An ISO-8601 time (UTC when no zone is given) or an age such as 90m, 2h, 3d."""
    relative = _RELATIVE.match(value.strip())
    if relative:
        amount, unit = relative.groups()
        return now - timedelta(**{_UNITS[unit]: int(amount)})
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise CliInputError(
            f"time {value!r}: write ISO-8601 (2026-11-23T09:00Z) or an age (90m, 2h, 3d)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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
    pipeline: Annotated[str | None, typer.Argument(help="Pipeline id; all when omitted.")] = None,
    event_log: EventLogOption = DEFAULT_EVENT_LOG,
    as_json: JsonOption = False,
    at: Annotated[
        str | None, typer.Option("--at", help="Show the state as it was at this time.")
    ] = None,
) -> None:
    """What version is where, what is in flight, what is blocked and why."""
    log = PipelineLog(open_store(event_log))
    moment = parse_when(at, datetime.now(UTC)) if at else None
    states = [
        log.state_at(name, moment) if moment else log.state(name)
        for name in _pipelines(log.store, pipeline)
    ]
    if as_json:
        encoded = [codec.encode(state) for state in states]
        _print_json(encoded[0] if pipeline else encoded)
        return
    for state in states:
        console.print(status_view(state))


@app.command()
def history(
    pipeline: Annotated[str | None, typer.Argument(help="Pipeline id; all when omitted.")] = None,
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
    log = PipelineLog(open_store(event_log))
    start = parse_when(since, datetime.now(UTC)) if since else None

    def selected(name: str) -> Iterator[Event]:
        for event in log.events(name):
            if start is not None and event.at < start:
                continue
            if change is not None and not concerns_change(event, change):
                continue
            yield event

    names = _pipelines(log.store, pipeline)
    if as_json:
        _print_json([to_dict(event) for name in names for event in selected(name)])
        return
    for name in names:
        console.print(history_view(name, selected(name)))


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
