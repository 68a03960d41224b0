"""`shipwave`: see what is deployed where, what happened, and run the local demo."""

from __future__ import annotations

import getpass
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from adapters.operator_endpoint import OperatorEndpoint
from adapters.sqlite_outbox import Published, SQLiteOutbox
from domain import codec
from domain.chain import parse_head
from domain.describe import concerns_change
from domain.errors import ShipwaveError
from domain.events import Event, to_dict
from domain.identity import Principal, local_user
from domain.plan import plan
from domain.ports import EventStore
from domain.spec import PipelineSpec, PipelineSpecError
from domain.state import PipelineState
from service.operating import Operations
from service.pipeline_log import PipelineLog
from service.reporting import dora_of
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


#: a pipeline id argument, completed from the log the command reads
PipelineArgument = Annotated[
    str, typer.Argument(help="Pipeline id.", autocompletion=complete_pipelines)
]
#: a pipeline id, or every pipeline when omitted
AnyPipelineArgument = Annotated[
    str | None,
    typer.Argument(help="Pipeline id; all when omitted.", autocompletion=complete_pipelines),
]


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
    pipeline: AnyPipelineArgument = None,
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
    pipeline: AnyPipelineArgument = None,
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
    pipeline: AnyPipelineArgument = None,
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
    pipeline: AnyPipelineArgument = None,
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
        # the window ends now, or at the newest event when the log runs ahead of this clock
        # (the local runtime's virtual time); read from shortly before it, not whole
        figures.append(
            dora_of(PipelineLog(store), name, production=production, since=start, now=now)
        )
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


TeamOption = Annotated[str | None, typer.Option("--team", help="Every pipeline of a team.")]
EndpointOption = Annotated[
    str | None,
    typer.Option(
        "--endpoint",
        envvar="SHIPWAVE_OPERATOR_ENDPOINT",
        help="The operator endpoint (the controller's OperatorEndpointUrl output): the act is "
        "signed with your AWS credentials. Without it: a local (SQLite) log, as the OS user.",
    ),
]
WhyOption = Annotated[str, typer.Option("--why", help="Why: recorded with who acted.")]


def _act(
    endpoint: str | None,
    path: str,
    why: str | dict[str, Any],
    event_log: str,
    pipelines: str,
    local: Callable[[Operations, Principal], dict[str, Any]],
) -> dict[str, Any]:
    """Through the operator endpoint (signed, the signer acts), or on a local log as the OS
    user. A DynamoDB log is never written from here: on AWS only the endpoint acts."""
    if endpoint:
        return OperatorEndpoint(endpoint).post(path, why if isinstance(why, dict) else {"why": why})
    if not event_log.startswith("sqlite"):
        raise CliInputError(
            "on AWS a person acts through the operator endpoint, signed with their AWS "
            "credentials: pass --endpoint (the controller's OperatorEndpointUrl output) or "
            "set SHIPWAVE_OPERATOR_ENDPOINT"
        )
    log = PipelineLog(open_store(event_log))
    operations = Operations(log, load_pipelines(pipelines), clock=lambda: datetime.now(UTC))
    return local(operations, local_user(getpass.getuser()))


def _target(pipeline: str | None, team: str | None) -> str:
    """The endpoint path of a pipeline, or of a whole team."""
    if (pipeline is None) == (team is None):
        raise CliInputError("name a pipeline, or a whole team with --team, not both")
    if pipeline is not None:
        return f"/pipelines/{quote(pipeline, safe='')}"
    assert team is not None
    return f"/teams/{quote(team, safe='')}"


def _switch(
    act: str,
    pipeline: str | None,
    team: str | None,
    why: str,
    endpoint: str | None,
    event_log: str,
    pipelines: str,
) -> None:
    """`pause` or `resume` of a pipeline or a whole team, and what became of each."""
    result = _act(
        endpoint,
        f"{_target(pipeline, team)}/{act}",
        why,
        event_log,
        pipelines,
        lambda ops, who: getattr(ops, act)(who, why, pipeline=pipeline, team=team or ""),
    )
    done = {"pause": "paused", "resume": "resumed"}[act]
    for name in result.get(done, []):
        console.print(f"{name}: {done} by {result.get('by')}", highlight=False)
    for line in result.get("unchanged", []):
        console.print(f"unchanged: {line}", highlight=False)


@app.command()
def pause(
    pipeline: Annotated[
        str | None, typer.Argument(help="Pipeline id.", autocompletion=complete_pipelines)
    ] = None,
    team: TeamOption = None,
    why: WhyOption = "",
    endpoint: EndpointOption = None,
    event_log: EventLogOption = DEFAULT_EVENT_LOG,
    pipelines: PipelinesOption = DEFAULT_PIPELINES,
) -> None:
    """No new stage starts (running bakes keep watching and can still roll back) until
    `resume`; recorded with who (your identity) and why."""
    _switch("pause", pipeline, team, why, endpoint, event_log, pipelines)


@app.command()
def resume(
    pipeline: Annotated[
        str | None, typer.Argument(help="Pipeline id.", autocompletion=complete_pipelines)
    ] = None,
    team: TeamOption = None,
    why: WhyOption = "",
    endpoint: EndpointOption = None,
    event_log: EventLogOption = DEFAULT_EVENT_LOG,
    pipelines: PipelinesOption = DEFAULT_PIPELINES,
) -> None:
    """Let a paused pipeline (or team) start stages again; recorded with who and why."""
    _switch("resume", pipeline, team, why, endpoint, event_log, pipelines)


@app.command()
def abort(
    pipeline: PipelineArgument,
    change: Annotated[str, typer.Argument(help="The change to stop.")],
    why: WhyOption = "",
    endpoint: EndpointOption = None,
    event_log: EventLogOption = DEFAULT_EVENT_LOG,
    pipelines: PipelinesOption = DEFAULT_PIPELINES,
) -> None:
    """Stop the line: roll back everything the change deployed (stages it passed too) and
    stop its execution; recorded with who and why."""
    result = _act(
        endpoint,
        f"/pipelines/{quote(pipeline, safe='')}/changes/{quote(change, safe='')}/abort",
        why,
        event_log,
        pipelines,
        lambda ops, who: ops.abort(who, pipeline, change, why),
    )
    console.print(f"{change}: aborted by {result.get('by')}", highlight=False)
    if result.get("rolled_back") or result.get("stopped"):
        console.print(
            f"rolled back in {', '.join(result.get('rolled_back', [])) or 'no stage'}; "
            f"execution {'stopped' if result.get('stopped') else 'was not running'}",
            highlight=False,
        )
    elif result.get("stages"):
        console.print(
            f"recorded; its stages {', '.join(result['stages'])} could not be rolled back from "
            "here (a local run's fleet and executions lived in the process that ran them)",
            highlight=False,
        )


@app.command()
def retry(
    pipeline: PipelineArgument,
    change: Annotated[str, typer.Argument(help="The failed change to run again.")],
    why: WhyOption = "",
    endpoint: EndpointOption = None,
    event_log: EventLogOption = DEFAULT_EVENT_LOG,
    pipelines: PipelinesOption = DEFAULT_PIPELINES,
) -> None:
    """Run a change that failed for a reason now gone (an alarm that cleared, a build that
    could not fetch, a review source that was down) again, from where it failed, in a new
    execution; recorded with who and why. Refused while it runs, when it did not fail, and
    once a newer change has reached that stage."""
    result = _act(
        endpoint,
        f"/pipelines/{quote(pipeline, safe='')}/changes/{quote(change, safe='')}/retry",
        why,
        event_log,
        pipelines,
        lambda ops, who: ops.retry(who, pipeline, change, why),
    )
    again = "" if result.get("recorded", True) else " (recorded before; started again)"
    console.print(
        f"{change}: retried by {result.get('by')} from {result.get('from')}, run "
        f"{result.get('attempt')}{again}: execution {result.get('execution')}",
        highlight=False,
    )
    if result.get("paused"):
        console.print(
            "the pipeline is paused: the change waits at its next stage until it is resumed",
            highlight=False,
        )


@app.command()
def emergency(
    pipeline: PipelineArgument,
    change: Annotated[str, typer.Argument(help="The change that must ship faster.")],
    reason: Annotated[str, typer.Option("--reason", help="Why this cannot wait.")],
    bake_factor: Annotated[
        float, typer.Option("--bake-factor", help="Share of each bake this change waits.")
    ] = 0.25,
    endpoint: EndpointOption = None,
    event_log: EventLogOption = DEFAULT_EVENT_LOG,
    pipelines: PipelinesOption = DEFAULT_PIPELINES,
) -> None:
    """Approve an emergency as yourself: once a second, distinct senior engineer of the
    pipeline's emergency approvers (neither an author of the change) approves too, the
    change bakes faster, and still passes every step."""
    result = _act(
        endpoint,
        f"/pipelines/{quote(pipeline, safe='')}/changes/{quote(change, safe='')}/emergency",
        {"reason": reason, "bake_factor": bake_factor},
        event_log,
        pipelines,
        lambda ops, who: ops.emergency(who, pipeline, change, reason, bake_factor),
    )
    if result["approved"]:
        console.print(
            f"emergency for {change} approved by {' and '.join(result['approvers'])}: "
            f"bakes x {result['bake_factor']:g}",
            highlight=False,
        )
    else:
        console.print(
            f"approval of {change}'s emergency recorded, by {result['by']}; a second senior "
            "engineer must approve it",
            highlight=False,
        )


@app.command()
def override(
    pipeline: PipelineArgument,
    stage: Annotated[str, typer.Argument(help="The stage the change is held at.")],
    change: Annotated[str, typer.Argument(help="The change to let through.")],
    blocker: Annotated[str, typer.Option("--blocker", help="As `shipwave status` names it.")],
    why: WhyOption = "",
    endpoint: EndpointOption = None,
    event_log: EventLogOption = DEFAULT_EVENT_LOG,
    pipelines: PipelinesOption = DEFAULT_PIPELINES,
) -> None:
    """Let one change past a blocker (to ship a fix), as yourself and with why."""
    result = _act(
        endpoint,
        f"/pipelines/{quote(pipeline, safe='')}/stages/{quote(stage, safe='')}"
        f"/changes/{quote(change, safe='')}/override",
        {"blocker": blocker, "why": why},
        event_log,
        pipelines,
        lambda ops, who: ops.override(who, pipeline, stage, change, blocker, why),
    )
    console.print(
        f"{blocker} at {stage} overridden for {change} by {result['by']}", highlight=False
    )


@app.command()
def rollback(
    pipeline: PipelineArgument,
    stage: Annotated[str, typer.Argument(help="The stage to return to a version.")],
    to: Annotated[str, typer.Option("--to", help="The earlier version to redeploy.")],
    why: WhyOption = "",
    endpoint: EndpointOption = None,
    event_log: EventLogOption = DEFAULT_EVENT_LOG,
    pipelines: PipelinesOption = DEFAULT_PIPELINES,
) -> None:
    """Redeploy a named earlier artifact (checksum verified), as yourself and with why: to
    the scopes of a stage whose rollback failed (then `shipwave unblock` releases it), or,
    the pipeline paused and no change holding the stage, to every scope of a stage that runs
    a version which failed later (the pipeline rolls back only where an alarm fired)."""
    result = _act(
        endpoint,
        f"/pipelines/{quote(pipeline, safe='')}/stages/{quote(stage, safe='')}/rollback",
        {"version": to, "why": why},
        event_log,
        pipelines,
        lambda ops, who: _with_recovery(ops, event_log, pipelines).recover(
            who, pipeline, stage, to, why
        ),
    )
    console.print(
        f"recorded: {stage} back on {result['artifact']} in {', '.join(result['recovered'])}, "
        f"by {result['by']}",
        highlight=False,
    )


@app.command()
def unblock(
    pipeline: PipelineArgument,
    stage: Annotated[str, typer.Argument(help="The stage held by a failed rollback.")],
    why: WhyOption = "",
    endpoint: EndpointOption = None,
    event_log: EventLogOption = DEFAULT_EVENT_LOG,
    pipelines: PipelinesOption = DEFAULT_PIPELINES,
) -> None:
    """Release a stage held by a failed rollback once none of its scopes runs the failed
    change; the newest change waiting for it goes on. As yourself and with why."""
    result = _act(
        endpoint,
        f"/pipelines/{quote(pipeline, safe='')}/stages/{quote(stage, safe='')}/unblock",
        why,
        event_log,
        pipelines,
        lambda ops, who: _with_recovery(ops, event_log, pipelines).unblock(
            who, pipeline, stage, why
        ),
    )
    console.print(f"recorded: {stage} unblocked by {result['by']}", highlight=False)
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


def _with_recovery(operations: Operations, event_log: str, pipelines: str) -> Operations:
    """A local log's recovery: over the log alone (its fleet lived in the run's process)."""
    operations.recovery = operator_engine(event_log, pipelines)
    return operations


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
    """Run the reference pipeline on the local runtime: eight scenarios, virtual time."""
    run_demo(event_log, console)


def main() -> None:
    """Entry point: shipwave errors are one line on stderr and exit code 1, never a traceback."""
    try:
        app()
    except ShipwaveError as error:
        errors.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        raise SystemExit(1) from None
