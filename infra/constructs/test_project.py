"""A pipeline's integration tests: the CodeBuild project `<Stage> · Integration tests` starts
on the change's commit, against a stage's endpoint (`SHIPWAVE_ENDPOINT`, passed at start).

The tests write a JUnit XML report to `SHIPWAVE_TEST_REPORT`; CodeBuild keeps it as a test
report (its report group `<project>-integration-tests`), from which the build handler reads
the failed tests' names. The project makes no artifact and may write nothing but its log and
its reports.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from constructs import Construct

from domain.conventions import test_project_name
from domain.spec import PipelineSpec
from infra.constructs.codebuild_roles import project_role
from infra.constructs.nag import acknowledge

REPORT_FILE = "shipwave-test-report.xml"
#: the report group CodeBuild makes for a buildspec's report `<name>`: `<project>-<name>`
REPORT_NAME = "integration-tests"


def test_buildspec(command: str) -> dict[str, Any]:
    return {
        "version": "0.2",
        "env": {"shell": "bash", "variables": {"SHIPWAVE_TEST_REPORT": REPORT_FILE}},
        "phases": {"build": {"commands": [command]}},
        "reports": {REPORT_NAME: {"files": [REPORT_FILE], "file-format": "JUNITXML"}},
    }


class TestProject(Construct):
    __test__ = False  # not a pytest class

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: PipelineSpec,
        source: codebuild.ISource,
        repository_arn: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        tests = spec.integration_tests
        name = test_project_name(spec.pipeline_id)
        role = project_role(
            self,
            project=name,
            description=f"shipwave integration tests of {spec.pipeline_id}",
            repository_arn=repository_arn,
        )
        group = (
            f"arn:{stack.partition}:codebuild:{stack.region}:{stack.account}:report-group/"
            f"{name}-{REPORT_NAME}"
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "codebuild:CreateReportGroup",
                    "codebuild:CreateReport",
                    "codebuild:UpdateReport",
                    "codebuild:BatchPutTestCases",
                ],
                resources=[group],
            )
        )
        self.role = role
        self.project = codebuild.Project(
            self,
            "Project",
            project_name=name,
            role=role.without_policy_updates(),
            description=f"shipwave integration tests of {spec.pipeline_id} ({spec.repository})",
            source=source,
            build_spec=codebuild.BuildSpec.from_object_to_yaml(test_buildspec(tests.command)),
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.from_code_build_image_id(spec.build.image),
                compute_type=codebuild.ComputeType.SMALL,
            ),
            timeout=Duration.minutes(tests.timeout_minutes),
        )
        acknowledge(
            self.project,
            "AwsSolutions-CB4",
            "The project makes no artifact; its logs and test reports are CodeBuild's, "
            "encrypted at rest by the service.",
        )
