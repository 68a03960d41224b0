"""`shipwave dashboard` and `shipwave report --html`: the event log as web pages.

A Starlette app with Jinja2 templates, served by uvicorn on 127.0.0.1, reading any event log
with the caller's credentials (it never writes). Pages refresh themselves with htmx: the live
region asks every few seconds whether the log grew (204 when it did not) and swaps itself
when it did. `report` renders the same templates into one self-contained HTML file.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from domain.errors import PipelineNotFoundError, ShipwaveError, UnknownChangeError
from domain.ports import EventStore
from domain.spec import PipelineSpec
from domain.state import PipelineState
from service.pipeline_log import PipelineLog
from service.reporting import dora_of
from shipwave import pages
from shipwave.bootstrap import local_outbox
from shipwave.render import duration

HERE = Path(__file__).parent
#: how many of the newest notifications a pipeline's page lists
NOTIFICATIONS_SHOWN = 15
Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


class Links:
    """Where a page links to: the dashboard's routes, or anchors inside the static report."""

    def __init__(self, *, static: bool) -> None:
        self.is_static = static

    def home(self) -> str:
        return "#main" if self.is_static else "/"

    def static(self, name: str) -> str:
        return f"/static/{name}"

    def pipeline(self, pipeline_id: str) -> str:
        return f"#p-{pipeline_id}" if self.is_static else f"/pipelines/{quote(pipeline_id)}"

    def change(self, pipeline_id: str, change_id: str) -> str:
        if self.is_static:
            return f"#change-{pipeline_id}-{change_id}"
        return f"/pipelines/{quote(pipeline_id)}/changes/{quote(change_id)}"

    def live(self, pipeline_id: str, sequence: int) -> str:
        return f"/pipelines/{quote(pipeline_id)}/live?seq={sequence}"

    def index_live(self, signature: str) -> str:
        return f"/live?sig={quote(signature)}"

    def metrics(self, pipeline_id: str) -> str:
        return f"/pipelines/{quote(pipeline_id)}/metrics"

    def at(self, pipeline_id: str) -> str:
        return f"/pipelines/{quote(pipeline_id)}/at"


def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html", "css"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@dataclass(frozen=True)
class Metrics:
    title: str
    rows: tuple[tuple[str, str, str], ...] = ()
    error: str = ""


def metrics_view(
    pipeline_id: str,
    log: PipelineLog,
    spec: PipelineSpec | None,
    now: datetime,
    window: timedelta = timedelta(days=30),
) -> Metrics:
    """DORA's four keys over the last 30 days of the log (as `shipwave metrics`), read from
    shortly before them (`service.reporting`)."""
    if spec is None:
        return Metrics(
            title="",
            error=f"{pipeline_id} is not among the pipelines this dashboard was given "
            "(--pipelines): its production stages are unknown, so no DORA figures",
        )
    newest = log.state(pipeline_id).updated_at
    until = max(now, newest) if newest else now  # a log ahead of this clock: virtual time
    production = frozenset(s.name for s in spec.stages if s.production)
    f = dora_of(log, pipeline_id, production=production, since=until - window, now=until)
    rate = f.change_failure_rate
    return Metrics(
        title=f"Last {window.days} days, to {pages.when(until)}",
        rows=(
            (
                "Deployment frequency",
                f"{f.per_day:.2f} a day",
                f"{f.deployments} changes completed everywhere",
            ),
            (
                "Lead time for changes",
                duration(f.lead_time.median),
                f"median of {f.lead_time.count} (merge to everywhere); "
                f"p90 {duration(f.lead_time.p90)}",
            ),
            (
                "Change failure rate",
                "-" if rate is None else f"{rate:.0%}",
                f"{f.failed_changes} of {f.production_changes} changes deployed to production "
                "were rolled back there",
            ),
            (
                "Time to restore",
                duration(f.time_to_restore.median),
                f"median of {f.time_to_restore.count} production rollbacks; "
                f"p90 {duration(f.time_to_restore.p90)}",
            ),
        ),
    )


@dataclass(frozen=True)
class AtForm:
    pipeline_id: str
    first: int
    last: int
    value: int
    value_text: str
    value_text_iso: str
    first_text: str
    last_text: str


class BadRequestError(ShipwaveError):
    """A page's query the dashboard cannot use (the page says why)."""


def parse_moment(epoch: str | None, text: str | None) -> datetime:
    """The slider's seconds since the epoch, or a typed ISO-8601 time (UTC unless zoned)."""
    if text:
        parsed = pages.parse_utc(text)
        if parsed is None:
            raise BadRequestError(
                f"time {text!r}: write ISO-8601, for example 2026-11-23T09:00:00Z"
            )
        return parsed
    if epoch:
        try:
            return datetime.fromtimestamp(int(epoch), UTC)
        except (ValueError, OverflowError, OSError):
            raise BadRequestError(f"time {epoch!r}: not a number of seconds since 1970") from None
    raise BadRequestError("name a time: t=2026-11-23T09:00:00Z or epoch=SECONDS")


class Pages:
    """Renders each page from the log; shared by the server and the static report."""

    def __init__(
        self,
        store: EventStore,
        specs: Mapping[str, PipelineSpec],
        *,
        source: str,
        refresh_seconds: float = 2.0,
        clock: Clock = _now,
        static: bool = False,
    ) -> None:
        self.store = store
        self.log = PipelineLog(store)
        self.specs = specs
        self.source = source
        self.refresh = refresh_seconds
        self.clock = clock
        self.links = Links(static=static)
        self.static = static
        self.env = environment()
        self.outbox = local_outbox(store)

    def _render(self, template: str, **values: Any) -> str:
        return self.env.get_template(template).render(
            links=self.links,
            static=self.static,
            source=self.source,
            refresh=f"{self.refresh:g}",
            generated="",
            **values,
        )

    # --- the parts --------------------------------------------------------------------

    def signature(self) -> str:
        """Changes whenever any pipeline's log grows: the index's live region compares it."""
        return ",".join(f"{p}:{self.store.last_sequence(p)}" for p in self.store.pipelines())

    def rows(self) -> list[pages.PipelineRow]:
        rows = []
        for name in self.store.pipelines():
            try:
                state = self.log.state(name)
            except ShipwaveError as error:  # a broken log is shown broken, never skipped
                rows.append(pages.unreadable_row(name, error))
                continue
            rows.append(pages.pipeline_row(state, self.specs.get(name), self.clock()))
        return rows

    def state(self, pipeline_id: str) -> PipelineState:
        return self.log.state(pipeline_id)

    def _pipeline_values(self, state: PipelineState) -> dict[str, Any]:
        return {
            "grid": pages.grid(state, self.specs.get(state.pipeline_id), self.clock()),
            "changes": pages.changes(state),
            "pages": [
                {
                    "at": pages.when(p.at),
                    "stage": p.stage,
                    "change_id": p.change_id,
                    "subject": p.subject,
                }
                for p in reversed(state.pages[-10:])
            ],
            "notifications": self._notifications(state),
            "paused": {
                "by": state.paused.by,
                "why": state.paused.why,
                "since": pages.when(state.paused.since),
            }
            if state.paused
            else None,
        }

    def _notifications(self, state: PipelineState) -> dict[str, Any] | None:
        """A local log's outbox: the newest notifications its runs published (None on
        DynamoDB, whose notifications went to EventBridge)."""
        if self.outbox is None:
            return None
        newest = self.outbox.published(state.pipeline_id, newest=NOTIFICATIONS_SHOWN)
        waiting = state.sequence - (newest[-1].sequence if newest else 0)
        return {"newest": list(reversed(newest)), "waiting": waiting}

    def at_form(self, state: PipelineState, value: datetime | None = None) -> AtForm:
        first = next(iter(self.store.read_chained(state.pipeline_id, after=0, until=1)), None)
        start = first.event.at if first else state.updated_at or self.clock()
        end = state.updated_at or start
        chosen = value or end
        return AtForm(
            pipeline_id=state.pipeline_id,
            first=int(start.timestamp()),
            last=int(end.timestamp()),
            value=int(chosen.timestamp()),
            value_text=pages.when(chosen),
            value_text_iso=chosen.strftime("%Y-%m-%dT%H:%M:%SZ"),
            first_text=pages.when(start),
            last_text=pages.when(end),
        )

    # --- the pages --------------------------------------------------------------------

    def index(self) -> str:
        return self._render("index.html", rows=self.rows(), signature=self.signature())

    def index_live(self) -> str:
        return self._render("_index_live.html", rows=self.rows(), signature=self.signature())

    def pipeline(self, pipeline_id: str) -> str:
        state = self.state(pipeline_id)
        return self._render(
            "pipeline.html",
            **self._pipeline_values(state),
            metrics=None,
            at=self.at_form(state),
            at_grid=None,
        )

    def live(self, pipeline_id: str) -> str:
        return self._render("_pipeline_live.html", **self._pipeline_values(self.state(pipeline_id)))

    def metrics(self, pipeline_id: str) -> str:
        self.state(pipeline_id)  # an unknown pipeline is refused first
        view = metrics_view(pipeline_id, self.log, self.specs.get(pipeline_id), self.clock())
        return self._render("_metrics.html", metrics=view)

    def change(self, pipeline_id: str, change_id: str) -> str:
        state = self.state(pipeline_id)
        # no event of a change comes before its merge's: a change the state knows is read
        # from there (a recent one from near the log's end), any other from the start
        known = state.change(change_id)
        after = known.received_sequence - 1 if known and known.received_sequence else 0
        events = self.store.read(pipeline_id, after=after)
        timeline = pages.timeline(pipeline_id, change_id, events, state)
        return self._render("change.html", timeline=timeline)

    def at(self, pipeline_id: str, moment: datetime, *, fragment: bool) -> str:
        state_then = self.log.state_at(pipeline_id, moment)
        at_grid = pages.grid(state_then, self.specs.get(pipeline_id), moment)
        values = {"grid": at_grid, "at_moment": pages.when(moment)}
        if fragment:
            return self._render("_at_result.html", **values)
        now_state = self.state(pipeline_id)
        return self._render(
            "pipeline.html",
            **self._pipeline_values(now_state),
            metrics=None,
            at=self.at_form(now_state, moment),
            at_grid=at_grid,
            at_moment=pages.when(moment),
        )

    def report(self) -> str:
        """Every page in one file: the overview, and per pipeline its grid, conveyor,
        changes, DORA figures and the timeline of each change the state still shows."""
        pipelines = []
        for name in self.store.pipelines():
            state = self.state(name)
            events = list(self.store.read(name))
            shown = [c.change_id for c in (*state.changes.values(), *reversed(state.finished))]
            pipelines.append(
                {
                    **self._pipeline_values(state),
                    "metrics": metrics_view(name, self.log, self.specs.get(name), self.clock()),
                    "timelines": [pages.timeline(name, c, events, state) for c in shown],
                }
            )
        return self.env.get_template("report.html").render(
            links=self.links,
            static=True,
            source=self.source,
            refresh="0",
            generated=pages.when(self.clock()),
            rows=self.rows(),
            signature="",
            pipelines=pipelines,
        )


def create_app(
    store: EventStore,
    specs: Mapping[str, PipelineSpec],
    *,
    source: str,
    refresh_seconds: float = 2.0,
    clock: Clock = _now,
) -> Starlette:
    site = Pages(store, specs, source=source, refresh_seconds=refresh_seconds, clock=clock)

    def html_page(text: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(text, status_code=status, headers={"Cache-Control": "no-store"})

    def index(request: Request) -> Response:
        return html_page(site.index())

    def index_live(request: Request) -> Response:
        if request.query_params.get("sig") == site.signature():
            return Response(status_code=204)
        return html_page(site.index_live())

    def pipeline(request: Request) -> Response:
        return html_page(site.pipeline(request.path_params["pipeline"]))

    def live(request: Request) -> Response:
        name = request.path_params["pipeline"]
        seen = request.query_params.get("seq", "")
        if seen.isdigit() and int(seen) == site.store.last_sequence(name) and int(seen) > 0:
            return Response(status_code=204)  # htmx swaps nothing: the log did not grow
        return html_page(site.live(name))

    def metrics(request: Request) -> Response:
        return html_page(site.metrics(request.path_params["pipeline"]))

    def change(request: Request) -> Response:
        params = request.path_params
        return html_page(site.change(params["pipeline"], params["change"]))

    def at(request: Request) -> Response:
        moment = parse_moment(request.query_params.get("epoch"), request.query_params.get("t"))
        fragment = request.headers.get("HX-Request") == "true"
        return html_page(site.at(request.path_params["pipeline"], moment, fragment=fragment))

    def error_page(request: Request, title: str, message: str, status: int) -> Response:
        if request.headers.get("HX-Request") == "true":
            text = f'<p class="error" role="alert">{html.escape(message)}</p>'
            return HTMLResponse(text, status_code=status)
        return html_page(site._render("error.html", title=title, message=message), status=status)

    async def not_found(request: Request, exc: Exception) -> Response:
        message = str(exc) if isinstance(exc, ShipwaveError) else f"no page at {request.url.path}"
        return error_page(request, "Not found", message, 404)

    async def bad_request(request: Request, exc: Exception) -> Response:
        return error_page(request, "Cannot show that", str(exc), 400)

    async def unreadable(request: Request, exc: Exception) -> Response:
        # a log that cannot be read or checked (tampered, malformed, unreachable) is shown as
        # such: the page says what failed, it never shows a state it could not establish
        return error_page(request, "The event log cannot be read", str(exc), 500)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return await not_found(request, exc)
        return error_page(request, "Error", str(exc.detail), exc.status_code)

    return Starlette(
        routes=[
            Route("/", index),
            Route("/live", index_live),
            Route("/pipelines/{pipeline}", pipeline),
            Route("/pipelines/{pipeline}/live", live),
            Route("/pipelines/{pipeline}/metrics", metrics),
            Route("/pipelines/{pipeline}/at", at),
            Route("/pipelines/{pipeline}/changes/{change}", change),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        exception_handlers={
            PipelineNotFoundError: not_found,
            UnknownChangeError: not_found,
            BadRequestError: bad_request,
            ShipwaveError: unreadable,
            HTTPException: http_error,
        },
    )


def write_report(
    store: EventStore,
    specs: Mapping[str, PipelineSpec],
    path: Path,
    *,
    source: str,
    clock: Clock = _now,
) -> int:
    """Write the static report; returns its size in bytes."""
    text = Pages(store, specs, source=source, clock=clock, static=True).report()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return len(text.encode())
