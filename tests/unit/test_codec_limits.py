"""What the event codec and the snapshot decoder make of data no shipwave wrote: nesting too
deep for the interpreter and numbers too large for a float become the domain's errors, never
RecursionError or OverflowError."""

from __future__ import annotations

import json

import pytest

from domain.errors import MalformedEventError, SnapshotError, StaleSnapshotError
from domain.events import OneBoxDeployed, from_dict, from_json, to_dict
from domain.state import FOLD_VERSION, PipelineState, snapshot_from_json, snapshot_to_json
from tests.builders import T0, artifact

DEEP = "[" * 100_000 + "]" * 100_000


def one_box() -> dict[str, object]:
    return to_dict(
        OneBoxDeployed(
            pipeline_id="orders-app",
            sequence=1,
            at=T0,
            idempotency_key="c1:gamma:us-east-1:one-box",
            stage="gamma",
            scope="us-east-1",
            change_id="c1",
            artifact=artifact("v1"),
            traffic_percent=8.3,
        )
    )


def test_json_nested_too_deeply_is_a_malformed_event() -> None:
    with pytest.raises(MalformedEventError, match="nested too deeply"):
        from_json(DEEP, where="events.db row 7")


def test_a_value_nested_too_deeply_is_a_malformed_event() -> None:
    data = one_box()
    nested: object = "x"
    for _ in range(100_000):
        nested = [nested]
    data["stage"] = nested
    with pytest.raises(MalformedEventError, match="sequence 1"):
        from_dict(data)


def test_a_number_too_large_for_a_float_is_a_malformed_event() -> None:
    data = one_box()
    data["traffic_percent"] = 10**400
    with pytest.raises(MalformedEventError, match="out of range"):
        from_dict(data)
    text = json.dumps(one_box()).replace("8.3", "1" + "0" * 400)
    with pytest.raises(MalformedEventError, match="out of range"):
        from_json(text)


def test_a_snapshot_nested_too_deeply_or_with_huge_numbers_is_unreadable() -> None:
    with pytest.raises(SnapshotError, match="unreadable"):
        snapshot_from_json(DEEP, pipeline_id="orders-app", sequence=3)
    good = json.loads(snapshot_to_json(PipelineState(pipeline_id="orders-app", sequence=3)))
    good["state"]["sequence"] = 10**400  # a number no fold counts to: not this snapshot
    with pytest.raises(SnapshotError, match="at sequence 1000"):
        snapshot_from_json(json.dumps(good), pipeline_id="orders-app", sequence=3)


@pytest.mark.parametrize("version", [float(FOLD_VERSION), str(FOLD_VERSION), True, None])
def test_a_fold_version_that_is_not_exactly_the_current_integer_is_stale(version: object) -> None:
    data = json.loads(snapshot_to_json(PipelineState(pipeline_id="orders-app", sequence=3)))
    data["fold_version"] = version
    with pytest.raises(StaleSnapshotError, match="fold version"):
        snapshot_from_json(json.dumps(data), pipeline_id="orders-app", sequence=3)
    data["fold_version"] = FOLD_VERSION
    state = snapshot_from_json(json.dumps(data), pipeline_id="orders-app", sequence=3)
    assert state.sequence == 3
