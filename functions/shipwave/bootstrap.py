"""The composition root: the only place that builds real adapters from settings."""

from __future__ import annotations

import importlib
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from adapters.aws_session import DeployRoles, aws_target
from adapters.cloudwatch import CloudWatchAlarmReader
from adapters.dynamodb import DynamoDBEventStore
from adapters.s3_artifacts import S3ArtifactStore
from adapters.sqlite import SQLiteEventStore
from adapters.sqlite_outbox import SQLiteOutbox, outbox_path
from adapters.stepfunctions import StepFunctionsExecutions, StepFunctionsWorkflow
from domain.errors import DeployTargetError, ShipwaveError
from domain.ports import DeployTarget, EventStore, Workflow
from domain.spec import Pipeline, PipelineSpec, resolve_all
from service.engine import Engine
from service.pipeline_log import PipelineLog

DEFAULT_EVENT_LOG = "sqlite:///.shipwave/events.db"
DEFAULT_PIPELINES = "examples.reference:PIPELINES"


class EventLogUrlError(ShipwaveError):
    """An --event-log value shipwave cannot use."""


class PipelinesReferenceError(ShipwaveError):
    """A --pipelines MODULE:ATTR that does not name a team's pipeline classes."""


def load_pipelines(reference: str) -> dict[str, PipelineSpec]:
    """The validated specs of `module:ATTRIBUTE` (a sequence of Pipeline classes), by id.
    The module is imported as `python -m` would: the current directory comes first (a
    team's pipelines module sits in its own repository)."""
    module_name, _, attribute = reference.partition(":")
    here = os.getcwd()
    if here not in sys.path:
        sys.path.insert(0, here)
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise PipelinesReferenceError(f"pipelines {reference!r}: {error}") from None
    found = getattr(module, attribute or "PIPELINES", None)
    try:
        pipelines = tuple(found or ())
    except TypeError:
        pipelines = ()
    if not pipelines or not all(isinstance(p, type) and issubclass(p, Pipeline) for p in pipelines):
        raise PipelinesReferenceError(
            f"pipelines {reference!r}: {attribute or 'PIPELINES'} is not a list of Pipeline classes"
        )
    return {spec.pipeline_id: spec for spec in resolve_all(pipelines, reference)}


#: what an AWS region name looks like (botocore refuses anything else, with a traceback)
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


def _endpoint_ok(endpoint: str) -> bool:
    parts = urlsplit(endpoint)
    try:
        parts.port  # noqa: B018 -- raises ValueError for a port that is no number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in endpoint


def open_store(url: str, *, create: bool = False, read_only: bool = False) -> EventStore:
    """Open the event log named by a URL.

    - `sqlite:///relative/path.db` or `sqlite:////absolute/path.db`
    - `dynamodb://TABLE?region=REGION` (optionally `&endpoint=http://127.0.0.1:5000`)

    With `create=False` a missing SQLite file is an error rather than a new empty log; with
    `read_only` a SQLite file is opened so that nothing is written to it (DynamoDB reads never
    write).
    """
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        if parts.netloc or not parts.path.startswith("/") or parts.path == "/":
            raise EventLogUrlError(
                f"event log {url!r}: write sqlite:///relative/path.db or sqlite:////abs/path.db"
            )
        return SQLiteEventStore(Path(parts.path[1:]), create=create, read_only=read_only)
    if parts.scheme == "dynamodb":
        if not parts.netloc or parts.path not in ("", "/"):
            raise EventLogUrlError(f"event log {url!r}: write dynamodb://TABLE?region=REGION")
        query = parse_qs(parts.query)
        unknown = set(query) - {"region", "endpoint"}
        if unknown:
            raise EventLogUrlError(
                f"event log {url!r}: unknown parameter(s) {', '.join(sorted(unknown))}; "
                "use region and endpoint"
            )
        region = query.get("region", [None])[0]
        if region is None:
            raise EventLogUrlError(f"event log {url!r}: add ?region=REGION")
        endpoint = query.get("endpoint", [None])[0]
        if not _REGION.fullmatch(region):
            raise EventLogUrlError(
                f"event log {url!r}: {region!r} is no AWS region name (e.g. us-east-1)"
            )
        if endpoint is not None and not _endpoint_ok(endpoint):
            raise EventLogUrlError(
                f"event log {url!r}: endpoint {endpoint!r} must be an http(s)://host[:port] URL"
            )
        return DynamoDBEventStore(parts.netloc, region=region, endpoint_url=endpoint)
    raise EventLogUrlError(
        f"event log {url!r}: unknown kind {parts.scheme or '(none)'!r}; "
        "use sqlite:///path.db or dynamodb://TABLE?region=REGION"
    )


class LocalFleetUnreachableError(DeployTargetError):
    """A local event log's fleet lives in the process that ran it (the demo, a test)."""


class _NoLocalWorkflow(Workflow):
    """A local run's executions lived in its own process: nothing here can resume them."""

    def resume(self, token: str, output: dict[str, object]) -> bool:
        return False

    def fail(self, token: str, error: str, cause: str) -> bool:
        return False


def operator_engine(event_log: str, pipelines: str) -> Engine:
    """The engine a person's recovery runs on: over AWS for a DynamoDB log (the caller's
    credentials must be allowed to assume the shipwave deploy roles), over the log alone for
    a local one (its fleet and executions lived in the process that ran them)."""
    specs = load_pipelines(pipelines)
    store = open_store(event_log)
    roles = DeployRoles()  # every stage runs in the log's account on AWS
    aws = isinstance(store, DynamoDBEventStore)

    def targets(spec: PipelineSpec) -> DeployTarget:
        if not aws:
            raise LocalFleetUnreachableError(
                f"{event_log} is a local log: its simulated fleet lived in the process that ran "
                "it; recover there (LocalRuntime.engine.recover), or against an AWS log"
            )
        return aws_target(spec, roles)

    return Engine(
        log=PipelineLog(store),
        specs=specs,
        targets=targets,
        alarms=CloudWatchAlarmReader(roles.cloudwatch),
        artifacts=S3ArtifactStore(roles.s3_client),
        workflow=StepFunctionsWorkflow() if aws else _NoLocalWorkflow(),
        executions=StepFunctionsExecutions({}),
        clock=lambda: datetime.now(UTC),
    )


def local_outbox(store: EventStore) -> SQLiteOutbox | None:
    """The outbox of a local (SQLite) log, read-only: the notifications its runs published.
    None for DynamoDB, whose notifications went to EventBridge."""
    if isinstance(store, SQLiteEventStore):
        path = outbox_path(store.path)
        # a log no local run published from (written by a test, copied) has none
        return SQLiteOutbox(path, read_only=True) if path.is_file() else None
    return None
