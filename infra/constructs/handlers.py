"""The Lambda functions of the controller: one per step kind, thin entry points over one asset."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from domain.conventions import BUILD_PROJECT_PREFIX, DEPLOY_ROLE_PREFIX, SPECS_PATH
from infra.bundling import LAMBDA_PYTHON, build_asset, powertools_version
from infra.constructs.event_log import EventLogTable
from infra.constructs.nag import account, acknowledge, partition


@dataclass(frozen=True)
class HandlerDef:
    name: str
    entry: str  # module.function inside functions/
    placeholder: str | None  # the ${...} it fills in the state machine definition
    timeout_seconds: int
    callbacks: bool  # sends task success/failure to waiting executions
    assumes_deploy_roles: bool
    reads_reviews: bool = False  # runs the review gate: reads CodeCommit's review record
    starts_builds: bool = False  # starts the pipelines' CodeBuild projects
    appends: bool = True  # appends to the event log (False: reads it only)


HANDLERS = (
    HandlerDef(
        "build", "handlers.build.handler", "BuildFunctionArn", 30, True, False, starts_builds=True
    ),
    HandlerDef("lease", "handlers.lease.handler", "LeaseFunctionArn", 30, True, False),
    HandlerDef(
        "blockers",
        "handlers.blockers.handler",
        "BlockersFunctionArn",
        60,
        False,
        True,
        reads_reviews=True,
    ),
    HandlerDef("deploy", "handlers.deploy.handler", "DeployFunctionArn", 300, False, True),
    HandlerDef("bake", "handlers.bake.handler", "BakeFunctionArn", 120, False, True),
    HandlerDef(
        "transition", "handlers.transition.handler", "TransitionFunctionArn", 30, True, False
    ),
    HandlerDef("alarm", "handlers.alarm.handler", None, 60, True, True),
    HandlerDef("intake", "handlers.intake.handler", None, 30, False, False),
    HandlerDef("executions", "handlers.executions.handler", None, 60, True, False),
    # the event table's stream: every recorded transition to EventBridge
    HandlerDef("notify", "handlers.notify.handler", None, 60, False, False, appends=False),
    # people's acts (pause, resume, abort) behind a Function URL with AWS_IAM auth; an abort
    # rolls back through the deploy roles
    HandlerDef("operator", "handlers.operator.handler", None, 300, False, True),
)


#: what the review gate reads of CodeCommit (read only): a commit, the closed pull requests
#: of its repository, their approvals and the evaluation of their approval rules
CODECOMMIT_REVIEW_ACTIONS = (
    "codecommit:GetCommit",
    "codecommit:ListPullRequests",
    "codecommit:GetPullRequest",
    "codecommit:GetPullRequestApprovalStates",
    "codecommit:EvaluatePullRequestApprovalRules",
)


def powertools_layer_parameter(version: str) -> str:
    """The public SSM parameter Powertools publishes in every region for each release: its
    value is the ARN of the layer built from exactly that library version, so the layer the
    functions run with is the library the handlers were tested with (pyproject.toml's pin).
    Documented on the Powertools "Lambda Layers" page (SSM Parameter Store)."""
    runtime = "python" + LAMBDA_PYTHON
    return f"/aws/service/powertools/python/x86_64/{runtime}/{version}"


def function_name(name: str) -> str:
    """Fixed names: the pipeline stacks name the handlers without cross-stack references."""
    return f"shipwave-{name}"


def function_arn(stack: Stack, name: str) -> str:
    return (
        f"arn:{stack.partition}:lambda:{stack.region}:{stack.account}:function:"
        f"{function_name(name)}"
    )


def handler_role_name(name: str, home_region: str) -> str:
    """Fixed names, so each region's deploy role can trust exactly these roles."""
    return f"shipwave-{name}-handler-{home_region}"


def deploy_role_trust(stack: Stack, home_region: str) -> iam.IPrincipal:
    """Who may assume a shipwave deploy role (the platform's or a team's): the handler roles
    that deploy and watch, by their fixed names, and nobody else of the account."""
    return iam.AccountPrincipal(stack.account).with_conditions(
        {
            "ArnLike": {
                "aws:PrincipalArn": [
                    f"arn:{stack.partition}:iam::{stack.account}:role/"
                    + handler_role_name(handler.name, home_region)
                    for handler in HANDLERS
                    if handler.assumes_deploy_roles
                ]
            }
        }
    )


class Handlers(Construct):
    """Every handler function, its own role (least privilege), log group and X-Ray tracing."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        event_log: EventLogTable,
        home_region: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        code = lambda_.Code.from_asset(str(build_asset()))
        layer = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "Powertools",
            ssm.StringParameter.value_for_string_parameter(
                self, powertools_layer_parameter(powertools_version())
            ),
        )
        self.functions: dict[str, lambda_.Function] = {}
        self.by_placeholder: dict[str, lambda_.Function] = {}
        for handler in HANDLERS:
            log_group = logs.LogGroup(
                self,
                f"{handler.name}-logs",
                retention=logs.RetentionDays.ONE_YEAR,
                removal_policy=RemovalPolicy.RETAIN,
            )
            role = iam.Role(
                self,
                f"{handler.name}-role",
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                role_name=handler_role_name(handler.name, home_region),
                description=f"shipwave {handler.name} handler",
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn],
                )
            )
            function = lambda_.Function(
                self,
                handler.name,
                function_name=function_name(handler.name),
                runtime=lambda_.Runtime.PYTHON_3_13,
                architecture=lambda_.Architecture.X86_64,
                code=code,
                handler=handler.entry,
                role=role,
                log_group=log_group,
                layers=[layer],
                memory_size=512,
                timeout=Duration.seconds(handler.timeout_seconds),
                tracing=lambda_.Tracing.ACTIVE,
                environment={
                    "EVENT_LOG_TABLE": event_log.table.table_name,
                    "HOME_REGION": home_region,
                    "POWERTOOLS_SERVICE_NAME": f"shipwave-{handler.name}",
                    "POWERTOOLS_METRICS_NAMESPACE": "Shipwave",
                    "POWERTOOLS_LOG_LEVEL": "INFO",
                    # each pipeline stack puts its spec under this folder
                    "SHIPWAVE_SPECS_PATH": SPECS_PATH,
                },
                description=f"shipwave {handler.name} step",
            )
            if handler.appends:
                event_log.grant_append_and_read(function)
            else:
                event_log.grant_read(function)
            # "GetParametersByPath ... authorizes against the path in the request rather than
            # against the parameters it returns" (Systems Manager User Guide, "How Parameter
            # Store authorizes parameter retrieval"): the folder itself, read one level deep
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["ssm:GetParametersByPath"],
                    resources=[
                        f"arn:{stack.partition}:ssm:{stack.region}:{stack.account}:parameter"
                        + SPECS_PATH
                    ],
                )
            )
            if handler.callbacks:
                function.add_to_role_policy(
                    iam.PolicyStatement(
                        actions=[
                            "states:SendTaskSuccess",
                            "states:SendTaskFailure",
                            "states:SendTaskHeartbeat",
                        ],
                        # Step Functions' task-token calls support no resource-level scoping.
                        resources=["*"],
                    )
                )
            if handler.reads_reviews:
                function.add_to_role_policy(
                    iam.PolicyStatement(
                        actions=list(CODECOMMIT_REVIEW_ACTIONS),
                        resources=[
                            f"arn:{stack.partition}:codecommit:{stack.region}:{stack.account}:*"
                        ],
                    )
                )
            if handler.starts_builds:
                codebuild = f"arn:{stack.partition}:codebuild:{stack.region}:{stack.account}"
                function.add_to_role_policy(
                    iam.PolicyStatement(
                        actions=["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
                        resources=[f"{codebuild}:project/{BUILD_PROJECT_PREFIX}*"],
                    )
                )
                # a test run's failed tests, from its project's report group
                function.add_to_role_policy(
                    iam.PolicyStatement(
                        actions=["codebuild:DescribeTestCases"],
                        resources=[f"{codebuild}:report-group/{BUILD_PROJECT_PREFIX}*"],
                    )
                )
            if handler.assumes_deploy_roles:
                function.add_to_role_policy(
                    iam.PolicyStatement(
                        actions=["sts:AssumeRole"],
                        resources=[
                            f"arn:{stack.partition}:iam::{stack.account}:role/{DEPLOY_ROLE_PREFIX}*"
                        ],
                    )
                )
            self.functions[handler.name] = function
            if handler.placeholder:
                self.by_placeholder[handler.placeholder] = function
        acknowledge(
            self,
            f"AwsSolutions-IAM5[Resource::arn:{partition(stack)}:codecommit:{stack.region}:"
            f"{account(stack)}:*]",
            "The review gate reads (only) the review record of any CodeCommit repository of "
            "the home region: the teams' repositories are named by their pipeline stacks.",
        )
        acknowledge(
            self,
            f"AwsSolutions-IAM5[Resource::arn:{partition(stack)}:codebuild:{stack.region}:"
            f"{account(stack)}:project/{BUILD_PROJECT_PREFIX}*]",
            "The build step starts the build project of any pipeline (each named "
            f"{BUILD_PROJECT_PREFIX}<pipeline id> by its team's pipeline stack), and no other.",
        )
        acknowledge(
            self,
            f"AwsSolutions-IAM5[Resource::arn:{partition(stack)}:codebuild:{stack.region}:"
            f"{account(stack)}:report-group/{BUILD_PROJECT_PREFIX}*]",
            "The build handler reads the failed test cases of any pipeline's integration test "
            "reports (their report groups are named after the pipelines' test projects).",
        )
        acknowledge(
            self,
            "AwsSolutions-L1",
            "python3.13 is the newest runtime the Powertools public layer is published for.",
        )
        acknowledge(
            self,
            "AwsSolutions-IAM5[Resource::*]",
            "Only actions without resource-level permissions use '*': X-Ray trace writes and "
            "Step Functions task-token callbacks (SendTaskSuccess/Failure/Heartbeat).",
        )
        acknowledge(
            self,
            f"AwsSolutions-IAM5[Resource::arn:{partition(stack)}:iam::{account(stack)}:role/"
            "shipwave-deploy-*]",
            "The controller assumes the shipwave deploy roles of each target region: the "
            "platform's shipwave-deploy-<region> (region stacks) and each team's "
            "shipwave-deploy-<team>-<region> (team stacks).",
        )
