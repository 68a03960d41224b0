"""A pipeline's build: the CodeBuild project its `Build` step starts on the change's commit.

The buildspec is the spec's `Build`: INSTALL, BUILD, then POST_BUILD (the unit tests, in a new
network namespace: no network). A phase that fails aborts the build. What the commands leave
in the output folder is packed once as a zip named after the version, stored in the home
region's artifact bucket (versioned, kept) under `<pipeline id>/<build id>/`, and CodeBuild's
"Build State Change" event carries its location and sha256 to the controller.
"""

from __future__ import annotations

import shlex
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from domain.artifacts import artifact_bucket
from domain.conventions import build_project_name
from domain.spec import Build, PipelineSpec
from infra.constructs.codebuild_roles import project_role
from infra.constructs.nag import acknowledge, nag_text, partition
from infra.constructs.test_project import TestProject

#: runs the unit tests without any network (needs the project's privileged mode)
NO_NETWORK = "unshare --net --map-root-user"


def buildspec(build: Build) -> dict[str, Any]:
    """CodeBuild's buildspec (version 0.2) for the spec's build commands."""
    phases: dict[str, Any] = {}
    for phase, commands in build.phases():
        if not commands:
            continue
        run = list(commands)
        if phase == "POST_BUILD":
            script = "\n".join(("set -e", *commands))
            run = [f"{NO_NETWORK} bash -c {shlex.quote(script)}"]
        phases[phase.lower()] = {"on-failure": "ABORT", "commands": run}
    if not phases:
        phases["build"] = {"commands": ["echo 'no build commands: the files are the artifact'"]}
    return {
        "version": "0.2",
        "env": {"shell": "bash"},
        "phases": phases,
        "artifacts": {
            "base-directory": build.output,
            "files": ["**/*"],
            "name": f"{build.version}.zip",
        },
    }


class BuildProject(Construct):
    """The pipeline's build project, and its integration test project when it has tests."""

    @staticmethod
    def _source(spec: PipelineSpec, repository: codecommit.IRepository | None) -> codebuild.ISource:
        if repository is not None:
            return codebuild.Source.code_commit(repository=repository)
        owner, name = spec.repository.split("/", 1)
        return codebuild.Source.git_hub(owner=owner, repo=name, report_build_status=True)

    def __init__(self, scope: Construct, construct_id: str, *, spec: PipelineSpec) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        name = spec.repository.rsplit("/", 1)[-1]
        repository = (
            codecommit.Repository.from_repository_name(self, "Repository", name)
            if spec.source == "codecommit"
            else None
        )
        source = self._source(spec, repository)
        bucket_name = artifact_bucket(stack.account, stack.region)
        bucket = s3.Bucket.from_bucket_name(self, "Artifacts", bucket_name)
        project_name = build_project_name(spec.pipeline_id)
        # Its own role, granted here and nowhere else: CDK's grants would let the build
        # delete or overwrite any artifact of the bucket; this one only adds new objects under
        # its pipeline's folder (artifacts are immutable: rollbacks return to them).
        repository_arn = (
            f"arn:{stack.partition}:codecommit:{stack.region}:{stack.account}:{name}"
            if spec.source == "codecommit"
            else None
        )
        role = project_role(
            self,
            project=project_name,
            description=f"shipwave build of {spec.pipeline_id}",
            repository_arn=repository_arn,
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[f"arn:{stack.partition}:s3:::{bucket_name}/{spec.pipeline_id}/*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetBucketAcl", "s3:GetBucketLocation"],
                resources=[f"arn:{stack.partition}:s3:::{bucket_name}"],
            )
        )
        self.role = role
        self.project = codebuild.Project(
            self,
            "Project",
            project_name=project_name,
            role=role.without_policy_updates(),
            description=f"shipwave build of {spec.pipeline_id} ({spec.repository})",
            source=source,
            build_spec=codebuild.BuildSpec.from_object_to_yaml(buildspec(spec.build)),
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.from_code_build_image_id(spec.build.image),
                compute_type=codebuild.ComputeType.SMALL,
                privileged=True,  # unshare --net for the unit tests
            ),
            artifacts=codebuild.Artifacts.s3(
                bucket=bucket,
                path=spec.pipeline_id,
                name="artifact.zip",  # replaced by the buildspec's name (the version)
                include_build_id=True,
                package_zip=True,
                encryption=False,  # the bucket's own encryption (SSE-S3) applies
            ),
            timeout=Duration.minutes(spec.build.timeout_minutes),
        )
        nag_bucket = nag_text(stack, bucket_name)
        cfn = self.project.node.default_child
        assert isinstance(cfn, codebuild.CfnProject)
        cfn.add_property_override("Artifacts.OverrideArtifactName", True)
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::arn:{partition(stack)}:s3:::{nag_bucket}/"
            f"{spec.pipeline_id}/*]",
            "The build adds its artifact under its pipeline's folder; each build's key (its "
            "build id and version) is known only once it runs.",
        )
        self.tests = (
            TestProject(
                self,
                "Tests",
                spec=spec,
                source=self._source(spec, repository),
                repository_arn=repository_arn,
            )
            if spec.integration_tests.command
            else None
        )
        acknowledge(
            self.project,
            "AwsSolutions-CB3",
            "Privileged mode lets the build run the team's unit tests in a new network "
            "namespace (unshare --net): with no network, as SPEC practice 3 asks.",
        )
        acknowledge(
            self.project,
            "AwsSolutions-CB4",
            "The artifacts go to the shipwave artifact bucket, encrypted with its S3-managed "
            "key (SSE-S3), which the deploy roles of every region read without a KMS grant.",
        )
