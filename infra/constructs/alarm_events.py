"""Which alarm changes reach the controller: one pattern for the home rule and every
region's forwarder, whose size does not grow with the number of services."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_events as events

from domain.spec import ACTED_ON_SUFFIXES, PipelineSpec

#: the alarm each region stack raises when its forwarder's dead-letter queue holds events
FORWARDING_DEAD_LETTERS_ALARM = "shipwave-forwarding-dead-letters"


def acted_on_alarms(specs: tuple[PipelineSpec, ...], *also: str) -> events.EventPattern:
    """ALARM changes of every alarm shipwave acts on: the composites and team aggregates by
    their conventional name endings (an unknown alarm with such a name is ignored by the
    alarm handler), the company-wide blockers by name."""
    blockers = sorted({name for spec in specs for name in spec.alarm_names.blockers} | set(also))
    names: list[Any] = [{"suffix": suffix} for suffix in ACTED_ON_SUFFIXES]
    return events.EventPattern(
        source=["aws.cloudwatch"],
        detail_type=["CloudWatch Alarm State Change"],
        detail={"alarmName": [*names, *blockers], "state": {"value": ["ALARM"]}},
    )
