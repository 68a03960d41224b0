"""Ports: what the core needs from the outside world, named by role, not by technology."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.alarm_health import AlarmStatus
from domain.chain import Chained, ChainHead, ChainReader, genesis
from domain.errors import (
    IdempotencyKeyConflictError,
    InvalidAppendError,
    MalformedEventError,
    SnapshotError,
    TamperedEventError,
)
from domain.events import Artifact, Event, PersonPaged, check_batch, from_json, payload
from domain.notifications import Notification
from domain.review import CommitReview
from domain.spec import Build, Datapoints, Rolling
from domain.state import PipelineState, snapshot_from_json, snapshot_to_json

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
    """The append-only, hash-chained event log of every pipeline.

    `append` is conditional and idempotent: the batch's first sequence must follow the last
    stored one, or `ConcurrencyConflictError` is raised and nothing is written; a batch whose
    idempotency keys were all appended before returns the events stored then and writes
    nothing. The store chains each event to the one before it (`domain.chain`) as it appends.
    Reads return events in sequence order, check every link of the chain they read, and raise
    `MalformedEventError` on any item they cannot decode and `TamperedEventError` on a broken
    link or a gap, never skipping it.
    """

    max_events_per_append = MAX_EVENTS_PER_APPEND
    #: where errors say the log is ("sqlite events.db", "dynamodb table shipwave-events")
    _where = "event store"

    @abstractmethod
    def append(self, events: Sequence[Event]) -> tuple[Event, ...]:
        """Append a contiguous batch of one pipeline atomically; returns what is stored."""

    @abstractmethod
    def read_chained(
        self, pipeline_id: str, after: int = 0, until: int | None = None
    ) -> Iterator[Chained]:
        """Events of a pipeline with `after` < sequence <= `until`, in order, each with its
        chain hash; the link to event `after` is checked too."""

    def read(self, pipeline_id: str, after: int = 0) -> Iterator[Event]:
        """Events of a pipeline with sequence > `after`, in order."""
        for chained in self.read_chained(pipeline_id, after):
            yield chained.event

    @abstractmethod
    def last_sequence(self, pipeline_id: str) -> int:
        """The highest stored sequence of a pipeline, 0 when it has none."""

    @abstractmethod
    def pipelines(self) -> tuple[str, ...]:
        """Every pipeline with at least one event, sorted."""

    def hash_at(self, pipeline_id: str, sequence: int) -> str | None:
        """The chain hash of event `sequence` (the genesis value for 0), checked against the
        event before it; None when the log holds no such event."""
        if sequence == 0:
            return genesis(pipeline_id)
        for chained in self.read_chained(pipeline_id, after=sequence - 1, until=sequence):
            return chained.hash
        return None

    def head(self, pipeline_id: str) -> ChainHead:
        """The newest event's sequence and chain hash: what an operator keeps to catch, later,
        the removal of the newest events (`shipwave verify --expect-head`)."""
        last = self.last_sequence(pipeline_id)
        digest = self.hash_at(pipeline_id, last)
        if digest is None:
            raise TamperedEventError(
                pipeline_id,
                last,
                f"{self._where}: pipeline {pipeline_id!r} sequence {last} is the newest "
                "event but cannot be read (it was removed while being read)",
            )
        return ChainHead(last, digest)

    # --- snapshots: a state beside the events, with the chain head it covers -------------------

    def save_snapshot(self, state: PipelineState) -> None:
        """Store a state beside the events; it covers the events up to `state.sequence` and
        keeps the chain hash of that event."""
        head = self.hash_at(state.pipeline_id, state.sequence)
        if head is None:
            raise SnapshotError(
                f"{self._where}: no snapshot of {state.pipeline_id!r} at sequence "
                f"{state.sequence}: the log holds no such event"
            )
        self._put_snapshot(state.pipeline_id, state.sequence, head, snapshot_to_json(state))

    def latest_snapshot(self, pipeline_id: str) -> PipelineState | None:
        """The stored snapshot with the highest sequence, if any, once it agrees with the log.

        A snapshot whose chain head differs from the log's, or that cannot be read, raises
        SnapshotError (StaleSnapshotError: another fold version); the caller replays instead.
        One that covers events the log no longer holds raises TamperedEventError: the newest
        events were removed.
        """
        return self._checked_snapshot(pipeline_id, self._newest_snapshot(pipeline_id))

    def snapshot_at_or_before(self, pipeline_id: str, sequence: int) -> PipelineState | None:
        """The newest snapshot covering no event after `sequence` (the state at a time starts
        there), checked against the log as `latest_snapshot` is."""
        return self._checked_snapshot(
            pipeline_id, self._newest_snapshot(pipeline_id, at_or_before=sequence)
        )

    def _checked_snapshot(
        self, pipeline_id: str, found: tuple[int, str | None, str | bytes] | None
    ) -> PipelineState | None:
        if found is None:
            return None
        sequence, head, text = found
        actual = self.hash_at(pipeline_id, sequence)
        if actual is None:
            last = self.last_sequence(pipeline_id)
            missing = (
                f"the log ends at {last}: events {last + 1} to {sequence} were removed"
                if last < sequence
                else f"the log has no event {sequence}: it was removed"
            )
            raise TamperedEventError(
                pipeline_id,
                min(last + 1, sequence),
                f"{self._where}: pipeline {pipeline_id!r}: the newest snapshot covers sequence "
                f"{sequence} but {missing}",
            )
        if head != actual:
            recorded = f"records chain head {head[:12]}…" if head else "records no chain head"
            raise SnapshotError(
                f"{self._where}: the snapshot of {pipeline_id!r} at sequence {sequence} "
                f"{recorded}, but event {sequence} hashes to {actual[:12]}… (the snapshot is "
                "damaged, or the log was rewritten: `shipwave verify` tells)"
            )
        return snapshot_from_json(text, pipeline_id=pipeline_id, sequence=sequence)

    @abstractmethod
    def _put_snapshot(self, pipeline_id: str, sequence: int, head: str, text: str) -> None:
        """Keep a snapshot's JSON and the chain head it covers (a later one may replace it)."""

    @abstractmethod
    def _newest_snapshot(
        self, pipeline_id: str, *, at_or_before: int | None = None
    ) -> tuple[int, str | None, str | bytes] | None:
        """The newest stored snapshot (covering no event after `at_or_before`, when given) as
        (sequence, chain head or None, JSON), if any."""

    def validate(self, events: Sequence[Event]) -> tuple[tuple[Event, ...], tuple[str, ...]]:
        """The batch, checked, with each event's JSON as the store keeps it (encoded once)."""
        batch = tuple(events)
        texts = check_batch(batch, self.max_events_per_append)
        check_pipeline_id(batch[0].pipeline_id)
        return batch, texts


def chained_rows(
    pipeline_id: str,
    after: int,
    rows: Iterable[tuple[int, object, object, str]],
    *,
    where: str,
) -> Iterator[Chained]:
    """Stored rows (sequence, prev, hash, JSON) of one pipeline from sequence `after` (when
    above 0: row `after` first, which is checked and not returned) up, checked link by link
    and decoded."""
    reader = ChainReader(pipeline_id, where=where, after=after)
    for sequence, prev, digest, text in rows:
        if after and sequence == after:
            reader.anchor(sequence, prev, digest, text)
            continue
        own = reader.check(sequence, prev, digest, text)
        event = decode_stored(text, pipeline_id, sequence, where=where, parse=from_json)
        yield Chained(event, own)


def predecessor_hash(
    pipeline_id: str, row: tuple[int, object, object, str] | None, *, where: str
) -> tuple[int, str]:
    """The sequence and checked hash of a pipeline's newest stored row (0 and the genesis
    value for none): what the next append chains to. A row that does not hash to its own
    hash is reported, not chained onto."""
    if row is None:
        return 0, genesis(pipeline_id)
    sequence, prev, digest, text = row
    reader = ChainReader(pipeline_id, where=where, after=sequence)
    reader.anchor(sequence, prev, digest, text)
    assert reader.head is not None
    return sequence, reader.head


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


class NotificationPublisher(ABC):
    """Where every recorded transition is published (EventBridge on AWS, the outbox
    locally). Delivery is at least once: a notification's `id` names it."""

    @abstractmethod
    def publish(self, note: Notification) -> None:
        """Publish one notification; raises NotifyError when it cannot."""


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
    attempt: int = 1  # the change's run: a retried change builds anew

    @property
    def run_key(self) -> str:
        """What one build of one run of a change is known by (CodeBuild's idempotency)."""
        run = f"/retry{self.attempt}" if self.attempt > 1 else ""
        return f"{self.pipeline_id}/{self.change_id}{run}"


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
    attempt: int = 1  # the change's run: a retried change's tests run anew

    @property
    def run_key(self) -> str:
        """What one test run of one run of a change at a stage is known by."""
        run = f"/retry{self.attempt}" if self.attempt > 1 else ""
        return f"{self.pipeline_id}/{self.change_id}/{self.stage}{run}"


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
    def start(
        self,
        pipeline_id: str,
        change_id: str,
        execution_input: dict[str, object],
        *,
        name: str | None = None,
    ) -> str:
        """Start the change's execution (`name`: a retry's; else named after the change);
        returns its id. Starting an execution that exists returns its id."""

    @abstractmethod
    def stop(
        self, pipeline_id: str, change_id: str, cause: str, *, name: str | None = None
    ) -> bool:
        """Stop the change's execution (`name`: its current run's); False when it had already
        ended (or never ran)."""
