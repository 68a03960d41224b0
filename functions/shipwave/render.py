"""Rich views of pipeline state and history for people at a terminal."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from rich.console import Group
from rich.table import Table
from rich.text import Text

from adapters.sqlite_outbox import Published
from domain.describe import change_of, describe, stage_and_scope
from domain.dora import Dora
from domain.events import Artifact, Event
from domain.plan import Plan
from domain.state import Blocker, ChangeState, PipelineState
from shipwave.pages import change_row


def short_checksum(artifact: Artifact | None) -> str:
    return artifact.checksum[:19] + "…" if artifact else "-"


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def status_view(state: PipelineState) -> Group:
    """What version is where, what is in flight, what is blocked and why."""
    title = Text.assemble(
        ("Pipeline ", "bold"),
        (state.pipeline_id, "bold cyan"),
        f" · sequence {state.sequence} · updated {when(state.updated_at)}",
    )
    parts: list[Table | Text] = [title]
    if state.paused is not None:
        parts.append(
            Text(
                f"PAUSED by {state.paused.by} since {when(state.paused.since)}: "
                f"{state.paused.why}. No new stage starts; running bakes keep watching "
                "(shipwave resume).",
                style="bold red",
            )
        )

    scopes = Table(title="Where each version runs", title_justify="left", expand=False)
    for column in (
        "Stage",
        "Scope",
        "Deployed",
        "Checksum",
        "Traffic",
        "Known good",
        "Activity",
        "Health",
    ):
        scopes.add_column(column)
    for stage in state.stages.values():
        for scope in stage.scopes.values():
            if scope.deployed is None and scope.known_good is None and scope.bake_ends_at is None:
                continue  # a region-wide bake's row holds nothing of its own
            activity = scope.activity
            if scope.bake_ends_at is not None:
                activity += f" until {when(scope.bake_ends_at)}"
            if scope.last_alarm:
                activity += f" [red](alarm {scope.last_alarm})[/red]"
            scopes.add_row(
                stage.stage,
                scope.scope,
                scope.deployed.version if scope.deployed else "-",
                short_checksum(scope.deployed),
                f"{scope.traffic_percent:g}%",
                scope.known_good.version if scope.known_good else "-",
                activity,
                scope.health,
            )
    parts.append(scopes)

    leases = Table(title="Stages", title_justify="left")
    for column in ("Stage", "Holding", "Waiting", "Last succeeded"):
        leases.add_column(column)
    for stage in state.stages.values():
        leases.add_row(
            stage.stage,
            stage.lease_holder or "-",
            ", ".join(w.change_id for w in stage.waiting) or "-",
            stage.last_succeeded or "-",
        )
    parts.append(leases)

    blocked = [(s.stage, b) for s in state.stages.values() for b in s.blocked]
    blocked += [
        (
            "source",
            Blocker(
                blocker="code-review",
                change_id=change.change_id,
                reason=f"commit {commit} is not reviewed: {why}",
                inputs=(("commit", commit),),
                since=change.held_since or change.received_at,
            ),
        )
        for change in state.changes.values()
        if change.status == "held-at-source"
        for commit, why in change.held_for
    ]
    if blocked:
        table = Table(title="Blocked", title_justify="left", style="red")
        for column in ("Stage", "Change", "Blocker", "Why", "Inputs", "Since"):
            table.add_column(column)
        for stage_name, blocker in blocked:
            table.add_row(
                stage_name,
                blocker.change_id,
                blocker.blocker,
                blocker.reason,
                ", ".join(f"{k}={v}" for k, v in blocker.inputs) or "-",
                when(blocker.since),
            )
        parts.append(table)
    else:
        parts.append(Text("Nothing is blocked.", style="green"))

    if state.pages:
        pages = Table(title="People paged (newest first)", title_justify="left", style="red")
        for column in ("When", "Stage", "Change", "Page"):
            pages.add_column(column)
        for page in reversed(state.pages[-10:]):
            pages.add_row(when(page.at), page.stage, page.change_id, f"PAGED: {page.subject}")
        parts.append(pages)

    parts.append(_changes_table("In flight", state.changes.values()))
    if state.finished:
        parts.append(_changes_table("Recently finished", reversed(state.finished[-10:])))
    return Group(*parts)


def _changes_table(title: str, changes: Iterable[ChangeState]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("Change", "Status", "Stage", "Artifact", "Commits", "Notes"):
        table.add_column(column)
    for change in changes:
        row = change_row(change, finished=False)
        table.add_row(
            row.change_id, row.status, row.stage, row.artifact, str(row.commits), row.notes
        )
    return table


def history_view(
    pipeline_id: str,
    events: Iterable[Event],
    published: Mapping[int, Published] | None = None,
) -> Table:
    """Every event; with `published` (a local log's outbox) the notification each became,
    or that it has not been published yet."""
    table = Table(title=f"History of {pipeline_id}", title_justify="left")
    columns = ["#", "Time (UTC)", "Change", "Stage · scope", "What happened"]
    if published is not None:
        columns.append("Notification")
    for column in columns:
        table.add_column(column)
    for event in events:
        line = describe(event)
        style = "red" if ("FAILED" in line or "ALARM" in line or "rollback" in line) else None
        row: list[str | Text] = [
            str(event.sequence),
            event.at.strftime("%Y-%m-%d %H:%M"),
            change_of(event) or "-",
            stage_and_scope(event) or "-",
            Text(line, style=style or ""),
        ]
        if published is not None:
            note = published.get(event.sequence)
            row.append(f"{note.detail_type} ({note.severity})" if note else "not published yet")
        table.add_row(*row)
    return table


def duration(seconds: float | None) -> str:
    """A duration as people read it: 45 s, 12 min, 3.5 h, 2.1 d; "-" for none."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def dora_view(figures: Dora) -> Table:
    """DORA's four keys of one pipeline, a row each, with what each figure counts."""
    days = (figures.until - figures.since).total_seconds() / 86400
    table = Table(
        title=f"{figures.pipeline_id}: DORA keys, {when(figures.since)} to {when(figures.until)}"
    )
    table.add_column("key")
    table.add_column("value", justify="right")
    table.add_column("from")
    table.add_row(
        "deployment frequency",
        f"{figures.per_day:.2f} a day",
        f"{figures.deployments} changes completed everywhere in {days:.0f} days",
    )
    lead = figures.lead_time
    table.add_row(
        "lead time for changes",
        duration(lead.median),
        f"median of {lead.count} (merge to everywhere); p90 {duration(lead.p90)}",
    )
    rate = figures.change_failure_rate
    table.add_row(
        "change failure rate",
        "-" if rate is None else f"{rate:.0%}",
        f"{figures.failed_changes} of {figures.production_changes} changes deployed to "
        "production were rolled back there",
    )
    restore = figures.time_to_restore
    table.add_row(
        "time to restore",
        duration(restore.median),
        f"median of {restore.count} production rollbacks (first alarm to rolled back); "
        f"p90 {duration(restore.p90)}",
    )
    return table


def plan_view(schedule: Plan) -> Table:
    """Each stage and region of the plan: when it starts deploying and is done, and what it
    waits for on the way."""
    table = Table(
        title=f"{schedule.pipeline_id}: merged {when(schedule.merged_at)}, built "
        f"{when(schedule.built_at)}, everywhere {when(schedule.everywhere)}",
        title_justify="left",
    )
    for column in ("Stage", "Region", "Starts", "Done", "Waits for"):
        table.add_column(column)
    for stage in schedule.stages:
        for region in stage.regions:
            waits = "; ".join(f"{w.reason} until {when(w.until)} ({w.step})" for w in region.waits)
            table.add_row(
                stage.stage, region.region, when(region.starts), when(region.ends), waits or "-"
            )
        if stage.ends > max(r.ends for r in stage.regions):
            table.add_row(stage.stage, "(integration tests)", "", when(stage.ends), "-")
    return table
