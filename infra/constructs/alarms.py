"""A region's alarms for the services deployed there (composite alarms live with their children).

Per microservice: the high-severity metric alarms and anomaly detection alarms under one
composite; the one-box alarms under a one-box composite that also fires with the team's
aggregate. Per team: the aggregate composite over its services' high-severity composites and
canaries.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from domain.spec import AnomalyAlarm, MetricAlarm, PipelineSpec

_COMPARISONS = {
    "GreaterThanThreshold": cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
    "GreaterThanOrEqualToThreshold": cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    "LessThanThreshold": cw.ComparisonOperator.LESS_THAN_THRESHOLD,
    "LessThanOrEqualToThreshold": cw.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
    "LessThanLowerOrGreaterThanUpperThreshold": (
        cw.ComparisonOperator.LESS_THAN_LOWER_OR_GREATER_THAN_UPPER_THRESHOLD
    ),
    "GreaterThanUpperThreshold": cw.ComparisonOperator.GREATER_THAN_UPPER_THRESHOLD,
    "LessThanLowerThreshold": cw.ComparisonOperator.LESS_THAN_LOWER_THRESHOLD,
}


def _metric(alarm: MetricAlarm | AnomalyAlarm) -> cw.Metric:
    return cw.Metric(
        namespace=alarm.namespace,
        metric_name=alarm.metric,
        statistic=alarm.statistic,
        period=Duration.seconds(alarm.period_seconds),
        dimensions_map=dict(alarm.dimensions),
    )


class RegionAlarms(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, specs: Iterable[PipelineSpec]
    ) -> None:
        super().__init__(scope, construct_id)
        self.names: list[str] = []
        services: dict[str, PipelineSpec] = {}
        for spec in specs:
            services.setdefault(spec.service, spec)
        team_children: dict[str, list[cw.IAlarm]] = {}
        one_box_children: dict[str, tuple[str, list[cw.IAlarm]]] = {}
        for service, spec in services.items():
            scope_ = Construct(self, service)
            high = [self._metric_alarm(scope_, a) for a in spec.alarms.high_severity]
            high += [self._anomaly_alarm(scope_, a) for a in spec.alarms.anomaly]
            composite = cw.CompositeAlarm(
                scope_,
                "HighSeverity",
                composite_alarm_name=spec.alarm_names.high_severity_composite,
                alarm_rule=cw.AlarmRule.any_of(*high),
                alarm_description=f"{service}: any high-severity or anomaly alarm",
            )
            self.names.append(spec.alarm_names.high_severity_composite)
            canaries = [self._metric_alarm(scope_, a) for a in spec.alarms.canaries]
            team_children.setdefault(spec.team, []).extend([composite, *canaries])
            one_box: list[cw.IAlarm] = [self._metric_alarm(scope_, a) for a in spec.alarms.one_box]
            one_box_children[service] = (spec.team, one_box)
        aggregates: dict[str, cw.CompositeAlarm] = {}
        for team, children in team_children.items():
            aggregates[team] = cw.CompositeAlarm(
                self,
                f"{team}-aggregate",
                composite_alarm_name=f"{team}-aggregate",
                alarm_rule=cw.AlarmRule.any_of(*children),
                alarm_description=f"team {team}: any service's high-severity alarm or canary",
            )
            self.names.append(f"{team}-aggregate")
        for service, (team, alarms) in one_box_children.items():
            spec = services[service]
            cw.CompositeAlarm(
                self,
                f"{service}-one-box",
                composite_alarm_name=spec.alarm_names.one_box_composite,
                alarm_rule=cw.AlarmRule.any_of(aggregates[team], *alarms),
                alarm_description=f"{service} one-box: the team aggregate or one-box metrics",
            )
            self.names.append(spec.alarm_names.one_box_composite)

    def _metric_alarm(self, scope: Construct, alarm: MetricAlarm) -> cw.Alarm:
        self.names.append(alarm.name)
        return cw.Alarm(
            scope,
            alarm.name,
            alarm_name=alarm.name,
            metric=_metric(alarm),
            threshold=alarm.threshold,
            comparison_operator=_COMPARISONS[alarm.comparison],
            evaluation_periods=alarm.evaluation_periods,
            datapoints_to_alarm=alarm.datapoints_to_alarm,
            # no data is INSUFFICIENT_DATA, which the controller never takes for healthy
            treat_missing_data=cw.TreatMissingData.MISSING,
        )

    def _anomaly_alarm(self, scope: Construct, alarm: AnomalyAlarm) -> cw.AnomalyDetectionAlarm:
        self.names.append(alarm.name)
        return cw.AnomalyDetectionAlarm(
            scope,
            alarm.name,
            alarm_name=alarm.name,
            metric=_metric(alarm),
            std_devs=alarm.band_width,
            comparison_operator=_COMPARISONS[alarm.comparison],
            evaluation_periods=alarm.evaluation_periods,
            # request count falling to zero is itself the signal, so missing data breaches;
            # elsewhere no data is INSUFFICIENT_DATA, never taken for healthy
            treat_missing_data=(
                cw.TreatMissingData.BREACHING
                if alarm.comparison == "LessThanLowerThreshold"
                else cw.TreatMissingData.MISSING
            ),
        )
