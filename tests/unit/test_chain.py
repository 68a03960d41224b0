"""The hash chain's rules, as pure functions (stores apply them: tests/contract)."""

from __future__ import annotations

import pytest

from domain.chain import ChainHead, ChainHeadError, ChainReader, genesis, link, links, parse_head
from domain.errors import MalformedEventError, TamperedEventError

TEXTS = ['{"n": 1}', '{"n": 2}', '{"n": 3}']


def rows(pipeline: str = "orders-app") -> list[tuple[int, str, str, str]]:
    chained = links(genesis(pipeline), TEXTS)
    return [
        (n, prev, digest, text)
        for n, text, (prev, digest) in zip((1, 2, 3), TEXTS, chained, strict=True)
    ]


def test_each_link_is_the_hash_of_the_one_before_and_the_stored_text() -> None:
    chained = links(genesis("orders-app"), TEXTS)
    assert chained[0][0] == genesis("orders-app")
    for (prev, digest), text in zip(chained, TEXTS, strict=True):
        assert digest == link(prev, text)
    assert [prev for prev, _ in chained[1:]] == [digest for _, digest in chained[:-1]]
    assert genesis("orders-app") != genesis("billing-app")


def test_a_reader_accepts_the_rows_as_chained_and_learns_the_head() -> None:
    reader = ChainReader("orders-app", where="test")
    hashes = [reader.check(*row) for row in rows()]
    assert hashes == [row[2] for row in rows()]
    assert reader.head == hashes[-1]


def test_a_read_from_the_middle_is_anchored_on_the_row_it_starts_after() -> None:
    reader = ChainReader("orders-app", where="test", after=1)
    first, second, _ = rows()
    reader.anchor(*first)
    assert reader.check(*second) == second[2]
    unanchored = ChainReader("orders-app", where="test", after=1)
    with pytest.raises(TamperedEventError, match="sequence 1 is missing"):
        unanchored.check(*second)


@pytest.mark.parametrize(
    ("broken", "sequence", "message"),
    [
        (lambda r: [r[0], (2, r[1][1], r[1][2], '{"n": 20}'), r[2]], 2, "does not hash"),
        (
            lambda r: [r[0], (2, r[1][1], link(r[1][1], '{"n": 20}'), '{"n": 20}'), r[2]],
            3,
            "but event 2 hashes to",
        ),
        (lambda r: [r[0], r[2]], 2, "is missing: the next stored event is 3"),
        (lambda r: [(1, None, None, r[0][3]), *r[1:]], 1, "carries no chain hash"),
        (lambda r: rows("billing-app"), 1, "but the pipeline's genesis hashes to"),
    ],
    ids=["edited", "edited-and-rehashed", "removed", "unchained", "another-pipeline"],
)
def test_every_break_names_the_pipeline_and_the_sequence(
    broken: object, sequence: int, message: str
) -> None:
    reader = ChainReader("orders-app", where="test")

    def read_all() -> None:
        for row in broken(rows()):  # type: ignore[operator]
            reader.check(*row)

    with pytest.raises(TamperedEventError, match=message) as raised:
        read_all()
    assert (raised.value.pipeline_id, raised.value.sequence) == ("orders-app", sequence)
    assert f"pipeline 'orders-app' sequence {sequence}" in str(raised.value)
    assert isinstance(raised.value, MalformedEventError)  # every reader already fails closed


def test_a_head_is_written_and_read_as_sequence_colon_hash() -> None:
    head = ChainHead(12, "ab" * 32)
    assert parse_head(str(head)) == head
    for bad in ("12", "x:" + "ab" * 32, "12:" + "AB" * 32, "12:abc", "-1:" + "ab" * 32):
        with pytest.raises(ChainHeadError, match="write SEQUENCE:HASH"):
            parse_head(bad)
