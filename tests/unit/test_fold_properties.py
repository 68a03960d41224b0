"""Properties of the fold, the encoding and snapshots, over generated event streams."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import EventOutOfOrderError, MalformedEventError, UnknownEventTypeError
from domain.events import EVENT_TYPES, Event, from_dict, from_json, to_dict, to_json
from domain.state import PipelineState, evolve, project, snapshot_from_json, snapshot_to_json
from tests.unit.strategies import any_event, streams


@given(streams(), st.data())
@settings(max_examples=150, deadline=None)
def test_folding_in_one_pass_equals_snapshot_plus_tail_at_any_split(
    events: list[Event], data: st.DataObject
) -> None:
    split = data.draw(st.integers(min_value=1, max_value=len(events)))
    whole = project(events)

    head = project(events[:split])
    restored = snapshot_from_json(
        snapshot_to_json(head), pipeline_id="orders-app", sequence=head.sequence
    )
    assert restored == head
    assert project(events[split:], restored) == whole


@given(streams())
@settings(max_examples=100, deadline=None)
def test_state_never_changes_in_place(events: list[Event]) -> None:
    states = [PipelineState(pipeline_id="orders-app")]
    encoded = [snapshot_to_json(states[0])]
    for event in events:
        states.append(evolve(states[-1], event))
        encoded.append(snapshot_to_json(states[-1]))
    # Every intermediate state still says what it said when it was made
    assert [snapshot_to_json(s) for s in states] == encoded


@given(any_event)
def test_every_event_survives_encoding(event: Event) -> None:
    assert from_json(to_json(event)) == event
    assert from_dict(to_dict(event)) == event


@given(st.text(min_size=1).filter(lambda name: name not in EVENT_TYPES))
def test_unknown_event_types_are_an_error_not_ignored(type_name: str) -> None:
    with pytest.raises(UnknownEventTypeError, match="unknown event type"):
        from_dict({"type": type_name, "pipeline_id": "orders-app", "sequence": 1})


def test_an_event_outside_the_catalogue_cannot_be_folded() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class ChangeTeleported(Event):
        change_id: str

    event = ChangeTeleported(
        pipeline_id="orders-app",
        sequence=1,
        at=datetime(2026, 1, 1, tzinfo=UTC),
        idempotency_key="k",
        change_id="c1",
    )
    with pytest.raises(UnknownEventTypeError, match="ChangeTeleported"):
        evolve(PipelineState(pipeline_id="orders-app"), event)
    with pytest.raises(UnknownEventTypeError, match="not in the event catalogue"):
        to_dict(event)


@given(streams(max_size=5), st.integers(min_value=-3, max_value=3).filter(lambda n: n != 1))
def test_events_out_of_order_are_refused(events: list[Event], offset: int) -> None:
    state = project(events)
    wrong = dataclasses.replace(events[-1], sequence=state.sequence + offset)
    with pytest.raises(EventOutOfOrderError):
        evolve(state, wrong)


def test_event_of_another_pipeline_is_refused() -> None:
    state = PipelineState(pipeline_id="orders-app")
    event = from_dict(
        {
            "type": "ChangeCompleted",
            "pipeline_id": "billing-app",
            "sequence": 1,
            "at": "2026-11-23T09:00:00Z",
            "idempotency_key": "k",
            "change_id": "c1",
        }
    )
    with pytest.raises(EventOutOfOrderError, match="billing-app"):
        evolve(state, event)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sequence", "one", "expected an integer"),
        ("at", "2026-11-23T09:00:00", "no time zone"),
        ("traffic_percent", True, "expected a number"),
        ("surprise", 1, "unknown fields surprise"),
    ],
)
def test_malformed_fields_are_named(field: str, value: object, message: str) -> None:
    data = {
        "type": "OneBoxDeployed",
        "pipeline_id": "orders-app",
        "sequence": 7,
        "at": "2026-11-23T09:00:00Z",
        "idempotency_key": "k",
        "stage": "gamma",
        "scope": "us-east-1",
        "change_id": "c1",
        "artifact": {"version": "v1", "checksum": "sha256:00", "uri": ""},
        "traffic_percent": 10.0,
    }
    data[field] = value
    with pytest.raises(MalformedEventError, match=message) as raised:
        from_dict(data)
    assert "'orders-app'" in str(raised.value)
