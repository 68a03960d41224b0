"""A team's canaries in one region: per service that declares one (`Canary`), a CloudWatch
Synthetics canary named `<service>-canary` calling the region's endpoint on a schedule. The
standard alarm set's `<service>-canary` watches its SuccessPercent and feeds the team
aggregate (infra/constructs/alarms.py), so a failing canary blocks the team's deployments and
rolls back the one in flight.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_synthetics as synthetics
from constructs import Construct

from domain.spec import PipelineSpec
from infra.constructs.nag import account, acknowledge, partition

#: the canary's script: one request, the expected status, nothing else (Python 3.11 runtime)
SCRIPT = """\
import os
import urllib.error
import urllib.request


def handler(event, context):
    body = os.environ.get("CANARY_BODY", "").encode() or None
    request = urllib.request.Request(
        os.environ["CANARY_URL"],
        data=body,
        method=os.environ["CANARY_METHOD"],
        headers={"Content-Type": "application/json", "User-Agent": "shipwave-canary"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status = answer.status
    except urllib.error.HTTPError as error:
        status = error.code
    expected = int(os.environ["CANARY_EXPECT_STATUS"])
    if status != expected:
        raise RuntimeError(f"{request.full_url} answered {status}, expected {expected}")
    return "ok"
"""

RUNTIME = synthetics.Runtime.SYNTHETICS_PYTHON_SELENIUM_7_0


def canary_name(spec: PipelineSpec) -> str:
    """The name the standard canary alarm's CanaryName dimension names."""
    return f"{spec.service}-canary"


class Canaries(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, specs: tuple[PipelineSpec, ...]
    ) -> None:
        super().__init__(scope, construct_id)
        region = Stack.of(self).region
        declared = [
            spec
            for spec in specs
            if spec.canary.url
            and any(region in stage.regions for stage in spec.stages if stage.production)
        ]
        self.canaries: dict[str, synthetics.Canary] = {}
        if not declared:
            return
        bucket = s3.Bucket(
            self,
            "Artifacts",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(30))],
        )
        acknowledge(
            bucket,
            "AwsSolutions-S1",
            "The canaries' screenshots and logs of failed runs, kept 30 days; written only by "
            "the canaries' own role.",
        )
        # one canary per service, whatever pipelines (application, configuration) it has
        by_service: dict[str, PipelineSpec] = {}
        for spec in sorted(declared, key=lambda s: (s.service, s.kind != "application")):
            by_service.setdefault(spec.service, spec)
        for spec in by_service.values():
            canary = spec.canary
            self.canaries[spec.service] = synthetics.Canary(
                self,
                spec.service,
                canary_name=canary_name(spec),
                runtime=RUNTIME,
                test=synthetics.Test.custom(
                    code=synthetics.Code.from_inline(SCRIPT), handler="index.handler"
                ),
                schedule=synthetics.Schedule.rate(Duration.minutes(canary.every_minutes)),
                environment_variables={
                    "CANARY_URL": canary.url.replace("{region}", region),
                    "CANARY_METHOD": canary.method,
                    "CANARY_BODY": canary.body,
                    "CANARY_EXPECT_STATUS": str(canary.expect_status),
                },
                artifacts_bucket_location=synthetics.ArtifactsBucketLocation(
                    bucket=bucket, prefix=spec.service
                ),
                start_after_creation=True,
            )
        stack = Stack.of(self)
        artifacts = stack.resolve(stack.get_logical_id(bucket.node.default_child))  # type: ignore[arg-type]
        for service in by_service:
            for resource, why in (
                (
                    "*",
                    "Synthetics' own grants without resource-level scoping: s3:ListAllMyBuckets "
                    "and cloudwatch:PutMetricData (conditioned on the CloudWatchSynthetics "
                    "namespace)",
                ),
                (
                    f"<{artifacts}.Arn>/{service}/*",
                    "each run's artifacts under the service's prefix of the canaries' bucket",
                ),
                (
                    f"arn:{partition(stack)}:logs:{stack.region}:{account(stack)}:log-group:"
                    "/aws/lambda/cwsyn-*",
                    "the log groups Synthetics creates for the canary's function, named at "
                    "creation (cwsyn-<name>-<id>)",
                ),
            ):
                acknowledge(
                    self.canaries[service],
                    f"AwsSolutions-IAM5[Resource::{resource}]",
                    f"The canary's role, as CDK's Synthetics construct makes it: {why}.",
                )
