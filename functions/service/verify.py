"""Verify a pipeline's event log end to end: every link of its hash chain, the newest snapshot
against the events it covers, and the head an operator kept (`shipwave verify`)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.chain import ChainHead, genesis
from domain.errors import (
    MalformedEventError,
    PipelineNotFoundError,
    SnapshotError,
    StaleSnapshotError,
)
from domain.ports import EventStore


@dataclass(frozen=True)
class Verdict:
    """What a verification found for one pipeline. `problems` is empty when the log is intact;
    the first problem is the first broken link (nothing after it was checked)."""

    pipeline_id: str
    checked: int  # events read and found chained, from the first
    head: ChainHead  # the newest event found chained (the break's predecessor when broken)
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def intact(self) -> bool:
        return not self.problems


def verify(store: EventStore, pipeline_id: str, expect: ChainHead | None = None) -> Verdict:
    """Read the whole log of a pipeline, checking every link; then the newest snapshot; then,
    given `expect` (a head kept earlier), that the log still holds it: a log that has grown
    since still holds it, one cut back or rewritten does not. Raises PipelineNotFoundError
    for a pipeline of which nothing is stored and nothing is expected."""
    head = ChainHead(0, genesis(pipeline_id))
    kept: str | None = head.hash if expect is not None and expect.sequence == 0 else None
    try:
        for chained in store.read_chained(pipeline_id):
            head = ChainHead(chained.event.sequence, chained.hash)
            if expect is not None and head.sequence == expect.sequence:
                kept = chained.hash
    except MalformedEventError as error:  # TamperedEventError included
        return Verdict(pipeline_id, head.sequence, head, problems=(str(error),))
    problems: list[str] = []
    notes: list[str] = []
    try:
        snapshot = store.latest_snapshot(pipeline_id)
    except StaleSnapshotError as error:
        notes.append(f"the newest snapshot is of another fold version (replayed on read): {error}")
    except (SnapshotError, MalformedEventError) as error:
        problems.append(str(error))
    else:
        if snapshot is not None:
            notes.append(f"the newest snapshot, at sequence {snapshot.sequence}, agrees")
        elif head.sequence == 0 and expect is None:
            raise PipelineNotFoundError(f"pipeline {pipeline_id!r} has no events in the log")
    if expect is not None:
        if expect.sequence > head.sequence:
            problems.append(
                f"pipeline {pipeline_id!r}: the expected head is at sequence {expect.sequence} "
                f"but the log ends at {head.sequence}: events {head.sequence + 1} to "
                f"{expect.sequence} were removed"
            )
        elif kept != expect.hash:
            problems.append(
                f"pipeline {pipeline_id!r}: event {expect.sequence} hashes to "
                f"{(kept or '')[:12]}…, the expected head says {expect.hash[:12]}…: the log "
                f"was rewritten at or before sequence {expect.sequence}"
            )
    return Verdict(pipeline_id, head.sequence, head, tuple(problems), tuple(notes))
