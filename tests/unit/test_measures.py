"""What the handlers measure of each recorded transition, and the EMF Powertools prints."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from domain.events import (
    AlarmFired,
    BlockerCleared,
    BlockerHit,
    DatapointsInsufficient,
    Event,
    RollbackStarted,
)
from domain.measures import Measure, measures
from domain.state import PipelineState, project
from handlers.observability import emit_measures
from tests.builders import T0, artifact, change_received, rollout

P = "orders-app"


def test_a_stage_taken_and_passed_counts_and_measures_its_lead_time() -> None:
    received = change_received(P, 1, "c1")
    batch = rollout(P, 2, "c1", "gamma", "us-east-1")
    before = project([received])

    found = measures(before, batch)

    names = [m.name for m in found]
    assert names.count("DeploymentsStarted") == 1
    assert names.count("DeploymentsCompleted") == 1
    (lead,) = [m for m in found if m.name == "LeadTimeSeconds"]
    passed = batch[-1]
    assert lead.value == (passed.at - received.at).total_seconds()
    assert lead.dimensions == (("Pipeline", P), ("Stage", "gamma"))
    assert lead.unit == "Seconds"


def _at(minutes: int) -> dict[str, object]:
    return {"pipeline_id": P, "at": T0 + timedelta(minutes=minutes)}


def test_a_rollback_names_its_stage_and_the_alarm_that_fired_there() -> None:
    history: list[Event] = [change_received(P, 1, "c1"), *rollout(P, 2, "c1", "gamma", "us-east-1")]
    n = history[-1].sequence
    alarm = AlarmFired(
        **_at(60), sequence=n + 1, idempotency_key="a", stage="wave1", scope="eu-west-1",
        change_id="c1", alarm_name="orders-high-severity", region="eu-west-1", reason="Faults",
    )  # fmt: skip
    rollback = RollbackStarted(
        **_at(61), sequence=n + 2, idempotency_key="b", stage="wave1", scope="eu-west-1",
        change_id="c1", from_artifact=artifact("c1"), to_artifact=artifact("c0"), reason="alarm",
    )  # fmt: skip
    found = measures(project(history), [alarm, rollback])
    assert found == [
        Measure(
            "Rollbacks",
            "Count",
            1,
            (("Pipeline", P), ("Stage", "wave1"), ("Alarm", "orders-high-severity")),
        )
    ]


def test_a_cleared_blocker_measures_how_long_it_held_and_an_extension_counts() -> None:
    held = BlockerHit(
        **_at(0), sequence=2, idempotency_key="h", stage="wave1", change_id="c1",
        blocker="time-window:af-south-1", reason="closed",
    )  # fmt: skip
    before = project([change_received(P, 1, "c1"), held])
    cleared = BlockerCleared(
        **_at(90), sequence=3, idempotency_key="c", stage="wave1", change_id="c1",
        blocker="time-window:af-south-1",
    )  # fmt: skip
    extended = DatapointsInsufficient(
        **_at(91), sequence=4, idempotency_key="d", stage="wave1", scope="af-south-1",
        change_id="c1", metric="Count", required=100, seen=3, action="extend",
    )  # fmt: skip
    held_on = DatapointsInsufficient(
        **_at(92), sequence=5, idempotency_key="e", stage="wave1", scope="af-south-1",
        change_id="c1", metric="Count", required=100, seen=3, action="hold",
    )  # fmt: skip

    found = measures(before, [cleared, extended, held_on])

    assert found == [
        Measure("BlockedMinutes", "Count", 90.0, (("Pipeline", P), ("Blocker", "time-window"))),
        Measure("BakeExtensions", "Count", 1, (("Pipeline", P), ("Stage", "wave1"))),
    ]


def test_nothing_measured_is_nothing_emitted_and_a_measure_is_one_emf_document(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    emit_measures(PipelineState(pipeline_id=P), [change_received(P, 1, "c1")])
    assert capsys.readouterr().out == ""

    received = change_received(P, 1, "c1")
    batch = rollout(P, 2, "c1", "gamma", "us-east-1")
    emit_measures(project([received]), batch)

    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    by_name = {d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]: d for d in documents}
    assert set(by_name) == {"DeploymentsStarted", "DeploymentsCompleted", "LeadTimeSeconds"}
    lead = by_name["LeadTimeSeconds"]
    directive = lead["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Shipwave"
    assert directive["Dimensions"] == [["Pipeline", "Stage"]]
    assert (lead["Pipeline"], lead["Stage"]) == (P, "gamma")
    assert directive["Metrics"] == [{"Name": "LeadTimeSeconds", "Unit": "Seconds"}]
    assert lead["LeadTimeSeconds"] == [(batch[-1].at - received.at).total_seconds()]
