"""shipwave's own exceptions. Adapters translate technology errors into these."""

from __future__ import annotations


class ShipwaveError(Exception):
    """Base of every error shipwave raises on purpose."""


class MalformedEventError(ShipwaveError):
    """A stored or submitted event cannot be decoded; it names where it came from."""


class UnknownEventTypeError(MalformedEventError):
    """An event names a type that is not in the catalogue."""


class TamperedEventError(MalformedEventError):
    """The log's hash chain is broken: an event was changed, removed or inserted after it was
    written. Names the pipeline and the sequence where the chain breaks."""

    def __init__(self, pipeline_id: str, sequence: int, message: str) -> None:
        super().__init__(message)
        self.pipeline_id = pipeline_id
        self.sequence = sequence


class EventOutOfOrderError(ShipwaveError):
    """An event was folded onto a state it does not follow (wrong pipeline or sequence)."""


class ConcurrencyConflictError(ShipwaveError):
    """Another writer took the sequence this append expected to take."""

    def __init__(self, pipeline_id: str, sequence: int) -> None:
        super().__init__(
            f"pipeline {pipeline_id!r}: sequence {sequence} was already taken by another writer"
        )
        self.pipeline_id = pipeline_id
        self.sequence = sequence


class IdempotencyKeyConflictError(ShipwaveError):
    """An idempotency key was reused for a different event."""


class InvalidAppendError(ShipwaveError):
    """An append is malformed: empty, too large, mixed pipelines or non-contiguous sequences."""


class PipelineNotFoundError(ShipwaveError):
    """The event log holds no event for this pipeline."""


class EventStoreUnavailableError(ShipwaveError):
    """The event store cannot be reached or read."""


class StaleSnapshotError(ShipwaveError):
    """A snapshot was made by another version of the fold; the events are replayed instead."""


class DeployTargetError(ShipwaveError):
    """A deploy target could not do what it was asked."""


class SnapshotError(ShipwaveError):
    """A stored snapshot cannot be decoded or does not match its pipeline."""


class ReviewReadError(ShipwaveError):
    """The source system's review record could not be read: the change waits at source."""


class AlarmReadError(ShipwaveError):
    """CloudWatch could not be read (after retries): nothing is concluded from silence."""


class UnknownChangeError(ShipwaveError):
    """A request names a change the pipeline's log does not hold."""


class TransientDeployError(DeployTargetError):
    """The deploy API failed in a way that may pass (throttled, unavailable): try again."""


class ArtifactReadError(ShipwaveError):
    """The artifact store could not be read (not: the bytes do not match); try again."""


class NotifyError(ShipwaveError):
    """A page could not be delivered (it stays recorded in the log)."""


class BuildStartError(ShipwaveError):
    """The build system would not start the change's build (after retries)."""


class IntegrationTestRunError(ShipwaveError):
    """An integration test run could not start, or its results could not be read."""


class UnknownBuildError(ShipwaveError):
    """A build's end names a change or build the log does not hold as started."""


class InvalidStepError(ShipwaveError):
    """A step's input names what its pipeline does not have (a stage, step, scope or change),
    or a number out of bounds: refused before anything is recorded."""


class UnknownPipelineError(InvalidStepError):
    """A step names a pipeline this controller does not run."""
