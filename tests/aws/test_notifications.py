"""Every recorded transition to EventBridge: the notify function, run from its asset and
layers as Lambda would, fed the real records of moto's stream of the event table (checked
against the published sample first, tests/fixtures/aws/README.md), its calls held to its
role's policies, and what it put on the default bus read back through an ordinary rule."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from adapters.dynamodb import DynamoDBEventStore
from domain.events import AlarmFired, Event, RollbackCompleted
from domain.notifications import DETAIL_TYPES, notify
from examples.reference import CreateOrderApp, OrderHistoryApp
from tests.aws.cfn import World
from tests.aws.conftest import ACCOUNT, HOME, client, fixture, of_type, template
from tests.aws.test_events import handled
from tests.builders import T0, artifact, change_received, rollout

PIPELINE = OrderHistoryApp.pipeline_id()
TABLE = "shipwave-events"


def history() -> list[Event]:
    """A change through gamma, an alarm and a rollback in gamma, one in the first wave."""
    events: list[Event] = [change_received(PIPELINE, 1, "c1")]
    events += rollout(PIPELINE, 2, "c1", "gamma", "us-east-1")
    n = events[-1].sequence
    for offset, stage in ((1, "gamma"), (3, "wave1")):
        common = {
            "pipeline_id": PIPELINE,
            "at": T0 + timedelta(hours=offset),
            "stage": stage,
            "scope": "us-east-1",
            "change_id": "c1",
        }
        events.append(
            AlarmFired(
                **common,
                sequence=n + offset,
                idempotency_key=f"alarm-{stage}",
                alarm_name="order-history-high-severity",
                region="us-east-1",
                reason="FaultRate 0.05 vs threshold 0.01",
            )
        )
        events.append(
            RollbackCompleted(
                **common,
                sequence=n + offset + 1,
                idempotency_key=f"rolled-back-{stage}",
                artifact=artifact("c0"),
            )
        )
    return events


def stream_records(endpoint: str) -> list[dict[str, Any]]:
    """Every record of the event table's stream, as Lambda hands them over: GetRecords'
    records, each with the stream's ARN (`eventSourceARN`)."""
    arn = client("dynamodb", endpoint).describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    streams = client("dynamodbstreams", endpoint)
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records += streams.get_records(ShardIterator=iterator)["Records"]
    # the SDK decodes the record's timestamp; Lambda's JSON carries epoch seconds
    for record in records:
        record["eventSourceARN"] = arn
        created = record["dynamodb"].get("ApproximateCreationDateTime")
        if created is not None and not isinstance(created, int | float):
            record["dynamodb"]["ApproximateCreationDateTime"] = created.timestamp()
    return records


def ours(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["dynamodb"]["Keys"]["pk"]["S"].startswith(PIPELINE)]


@pytest.fixture(scope="module")
def bus_queue(world: World, moto_endpoint: str) -> str:
    """An ordinary rule on the default bus, `source: shipwave` of this pipeline, to a queue."""
    sqs = client("sqs", moto_endpoint)
    url = sqs.create_queue(QueueName="shipwave-notifications-seen")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events = client("events", moto_endpoint)
    events.put_rule(
        Name="seen",
        EventPattern=json.dumps({"source": ["shipwave"], "detail": {"pipeline_id": [PIPELINE]}}),
    )
    events.put_targets(Rule="seen", Targets=[{"Id": "queue", "Arn": arn}])
    return str(url)


def received(endpoint: str, url: str) -> list[dict[str, Any]]:
    sqs = client("sqs", endpoint)
    found = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return found
        for message in batch:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_each_event_is_published_in_order_once_with_its_detail_type_and_severity(
    cloud_assembly: Path, world: World, moto_endpoint: str, bus_queue: str, tmp_path: Path
) -> None:
    store = DynamoDBEventStore(TABLE, region=HOME, endpoint_url=moto_endpoint)
    store._client = client("dynamodb", moto_endpoint)  # in the app's account, as the world is
    written = history()
    store.append(written[:1])
    store.append(written[1:])
    records = ours(stream_records(moto_endpoint))
    sample = fixture("dynamodb-stream-records.json")["Records"][0]
    for record in records:  # moto's records have the published record's fields and nesting
        assert set(sample) <= set(record)
        assert set(sample["dynamodb"]) - {"NewImage"} <= set(record["dynamodb"])
    inserted = [r for r in records if "type" in r["dynamodb"].get("NewImage", {})]
    assert len(inserted) == len(written)

    outcome = handled(
        cloud_assembly, world, moto_endpoint, tmp_path, "shipwave-notify", {"Records": records}
    )

    assert outcome["result"] == {"batchItemFailures": []}
    seen = received(moto_endpoint, bus_queue)
    assert [m["detail"]["sequence"] for m in seen] == [e.sequence for e in written]
    assert {m["source"] for m in seen} == {"shipwave"}
    by_type = [(m["detail-type"], m["detail"].get("stage"), m["detail"]["severity"]) for m in seen]
    assert ("Shipwave Change Received", None, "info") in by_type
    assert ("Shipwave Change Rolled Back", "gamma", "warning") in by_type
    assert ("Shipwave Change Rolled Back", "wave1", "critical") in by_type  # production
    assert ("Shipwave Alarm Fired", "wave1", "critical") in by_type
    assert all(m["detail"]["id"] == f"{PIPELINE}/{m['detail']['sequence']}" for m in seen)

    # a stream retries a batch: what was published is not published again
    again = handled(
        cloud_assembly, world, moto_endpoint, tmp_path, "shipwave-notify", {"Records": records}
    )
    assert again["result"] == {"batchItemFailures": []}
    assert "PutEvents" not in [call["operation"] for call in again["calls"]]
    assert received(moto_endpoint, bus_queue) == []


def test_a_removed_or_edited_event_stops_the_batch_there_and_is_never_published(
    cloud_assembly: Path, world: World, moto_endpoint: str, bus_queue: str, tmp_path: Path
) -> None:
    records = [
        r
        for r in ours(stream_records(moto_endpoint))
        if "type" in r["dynamodb"].get("NewImage", {})
    ]
    assert records, "the test before wrote this pipeline's events"
    received(moto_endpoint, bus_queue)
    # the published REMOVE record, with an event item's keys
    removed = fixture("dynamodb-stream-records.json")["Records"][1]
    removed["dynamodb"] = {
        "Keys": records[2]["dynamodb"]["Keys"],
        "SequenceNumber": "999000000000000000000001",
        "SizeBytes": 38,
        "StreamViewType": "NEW_IMAGE",
    }
    edited = json.loads(json.dumps(records[3]))
    edited["dynamodb"]["SequenceNumber"] = "999000000000000000000002"
    body = edited["dynamodb"]["NewImage"]["body"]
    body["S"] = body["S"].replace("us-east-1", "eu-west-1")
    batch = {"Records": [removed, edited]}

    outcome = handled(cloud_assembly, world, moto_endpoint, tmp_path, "shipwave-notify", batch)

    assert outcome["result"] == {
        "batchItemFailures": [
            {"itemIdentifier": "999000000000000000000001"},
            {"itemIdentifier": "999000000000000000000002"},
        ]
    }
    assert received(moto_endpoint, bus_queue) == []
    alone = handled(
        cloud_assembly, world, moto_endpoint, tmp_path, "shipwave-notify", {"Records": [edited]}
    )
    assert alone["result"] == {
        "batchItemFailures": [{"itemIdentifier": "999000000000000000000002"}]
    }
    # the function's log (Powertools' JSON lines on stdout) names why
    assert "does not hash to the hash stored with it" in alone["stdout"]
    assert "REMOVE of an event item" in outcome["stdout"]
    assert ACCOUNT in records[0]["eventSourceARN"]


def test_a_pipelines_notify_option_routes_its_severity_and_worse_to_the_teams_topic(
    cloud_assembly: Path, world: World, moto_endpoint: str
) -> None:
    """OrderHistoryApp sets `notify = Notify(severity="warning", emails=(...))`: its stack's
    rule (put on moto, matched by moto's EventBridge matcher) takes its warnings and critical
    notifications, not its info ones, nor another pipeline's."""
    body = template(cloud_assembly, f"shipwave-pipeline-{PIPELINE}")
    (rule,) = of_type(body, "AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    client("events", moto_endpoint).put_rule(Name="notify", EventPattern=json.dumps(pattern))
    matcher = EventPattern.load(json.dumps(pattern))
    (topic_id,) = of_type(body, "AWS::SNS::Topic")
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Ref": topic_id}
    topic = body["Resources"][topic_id]["Properties"]
    assert "KmsMasterKeyId" in topic
    (subscription,) = of_type(body, "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Endpoint"] == "orders-oncall@example.com"

    def delivered(event: Event, pipeline_production: tuple[str, ...] = ("wave1",)) -> bool:
        note = notify(event, production=pipeline_production)
        entry = {
            "version": "0",
            "id": "1",
            "detail-type": note.detail_type,
            "source": "shipwave",
            "account": ACCOUNT,
            "time": note.detail["at"],
            "region": HOME,
            "resources": [],
            "detail": note.detail,
        }
        return bool(matcher.matches_event(entry))

    events = history()
    received_change, *_ = events
    alarm_gamma, rollback_gamma, alarm_wave1, rollback_wave1 = events[-4:]
    assert not delivered(received_change)  # info
    assert delivered(rollback_gamma)  # warning
    assert delivered(alarm_wave1)  # critical
    assert not delivered(replace(rollback_wave1, pipeline_id=CreateOrderApp.pipeline_id()))
    assert "Shipwave Change Rolled Back" in DETAIL_TYPES
    assert alarm_gamma.stage == "gamma"
