"""Which alarm changes reach the controller: one pattern for the home rule and every
region's forwarder, which knows no service (teams add services without changing it)."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_events as events

from domain.spec import ACTED_ON_SUFFIXES

#: the alarm each region stack raises when its forwarder's dead-letter queue holds events
FORWARDING_DEAD_LETTERS_ALARM = "shipwave-forwarding-dead-letters"


def acted_on_alarms(company_alarms: tuple[str, ...], *also: str) -> events.EventPattern:
    """ALARM changes of every alarm shipwave acts on: the composites and team aggregates by
    their conventional name endings (an unknown alarm with such a name is ignored by the
    alarm handler), the company-wide blockers (the catalogue's) by name."""
    names: list[Any] = [{"suffix": suffix} for suffix in ACTED_ON_SUFFIXES]
    return events.EventPattern(
        source=["aws.cloudwatch"],
        detail_type=["CloudWatch Alarm State Change"],
        detail={
            "alarmName": [*names, *sorted({*company_alarms, *also})],
            "state": {"value": ["ALARM"]},
        },
    )
