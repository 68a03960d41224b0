"""The hash chain of a pipeline's event log: what makes a changed, removed or inserted event show.

Every stored event keeps beside its JSON the hash of the event before it (`prev`; the first
event chains to the pipeline's genesis value) and its own hash, the SHA-256 of `prev` and its
JSON as stored. A reader recomputes both: an event edited in place no longer hashes to its own
hash, and one edited with its hash recomputed, removed or inserted breaks the next link. Only
the newest events can be cut off without a broken link; the chain head kept in the newest
snapshot and the head an operator keeps (`shipwave verify --expect-head`) catch that.

The chain proves the log is the one shipwave wrote as long as a head is kept outside it; whoever
can rewrite the whole table can rewrite the whole chain, which the kept head then exposes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from domain.errors import ShipwaveError, TamperedEventError
from domain.events import Event

_HASH = re.compile(r"^[0-9a-f]{64}$")


def genesis(pipeline_id: str) -> str:
    """What the first event of a pipeline chains to: distinct per pipeline, so the events of
    one pipeline cannot be passed off as another's."""
    return hashlib.sha256(f"shipwave event log\n{pipeline_id}".encode()).hexdigest()


def link(prev: str, text: str) -> str:
    """The hash of an event stored as `text` after an event whose hash is `prev`."""
    return hashlib.sha256(f"{prev}\n{text}".encode()).hexdigest()


def links(prev: str, texts: Iterable[str]) -> list[tuple[str, str]]:
    """(prev, hash) for each event of a batch appended after an event whose hash is `prev`."""
    chained = []
    for text in texts:
        digest = link(prev, text)
        chained.append((prev, digest))
        prev = digest
    return chained


@dataclass(frozen=True)
class ChainHead:
    """The newest event of a pipeline's log and its hash: (0, genesis) for an empty log."""

    sequence: int
    hash: str

    def __str__(self) -> str:
        return f"{self.sequence}:{self.hash}"


class ChainHeadError(ShipwaveError):
    """A chain head written by hand (`SEQUENCE:HASH`) that is not one."""


def parse_head(value: str) -> ChainHead:
    """`SEQUENCE:HASH` as `status --json` and `verify` print it."""
    sequence, _, digest = value.strip().partition(":")
    if not sequence.isdigit() or len(sequence) > 18 or not _HASH.match(digest):
        raise ChainHeadError(
            f"chain head {value[:100]!r}: write SEQUENCE:HASH, a sequence and the 64 hex "
            "digits `shipwave status --json` prints as head"
        )
    return ChainHead(int(sequence), digest)


@dataclass(frozen=True)
class Chained:
    """An event as read from the log, with the hash the chain gives it."""

    event: Event
    hash: str


class ChainReader:
    """Checks the stored rows of one pipeline in sequence order, one row at a time.

    A read that starts after sequence N first shows the reader row N itself (`anchor`): its own
    hash is checked and the next row must chain to it. Every failure is a TamperedEventError
    naming the pipeline and the sequence where the chain breaks.
    """

    def __init__(self, pipeline_id: str, *, where: str, after: int = 0) -> None:
        self.pipeline_id = pipeline_id
        self.where = where
        self.after = after
        self.expected = after + 1
        self.head: str | None = genesis(pipeline_id) if after == 0 else None

    def anchor(self, sequence: int, prev: object, digest: object, text: str) -> None:
        """Row `after`, read to learn the hash the next row must chain to."""
        if sequence != self.after:
            raise self._broken(self.after, "is missing (an event was removed)")
        self.head = self._own(sequence, prev, digest, text)

    def check(self, sequence: int, prev: object, digest: object, text: str) -> str:
        """The row's hash, once it sits where it should and chains to the row before it."""
        if sequence != self.expected:
            raise self._broken(
                self.expected,
                f"is missing: the next stored event is {sequence} (events were removed)",
            )
        if self.head is None:  # a read after N whose row N was not shown: N is gone
            raise self._broken(self.after, "is missing (an event was removed)")
        own = self._own(sequence, prev, digest, text)
        if prev != self.head:
            before = "the pipeline's genesis" if sequence == 1 else f"event {sequence - 1}"
            raise self._broken(
                sequence,
                f"chains to {str(prev)[:12]}…, but {before} hashes to {self.head[:12]}… "
                "(an event before it was changed, removed or inserted)",
            )
        self.head = own
        self.expected += 1
        return own

    def _own(self, sequence: int, prev: object, digest: object, text: str) -> str:
        if not isinstance(prev, str) or not isinstance(digest, str):
            raise self._broken(sequence, "carries no chain hash (it was not written by shipwave)")
        own = link(prev, text)
        if own != digest:
            raise self._broken(
                sequence,
                "does not hash to the hash stored with it (the event was changed after it "
                "was written)",
            )
        return own

    def _broken(self, sequence: int, what: str) -> TamperedEventError:
        return TamperedEventError(
            self.pipeline_id,
            sequence,
            f"{self.where}: pipeline {self.pipeline_id!r} sequence {sequence} {what}",
        )


def check_row(
    pipeline_id: str, sequence: int, prev: object, digest: object, text: str, *, where: str
) -> str:
    """One stored row seen on its own (a table stream's record): its hash must be the link of
    the hash it carries and its text. Returns the hash; raises TamperedEventError."""
    return ChainReader(pipeline_id, where=where)._own(sequence, prev, digest, text)
