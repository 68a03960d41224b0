"""Hypothesis strategies for realistic event streams over small pools of names."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from domain.events import EVENT_TYPES, Artifact, Event

STAGES = ("alpha", "beta", "gamma", "wave1", "wave2")
SCOPES = ("us-east-1", "eu-west-1/euw1-az1", "eu-west-1/euw1-az2", "ap-southeast-3")
CHANGES = ("c1", "c2", "c3", "c4")
ARTIFACTS = tuple(
    Artifact(version=f"v{n}", checksum="sha256:" + f"{n:x}" * 64) for n in range(1, 5)
)
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

aware_times = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)
st.register_type_strategy(datetime, aware_times)

_POOLS: dict[str, st.SearchStrategy[Any]] = {
    "stage": st.sampled_from(STAGES),
    "scope": st.sampled_from(SCOPES),
    "change_id": st.sampled_from(CHANGES),
    "superseded_by": st.sampled_from(CHANGES),
    "artifact": st.sampled_from(ARTIFACTS),
    "from_artifact": st.none() | st.sampled_from(ARTIFACTS),
    "to_artifact": st.none() | st.sampled_from(ARTIFACTS),
    "from_stage": st.sampled_from(STAGES),
    "to_stage": st.sampled_from(STAGES),
    "blocker": st.sampled_from(("time-window", "aggregate-alarm", "rollback-failed")),
    "traffic_percent": st.floats(0, 10),
    "fleet_percent_on_new": st.floats(0, 100),
    "healthy_percent": st.floats(66, 100),
    "bake_factor": st.floats(0.1, 1),
}


def _draft(cls: type[Event]) -> st.SearchStrategy[Event]:
    names = {f.name for f in dataclasses.fields(cls)}
    pools = {name: strategy for name, strategy in _POOLS.items() if name in names}
    return st.builds(
        cls,
        pipeline_id=st.just("orders-app"),
        sequence=st.just(0),
        at=st.just(T0),
        idempotency_key=st.just("k"),
        **pools,
    )


any_event = st.one_of([_draft(cls) for cls in EVENT_TYPES.values()])


@st.composite
def streams(draw: st.DrawFn, max_size: int = 60) -> list[Event]:
    """A numbered stream of one pipeline, every change received before anything else."""
    received = [
        dataclasses.replace(draw(_draft(EVENT_TYPES["ChangeReceived"])), change_id=change)
        for change in CHANGES
    ]
    rest = draw(st.lists(any_event, max_size=max_size))
    return [
        dataclasses.replace(
            event,
            sequence=n,
            at=T0 + timedelta(minutes=n),
            idempotency_key=f"k{n}",
        )
        for n, event in enumerate([*received, *rest], start=1)
    ]
