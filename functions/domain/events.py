"""The event catalogue: every transition of a pipeline, named in the past tense.

Each event carries the pipeline it belongs to, its position in that pipeline's log
(`sequence`, from 1, without gaps), when it happened (`at`, aware UTC) and an
`idempotency_key`: the same key appended twice is recorded once, so a retried Lambda never
duplicates a transition. Everything else is what a person or the fold needs to know.

A *stage* is a named step of the pipeline ("alpha", "gamma", "wave2"); a *scope* is where
inside a stage a deployment lands: a region ("eu-west-1") or an AZ/cell of it
("eu-west-1/euw1-az2").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from domain import codec
from domain.errors import InvalidAppendError, MalformedEventError, UnknownEventTypeError

BakePhase = Literal["one-box", "fleet", "wave"]
DatapointPolicy = Literal["extend", "hold", "proceed"]


@dataclass(frozen=True, kw_only=True)
class Artifact:
    """An immutable build output: what gets deployed and what a rollback returns to."""

    version: str
    checksum: str  # "sha256:<hex>"
    uri: str = ""


#: a commit's author before the source system's review record named them
UNKNOWN_AUTHOR = "unknown"


@dataclass(frozen=True, kw_only=True)
class Commit:
    commit_id: str
    author: str
    message: str = ""
    approved_by: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Event:
    pipeline_id: str
    sequence: int
    at: datetime
    idempotency_key: str


# --- a change arrives and is built -------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ChangeReceived(Event):
    change_id: str
    source: str  # "codecommit", "github", "manual"
    repository: str
    branch: str
    commits: tuple[Commit, ...]
    head: str = ""  # the commit the branch moved to: what the build checks out
    previous: str = ""  # the branch's head before ("" for a new branch)
    delivery: str = ""  # the source notification's id (GitHub delivery, EventBridge event)


@dataclass(frozen=True, kw_only=True)
class CommitExcluded(Event):
    change_id: str
    commit_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class ReviewHeld(Event):
    """The change waits at source: its artifact holds a commit no team member other than its
    author approved (or the review record could not be read)."""

    change_id: str
    commit_id: str
    author: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class ReviewPassed(Event):
    """Every commit the change's artifact holds is approved; (commit, approvers) each, and
    (commit, author) as the review record names the author."""

    change_id: str
    approvals: tuple[tuple[str, str], ...]
    authors: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, kw_only=True)
class BuildStarted(Event):
    """The pipeline's build of the change's head commit began (CodeBuild, or the local
    builder); its completion event resumes the execution through `callback_token`."""

    change_id: str
    commit_id: str
    build_id: str
    callback_token: str = ""


@dataclass(frozen=True, kw_only=True)
class ArtifactBuilt(Event):
    change_id: str
    artifact: Artifact
    build_id: str = ""


@dataclass(frozen=True, kw_only=True)
class BuildFailed(Event):
    """The build did not produce a trustworthy artifact: the change ends `build-failed`."""

    change_id: str
    build_id: str
    phase: str  # CodeBuild's phase type: INSTALL, BUILD, POST_BUILD (unit tests), ...
    reason: str
    log_url: str = ""


@dataclass(frozen=True, kw_only=True)
class ScopeAdopted(Event):
    """The scope already ran this artifact when shipwave took it over (it is known good)."""

    stage: str
    scope: str
    artifact: Artifact


# --- stage leases: the conveyor --------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class StageLeaseAcquired(Event):
    stage: str
    change_id: str
    callback_token: str = ""  # the waiting execution to resume, when there is one


@dataclass(frozen=True, kw_only=True)
class StageLeaseWaiting(Event):
    stage: str
    change_id: str
    callback_token: str


@dataclass(frozen=True, kw_only=True)
class StageLeaseReleased(Event):
    stage: str
    change_id: str


@dataclass(frozen=True, kw_only=True)
class ChangeSuperseded(Event):
    stage: str
    change_id: str
    superseded_by: str
    callback_token: str = ""  # the superseded execution to end


# --- deploying ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OneBoxDeployed(Event):
    stage: str
    scope: str
    change_id: str
    artifact: Artifact
    traffic_percent: float


@dataclass(frozen=True, kw_only=True)
class BatchDeployed(Event):
    stage: str
    scope: str
    change_id: str
    artifact: Artifact
    batch: int
    boxes: tuple[str, ...]
    fleet_percent_on_new: float
    healthy_percent: float


@dataclass(frozen=True, kw_only=True)
class IntegrationTestsStarted(Event):
    """The team's integration tests run against the stage, which deployed the change."""

    stage: str
    change_id: str
    run_id: str
    callback_token: str = ""


@dataclass(frozen=True, kw_only=True)
class IntegrationTestsPassed(Event):
    stage: str
    change_id: str
    run_id: str


@dataclass(frozen=True, kw_only=True)
class IntegrationTestsFailed(Event):
    """A test failed (or the run could not tell): the stage fails and rolls back."""

    stage: str
    change_id: str
    run_id: str
    failed_tests: tuple[str, ...]
    reason: str
    log_url: str = ""


@dataclass(frozen=True, kw_only=True)
class HealthCheckPassed(Event):
    stage: str
    scope: str
    change_id: str
    boxes: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class HealthCheckFailed(Event):
    stage: str
    scope: str
    change_id: str
    boxes: tuple[str, ...]
    reason: str


# --- baking ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class BakeStarted(Event):
    stage: str
    scope: str
    change_id: str
    phase: BakePhase
    duration_seconds: int
    ends_at: datetime
    metric: str
    min_datapoints: int
    callback_token: str = ""  # how an alarm ends this bake at once


@dataclass(frozen=True, kw_only=True)
class BakeCompleted(Event):
    stage: str
    scope: str
    change_id: str
    phase: BakePhase


@dataclass(frozen=True, kw_only=True)
class DatapointsReached(Event):
    stage: str
    scope: str
    change_id: str
    metric: str
    required: int
    seen: int


@dataclass(frozen=True, kw_only=True)
class DatapointsInsufficient(Event):
    stage: str
    scope: str
    change_id: str
    metric: str
    required: int
    seen: int
    action: DatapointPolicy


# --- alarms and rollback -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AlarmsUnconfirmed(Event):
    """At bake end the watched alarms could not vouch for the scope (missing, no data,
    actions disabled, unreadable): the bake does not pass; it extends or holds."""

    stage: str
    scope: str
    change_id: str
    region: str
    problems: tuple[str, ...]
    action: Literal["extend", "hold"]


@dataclass(frozen=True, kw_only=True)
class AlarmFired(Event):
    stage: str
    scope: str
    change_id: str | None
    alarm_name: str
    region: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class RollbackStarted(Event):
    stage: str
    scope: str
    change_id: str
    from_artifact: Artifact | None
    to_artifact: Artifact | None  # None: the scope had nothing before; the new code is removed
    reason: str


@dataclass(frozen=True, kw_only=True)
class RollbackCompleted(Event):
    stage: str
    scope: str
    change_id: str
    artifact: Artifact | None


@dataclass(frozen=True, kw_only=True)
class RollbackFailed(Event):
    stage: str
    scope: str
    change_id: str
    reason: str


# --- blockers and approvals ----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class BlockerHit(Event):
    stage: str
    change_id: str
    blocker: str  # "time-window", "aggregate-alarm", "company-alarm", "rollback-failed", ...
    reason: str
    inputs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, kw_only=True)
class BlockerCleared(Event):
    stage: str
    change_id: str
    blocker: str


@dataclass(frozen=True, kw_only=True)
class BlockerOverridden(Event):
    stage: str
    change_id: str
    blocker: str
    by: str
    why: str


@dataclass(frozen=True, kw_only=True)
class EmergencyApproved(Event):
    change_id: str
    approvers: tuple[str, ...]
    reason: str
    bake_factor: float  # 0.25: this change bakes a quarter of the configured time


@dataclass(frozen=True, kw_only=True)
class EmergencyApprovalGiven(Event):
    """One senior engineer's approval of an emergency, by their identity; a second distinct
    one makes it `EmergencyApproved`."""

    change_id: str
    by: str  # the caller's identity (an IAM principal, or local:<OS user>)
    person: str  # who that is, as the pipeline names its emergency approvers
    reason: str
    bake_factor: float


# --- moving on -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ChangePromoted(Event):
    change_id: str
    from_stage: str
    to_stage: str


@dataclass(frozen=True, kw_only=True)
class StageSucceeded(Event):
    stage: str
    change_id: str


@dataclass(frozen=True, kw_only=True)
class StageFailed(Event):
    stage: str
    change_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class ChangeCompleted(Event):
    change_id: str


@dataclass(frozen=True, kw_only=True)
class PersonPaged(Event):
    """People were told that shipwave cannot go on alone: a rollback failed, or a stage has
    been blocked too long. Recorded first, then published (SNS on AWS; the outbox locally)."""

    stage: str
    change_id: str
    subject: str
    message: str


@dataclass(frozen=True, kw_only=True)
class StageRecovered(Event):
    """A person redeployed a named earlier artifact to scopes of a stage: those whose rollback
    failed, or (the pipeline paused, no change holding the stage) those that ran a version
    that failed later. `change_id`: the change whose version they ran ("" when none)."""

    stage: str
    change_id: str
    artifact: Artifact
    scopes: tuple[str, ...]
    by: str
    why: str


@dataclass(frozen=True, kw_only=True)
class StageUnblocked(Event):
    """A person released a stage held by a failed rollback, once its scopes were healthy."""

    stage: str
    change_id: str
    by: str
    why: str


@dataclass(frozen=True, kw_only=True)
class PipelinePaused(Event):
    """A person paused the pipeline (or the whole team, `team`): no new stage starts; what
    is deploying finishes its step, running bakes keep watching and can still roll back."""

    by: str  # the caller's identity: an IAM principal, or `local:<OS user>`
    why: str
    team: str = ""  # set when the whole team was paused at once


@dataclass(frozen=True, kw_only=True)
class PipelineResumed(Event):
    by: str
    why: str
    team: str = ""


@dataclass(frozen=True, kw_only=True)
class ChangeAborted(Event):
    """A person stopped the line for this change: what it deployed is rolled back and its
    execution stopped."""

    change_id: str
    by: str
    why: str


@dataclass(frozen=True, kw_only=True)
class ChangeRetried(Event):
    """A person runs a change that failed again, from where it failed (`from_stage`: a stage
    of the pipeline, or `source` / `build`), in a new execution; its `attempt`-th run."""

    change_id: str
    from_stage: str
    attempt: int
    execution: str  # the new execution's name
    by: str
    why: str


ExecutionStatus = Literal["FAILED", "TIMED_OUT", "ABORTED"]


@dataclass(frozen=True, kw_only=True)
class ExecutionEnded(Event):
    """The change's execution ended abnormally (Step Functions' status change event): what it
    held is released, unless its rollback failed there (a person must act)."""

    change_id: str
    status: ExecutionStatus
    cause: str
    execution: str  # the execution's ARN


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        ChangeReceived,
        CommitExcluded,
        ReviewHeld,
        ReviewPassed,
        BuildStarted,
        ArtifactBuilt,
        BuildFailed,
        ScopeAdopted,
        StageLeaseAcquired,
        StageLeaseWaiting,
        StageLeaseReleased,
        ChangeSuperseded,
        OneBoxDeployed,
        BatchDeployed,
        HealthCheckPassed,
        HealthCheckFailed,
        IntegrationTestsStarted,
        IntegrationTestsPassed,
        IntegrationTestsFailed,
        BakeStarted,
        BakeCompleted,
        DatapointsReached,
        DatapointsInsufficient,
        AlarmsUnconfirmed,
        AlarmFired,
        RollbackStarted,
        RollbackCompleted,
        RollbackFailed,
        BlockerHit,
        BlockerCleared,
        BlockerOverridden,
        EmergencyApproved,
        ChangePromoted,
        StageSucceeded,
        StageFailed,
        ChangeCompleted,
        ExecutionEnded,
        PersonPaged,
        StageRecovered,
        StageUnblocked,
        PipelinePaused,
        PipelineResumed,
        ChangeAborted,
        EmergencyApprovalGiven,
        ChangeRetried,
    )
}

E = TypeVar("E", bound=Event)


def to_dict(event: Event) -> dict[str, Any]:
    """The event as plain JSON values, its type under "type"."""
    if type(event).__name__ not in EVENT_TYPES:
        raise UnknownEventTypeError(f"{type(event).__name__} is not in the event catalogue")
    return {"type": type(event).__name__, **codec.encode(event)}


def from_dict(data: Any, *, where: str = "") -> Event:
    """Decode one event; unknown types and malformed fields raise, naming pipeline and sequence.

    `where` names the event's place (a store and key) in the message; without it the message
    names the pipeline and sequence the data claims.
    """
    if not isinstance(data, dict):
        raise MalformedEventError(f"{where or 'event'}: not a JSON object but {data!r}")
    if not where:
        where = f"pipeline {data.get('pipeline_id')!r} sequence {data.get('sequence')!r}"
    type_name = data.get("type")
    cls = EVENT_TYPES.get(type_name) if isinstance(type_name, str) else None
    if cls is None:
        raise UnknownEventTypeError(f"{where}: unknown event type {type_name!r}")
    try:
        return codec.decode(cls, data)
    except ValueError as error:
        raise MalformedEventError(f"{where}: {error}") from None
    except RecursionError:
        raise MalformedEventError(f"{where}: nested too deeply to be an event") from None
    except OverflowError as error:
        raise MalformedEventError(f"{where}: a number out of range ({error})") from None


def to_json(event: Event) -> str:
    return json.dumps(to_dict(event), separators=(",", ":"), sort_keys=True)


def from_json(text: str | bytes, *, where: str = "") -> Event:
    """Decode an event stored as JSON; `where` names its place in a store for error messages."""
    try:
        data = json.loads(text)
    except (ValueError, TypeError) as error:
        raise MalformedEventError(f"{where or 'event'}: not valid JSON ({error})") from None
    except RecursionError:
        raise MalformedEventError(
            f"{where or 'event'}: JSON nested too deeply to be an event"
        ) from None
    return from_dict(data, where=where)


def payload(event: Event) -> dict[str, Any]:
    """What the event says, without where or when it was recorded: equal for a true retry."""
    data = to_dict(event)
    for key in ("sequence", "at"):
        data.pop(key)
    return data


class Stamper:
    """Numbers new events of one pipeline from `first_sequence` on, all at time `at`.

    `attempts` names the changes a person retried, with their run's number: each decision
    keys its events by the change (`c1:beta:lease`), and a second run of `c1` must record
    anew what its first run recorded (its lease, deployments, bakes) while a retried step of
    the second run still records once. So the stamper keys an event of a retried change by
    its run: `c1:beta:lease` becomes `c1:retry2:beta:lease`."""

    def __init__(
        self,
        pipeline_id: str,
        first_sequence: int,
        at: datetime,
        *,
        attempts: Mapping[str, int] | None = None,
    ) -> None:
        self._pipeline_id = pipeline_id
        self._next = first_sequence
        self._at = at
        self._attempts = attempts or {}

    @property
    def next_sequence(self) -> int:
        return self._next

    def __call__(self, cls: type[E], idempotency_key: str, **fields: Any) -> E:
        change = fields.get("change_id")
        attempt = self._attempts.get(change, 1) if isinstance(change, str) else 1
        if isinstance(change, str) and attempt > 1 and idempotency_key.startswith(f"{change}:"):
            rest = idempotency_key[len(change) + 1 :]
            idempotency_key = f"{change}:retry{attempt}:{rest}"
        event = cls(
            pipeline_id=self._pipeline_id,
            sequence=self._next,
            at=self._at,
            idempotency_key=idempotency_key,
            **fields,
        )
        self._next += 1
        return event


#: one event's JSON at most: a DynamoDB item holds 400 KB with its keys and attribute names,
#: so every store refuses what one of them could not keep
MAX_EVENT_BYTES = 350_000
#: an idempotency key at most (DynamoDB's marker item keys on it: 2 KB partition keys)
MAX_IDEMPOTENCY_KEY_LENGTH = 512


def check_batch(events: tuple[Event, ...], max_events: int) -> tuple[str, ...]:
    """Raise InvalidAppendError unless the batch is one pipeline, contiguous and within size,
    each event within the limits every store keeps (MAX_EVENT_BYTES, key length). Returns
    each event's JSON, encoded once: the size limit is on it, and it is what the store keeps."""
    if not events:
        raise InvalidAppendError("an append needs at least one event")
    if len(events) > max_events:
        raise InvalidAppendError(
            f"an append holds at most {max_events} events, this one has {len(events)}"
        )
    first = events[0]
    if first.sequence < 1:
        raise InvalidAppendError(f"sequences start at 1, got {first.sequence}")
    keys: set[str] = set()
    texts: list[str] = []
    for offset, event in enumerate(events):
        if event.pipeline_id != first.pipeline_id:
            raise InvalidAppendError(
                f"one append covers one pipeline: {first.pipeline_id!r} and {event.pipeline_id!r}"
            )
        if event.sequence != first.sequence + offset:
            raise InvalidAppendError(
                f"pipeline {first.pipeline_id!r}: sequences must be contiguous, "
                f"expected {first.sequence + offset}, got {event.sequence}"
            )
        if not event.idempotency_key:
            raise InvalidAppendError(
                f"pipeline {first.pipeline_id!r} sequence {event.sequence}: empty idempotency key"
            )
        if event.idempotency_key in keys:
            raise InvalidAppendError(
                f"pipeline {first.pipeline_id!r}: idempotency key {event.idempotency_key!r} "
                "appears twice in one append"
            )
        keys.add(event.idempotency_key)
        if len(event.idempotency_key) > MAX_IDEMPOTENCY_KEY_LENGTH:
            raise InvalidAppendError(
                f"pipeline {first.pipeline_id!r} sequence {event.sequence}: idempotency key of "
                f"{len(event.idempotency_key)} characters, more than {MAX_IDEMPOTENCY_KEY_LENGTH}"
            )
        texts.append(to_json(event))
        size = len(texts[-1].encode())
        if size > MAX_EVENT_BYTES:
            raise InvalidAppendError(
                f"pipeline {first.pipeline_id!r} sequence {event.sequence}: "
                f"{type(event).__name__} is {size:,} bytes, more than {MAX_EVENT_BYTES:,}"
            )
        if event.at.tzinfo is None:
            raise InvalidAppendError(
                f"pipeline {first.pipeline_id!r} sequence {event.sequence}: time has no zone"
            )
    return tuple(texts)
