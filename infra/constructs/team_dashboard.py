"""A team's CloudWatch dashboard (home region): what the handlers measure of its pipelines.

The handlers emit `domain.measures` as embedded metric format in the `Shipwave` namespace,
one document per measure with its own dimensions; each graph here is a SEARCH over those
dimensions for one pipeline, so a new stage, alarm or blocker shows without a redeploy.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from domain.measures import NAMESPACE
from domain.spec import PipelineSpec

#: (title, metric, dimensions besides Pipeline, statistic)
GRAPHS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("Deployments started, by stage", "DeploymentsStarted", ("Stage",), "Sum"),
    ("Deployments completed, by stage", "DeploymentsCompleted", ("Stage",), "Sum"),
    ("Changes completed everywhere", "ChangesCompleted", (), "Sum"),
    ("Rollbacks, by stage and alarm", "Rollbacks", ("Stage", "Alarm"), "Sum"),
    ("Minutes blocked, by blocker", "BlockedMinutes", ("Blocker",), "Sum"),
    ("Bake extensions, by stage", "BakeExtensions", ("Stage",), "Sum"),
    ("Lead time to each stage (seconds, p50)", "LeadTimeSeconds", ("Stage",), "p50"),
)


def search(pipeline_id: str, metric: str, dimensions: tuple[str, ...], statistic: str) -> str:
    schema = ",".join((NAMESPACE, "Pipeline", *dimensions))
    return (
        f'SEARCH(\'{{{schema}}} MetricName="{metric}" Pipeline="{pipeline_id}"\', '
        f"'{statistic}', 3600)"
    )


def dashboard_name(team: str) -> str:
    return f"shipwave-{team}"


class TeamDashboard(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, team: str, specs: tuple[PipelineSpec, ...]
    ) -> None:
        super().__init__(scope, construct_id)
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=dashboard_name(team),
            default_interval=Duration.days(14),
        )
        for spec in sorted(specs, key=lambda s: s.pipeline_id):
            self.dashboard.add_widgets(
                cloudwatch.TextWidget(
                    markdown=f"## {spec.pipeline_id}\n"
                    f"Stages: {', '.join(s.name for s in spec.stages)}. Figures from "
                    "shipwave's handlers (namespace Shipwave); DORA's four keys: "
                    f"`shipwave metrics {spec.pipeline_id}`.",
                    width=24,
                    height=2,
                )
            )
            self.dashboard.add_widgets(
                *(
                    cloudwatch.GraphWidget(
                        title=title,
                        width=6,
                        height=6,
                        left=[
                            cloudwatch.MathExpression(
                                expression=search(spec.pipeline_id, metric, dims, statistic),
                                label="",
                                period=Duration.hours(1),
                            )
                        ],
                    )
                    for title, metric, dims, statistic in GRAPHS
                )
            )
