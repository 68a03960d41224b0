"""CloudWatch alarms and metrics, as the pipeline reads them, per environment and region."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from domain.alarm_health import AlarmStateValue, AlarmStatus
from domain.errors import AlarmReadError
from domain.ports import AlarmReader
from domain.spec import Datapoints

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.client import CloudWatchClient

ClientFactory = Callable[[str, str], "CloudWatchClient"]  # (environment, region) → client


#: DescribeAlarms takes at most 100 names a call
_NAMES_PER_CALL = 100
_STATES: dict[str, AlarmStateValue] = {
    "OK": "OK",
    "ALARM": "ALARM",
    "INSUFFICIENT_DATA": "INSUFFICIENT_DATA",
}


class CloudWatchAlarmReader(AlarmReader):
    """Reads alarm states, alarm history and datapoint counts; raises AlarmReadError."""

    def __init__(self, clients: ClientFactory) -> None:
        self._clients = clients

    def states(self, environment: str, region: str, names: Sequence[str]) -> dict[str, AlarmStatus]:
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return {}
        client = self._clients(environment, region)
        found: dict[str, AlarmStatus] = {}
        try:
            for start in range(0, len(wanted), _NAMES_PER_CALL):
                for page in client.get_paginator("describe_alarms").paginate(
                    AlarmNames=wanted[start : start + _NAMES_PER_CALL],
                    AlarmTypes=["CompositeAlarm", "MetricAlarm"],
                ):
                    for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                        name = str(alarm.get("AlarmName"))
                        state = _STATES.get(str(alarm.get("StateValue")))
                        if state is None:
                            raise AlarmReadError(
                                f"{environment} {region}: alarm {name} has an unknown state "
                                f"{alarm.get('StateValue')!r}"
                            )
                        found[name] = AlarmStatus(
                            name=name,
                            state=state,
                            actions_enabled=bool(alarm.get("ActionsEnabled", False)),
                            updated_at=alarm.get("StateUpdatedTimestamp"),
                        )
        except (ClientError, BotoCoreError) as error:
            raise AlarmReadError(
                f"{environment} {region}: describe alarms failed ({error})"
            ) from None
        return {name: found[name] for name in wanted if name in found}

    def breached(
        self, environment: str, region: str, names: Sequence[str], start: datetime, end: datetime
    ) -> tuple[str, ...]:
        client = self._clients(environment, region)
        breached: list[str] = []
        for name in names:
            try:
                items: list[Any] = []
                for page in client.get_paginator("describe_alarm_history").paginate(
                    AlarmName=name,
                    HistoryItemType="StateUpdate",
                    StartDate=start - timedelta(days=14),
                    EndDate=end,
                ):
                    items.extend(page.get("AlarmHistoryItems", []))
            except (ClientError, BotoCoreError) as error:
                raise AlarmReadError(
                    f"{environment} {region}: alarm history of {name} failed ({error})"
                ) from None
            if _was_in_alarm(items, start, end):
                breached.append(name)
        return tuple(breached)

    def datapoints(
        self,
        environment: str,
        region: str,
        datapoints: Datapoints,
        scope: str,
        start: datetime,
        end: datetime,
    ) -> int:
        client = self._clients(environment, region)
        query = {
            "Id": "datapoints",
            "MetricStat": {
                "Metric": {
                    "Namespace": datapoints.namespace,
                    "MetricName": datapoints.metric,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in datapoints.dimensions],
                },
                "Period": 60,
                "Stat": "Sum",
            },
        }
        total = 0.0
        try:
            for page in client.get_paginator("get_metric_data").paginate(
                MetricDataQueries=[query],  # type: ignore[list-item]
                StartTime=start,
                EndTime=end,
            ):
                for result in page.get("MetricDataResults", []):
                    total += sum(result.get("Values", []))
        except (ClientError, BotoCoreError) as error:
            raise AlarmReadError(f"{environment} {region}: metric data failed ({error})") from None
        return int(total)


def _was_in_alarm(items: list[Any], start: datetime, end: datetime) -> bool:
    """From StateUpdate history items: in ALARM at `start`, or turned ALARM before `end`."""
    updates = []
    for item in items:
        try:
            data = json.loads(item.get("HistoryData", "{}"))
            state = data["newState"]["stateValue"]
        except (ValueError, KeyError, TypeError):
            continue
        updates.append((item["Timestamp"], state))
    updates.sort()
    at_start = "OK"
    for when, state in updates:
        if when <= start:
            at_start = state
    return at_start == "ALARM" or any(start <= when <= end and s == "ALARM" for when, s in updates)
