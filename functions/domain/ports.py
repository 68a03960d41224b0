"""Ports: what the core needs from the outside world, named by role, not by technology."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.alarm_health import AlarmStatus
from domain.errors import (
    IdempotencyKeyConflictError,
    InvalidAppendError,
    MalformedEventError,
)
from domain.events import Artifact, Event, PersonPaged, check_batch, payload
from domain.review import CommitReview
from domain.spec import Build, Datapoints, Rolling
from domain.state import PipelineState

#: One append is all-or-nothing. In DynamoDB each event takes two items of a transaction (the
#: event and its idempotency marker) and one more item checks the predecessor: 2 * 49 + 1 = 99
#: of TransactWriteItems' 100. Every store keeps the same bound so they behave alike.
MAX_EVENTS_PER_APPEND = 49

_PIPELINE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_pipeline_id(pipeline_id: str) -> None:
    """Pipeline ids are 1-128 letters, digits, '.', '_' or '-' (they become storage keys)."""
    if not _PIPELINE_ID.match(pipeline_id):
        raise InvalidAppendError(
            f"pipeline id {pipeline_id!r} must be 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )


class EventStore(ABC):
    """The append-only event log of every pipeline.

    `append` is conditional and idempotent: the batch's first sequence must follow the last
    stored one, or `ConcurrencyConflictError` is raised and nothing is written; a batch whose
    idempotency keys were all appended before returns the events stored then and writes
    nothing. Reads return events in sequence order and raise `MalformedEventError` on any item
    they cannot decode or any gap, never skipping it.
    """

    max_events_per_append = MAX_EVENTS_PER_APPEND

    @abstractmethod
    def append(self, events: Sequence[Event]) -> tuple[Event, ...]:
        """Append a contiguous batch of one pipeline atomically; returns what is stored."""

    @abstractmethod
    def read(self, pipeline_id: str, after: int = 0) -> Iterator[Event]:
        """Events of a pipeline with sequence > `after`, in order."""

    @abstractmethod
    def last_sequence(self, pipeline_id: str) -> int:
        """The highest stored sequence of a pipeline, 0 when it has none."""

    @abstractmethod
    def save_snapshot(self, state: PipelineState) -> None:
        """Store a state beside the events; it covers the events up to `state.sequence`."""

    @abstractmethod
    def latest_snapshot(self, pipeline_id: str) -> PipelineState | None:
        """The stored snapshot with the highest sequence, if any."""

    @abstractmethod
    def pipelines(self) -> tuple[str, ...]:
        """Every pipeline with at least one event, sorted."""

    def validate(self, events: Sequence[Event]) -> tuple[tuple[Event, ...], tuple[str, ...]]:
        """The batch, checked, with each event's JSON as the store keeps it (encoded once)."""
        batch = tuple(events)
        texts = check_batch(batch, self.max_events_per_append)
        check_pipeline_id(batch[0].pipeline_id)
        return batch, texts


def earlier_result(
    batch: tuple[Event, ...], stored: Sequence[Event | None]
) -> tuple[Event, ...] | None:
    """What a retried append returns, given the stored event (or None) for each batch key.

    None: no key was appended before, so this is a new append. The stored events: every key
    was appended before with the same payload. Anything in between is a misuse of keys and
    raises IdempotencyKeyConflictError rather than half-applying the batch.
    """
    found = [event for event in stored if event is not None]
    if not found:
        return None
    pipeline = batch[0].pipeline_id
    if len(found) != len(batch):
        seen = sorted(e.idempotency_key for e in found)
        raise IdempotencyKeyConflictError(
            f"pipeline {pipeline!r}: keys {seen} were appended before but the rest of the "
            "batch was not; an append is retried whole or not at all"
        )
    for new, old in zip(batch, found, strict=True):
        if payload(new) != payload(old):
            raise IdempotencyKeyConflictError(
                f"pipeline {pipeline!r}: idempotency key {new.idempotency_key!r} was used at "
                f"sequence {old.sequence} for a different {type(old).__name__}"
            )
    return tuple(found)


def decode_stored(
    text: str | bytes,
    pipeline_id: str,
    sequence: int,
    *,
    where: str,
    parse: Callable[..., Event],
) -> Event:
    """Decode a stored event and check it sits where it was stored; errors name the place."""
    place = f"{where}: pipeline {pipeline_id!r} sequence {sequence}"
    event = parse(text, where=place)
    if event.pipeline_id != pipeline_id or event.sequence != sequence:
        raise MalformedEventError(
            f"{place}: the item holds pipeline {event.pipeline_id!r} sequence {event.sequence}"
        )
    return event


def check_contiguous(pipeline_id: str, expected: int, got: int, *, where: str) -> None:
    """Reads never skip: a missing sequence is reported, not stepped over."""
    if got != expected:
        raise MalformedEventError(
            f"{where}: pipeline {pipeline_id!r} has sequence {got} where {expected} was expected"
        )


class Workflow(ABC):
    """The running executions: resume or end a task that waits for a callback token."""

    @abstractmethod
    def resume(self, token: str, output: dict[str, object]) -> bool:
        """Complete a waiting task; False when the task is already over (a retried hand-off)."""

    @abstractmethod
    def fail(self, token: str, error: str, cause: str) -> bool:
        """Fail a waiting task with a named error; False when the task is already over."""


@dataclass(frozen=True)
class DeployResult:
    """What a deployment step did to a scope's fleet."""

    boxes: tuple[str, ...]  # the boxes this step changed
    fleet_percent_on_new: float
    healthy_percent: float
    done: bool  # every box runs the target artifact
    unhealthy: tuple[str, ...] = ()
    reason: str = ""


class DeployTarget(ABC):
    """Where a pipeline's artifact runs: a Lambda alias, an ECS service, a simulated fleet.

    `environment` is "production" for the production waves and the stage name (alpha, beta,
    gamma, zeta) for a pre-production stage, which runs in its own environment.

    Implementations raise DeployTargetError (ours) for anything that fails to deploy.
    """

    @abstractmethod
    def one_box(
        self, environment: str, scope: str, artifact: Artifact, traffic_percent: float
    ) -> DeployResult:
        """Put the artifact on the smallest unit beside the old fleet."""

    @abstractmethod
    def next_batch(
        self, environment: str, scope: str, artifact: Artifact, rolling: Rolling, batch: int
    ) -> DeployResult:
        """Make batches 1..`batch` run the artifact (idempotent: a retried batch changes
        nothing more); `done` when the whole scope runs it."""

    @abstractmethod
    def roll_back(
        self, environment: str, scope: str, artifact: Artifact | None, rolling: Rolling
    ) -> DeployResult:
        """Return every box of the scope to `artifact` (None: remove the new code)."""


class AlarmReader(ABC):
    """CloudWatch as the pipeline reads it, per environment (see DeployTarget)."""

    @abstractmethod
    def states(self, environment: str, region: str, names: Sequence[str]) -> dict[str, AlarmStatus]:
        """The named alarms that exist in the region, each with its state and whether its
        actions are enabled; a name that does not exist is left out. Raises AlarmReadError
        when CloudWatch cannot be read (never an empty answer instead)."""

    @abstractmethod
    def breached(
        self, environment: str, region: str, names: Sequence[str], start: datetime, end: datetime
    ) -> tuple[str, ...]:
        """The named alarms that were in ALARM at any time in [start, end]."""

    @abstractmethod
    def datapoints(
        self,
        environment: str,
        region: str,
        datapoints: Datapoints,
        scope: str,
        start: datetime,
        end: datetime,
    ) -> int:
        """How many datapoints of the bake metric the scope produced in [start, end]."""


class ArtifactStore(ABC):
    """Immutable, checksummed build outputs."""

    @abstractmethod
    def verify(self, artifact: Artifact, environment: str, region: str) -> bool:
        """True when the bytes `region` deploys from (its copy of the artifact) still hash to
        the artifact's sha256 checksum; False when they do not or are gone;
        ArtifactReadError when they could not be read."""


class Notifier(ABC):
    """How people are told what shipwave cannot settle alone (SNS on AWS, an outbox
    locally). Pages are recorded in the log first and sent after: at least once."""

    @abstractmethod
    def send(self, page: PersonPaged) -> None:
        """Deliver one page; raises NotifyError when it cannot."""


#: the most commits a push may bring that the source is asked to list (more: it cannot say)
MAX_COMMITS_SINCE = 250


class SourceControl(ABC):
    """The source system (CodeCommit, GitHub, the local git repository): which commits a push
    brought since the branch's previous head, who wrote each and who approved it. The review
    gate asks it; neither the commits nor their approvals are taken from whoever reported the
    merge."""

    @abstractmethod
    def commits_since(self, repository: str, since: str, head: str) -> tuple[str, ...]:
        """Every commit reachable from `head` and not from `since`, oldest first; raises
        ReviewReadError when the source cannot say (unreadable, an unknown commit, more than
        MAX_COMMITS_SINCE)."""

    @abstractmethod
    def reviews(self, repository: str, commit_ids: Sequence[str]) -> dict[str, CommitReview]:
        """The record of each named commit the source knows (an unknown one is left out);
        raises ReviewReadError when the record cannot be read."""


@dataclass(frozen=True, kw_only=True)
class BuildRequest:
    """Build `commit_id` of `repository` with the pipeline's build commands."""

    pipeline_id: str
    change_id: str
    repository: str
    commit_id: str
    build: Build


class Builder(ABC):
    """The pipeline's build (a CodeBuild project on AWS, a subprocess locally). Its end is
    reported later, as CodeBuild's "Build State Change" event, to the build handler."""

    @abstractmethod
    def start(self, request: BuildRequest) -> str:
        """Start the build, or find the one already started for the same change; returns
        its id. BuildStartError when it cannot be started."""


@dataclass(frozen=True, kw_only=True)
class IntegrationTestRequest:
    """Run the pipeline's integration tests (the commit's test code) against `stage`, which
    runs `artifact`."""

    pipeline_id: str
    change_id: str
    stage: str
    repository: str
    commit_id: str
    artifact: Artifact
    command: str
    endpoint: str  # the stage's endpoint on AWS; the local runtime serves its own
    entry: str  # the artifact's handler (the local runtime's endpoint serves it)
    timeout_minutes: int


class IntegrationTestRuns(ABC):
    """The pipeline's integration test runs (a CodeBuild test project on AWS, a subprocess
    locally). A run's end is reported as CodeBuild's "Build State Change" event."""

    @abstractmethod
    def start(self, request: IntegrationTestRequest) -> str:
        """Start the run, or find the one already started for the change and stage."""

    @abstractmethod
    def failed_tests(self, run_id: str) -> tuple[str, ...]:
        """The names of the run's failed tests (its JUnit report); IntegrationTestRunError when they
        cannot be read."""


class Executions(ABC):
    """Starts one execution of a pipeline's state machine per change."""

    @abstractmethod
    def start(self, pipeline_id: str, change_id: str, execution_input: dict[str, object]) -> str:
        """Start the change's execution; returns its id."""
