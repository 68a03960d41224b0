"""The CDK app, synthesized offline with cdk.json's context: resources, least privilege, nag,
cfn-lint, and the deployed ASL being exactly the generator's output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk.assertions import Match, Template
from moto.events.models import EventPattern

from domain.catalogue import REGIONS
from domain.spec import PipelineSpecError
from examples.reference import PIPELINES
from infra.bundling import powertools_version
from infra.config import load_specs
from statemachines.generator import PLACEHOLDERS, to_json

ROOT = Path(__file__).parents[2]
HOME = "us-east-1"
CFN_LINT = str(Path(sys.executable).parent / "cfn-lint")


@pytest.fixture(scope="module")
def assembly(cloud_assembly: Path) -> cdk.cx_api.CloudAssembly:
    """The session's synth (tests/conftest.py), read as a cloud assembly."""
    return cdk.cx_api.CloudAssembly(str(cloud_assembly))


def template(assembly: cdk.cx_api.CloudAssembly, name: str) -> dict[str, Any]:
    result: dict[str, Any] = assembly.get_stack_by_name(name).template
    return result


def resources(body: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in body["Resources"].items() if v["Type"] == kind}


def iam_text(body: dict[str, Any]) -> str:
    """Every role and policy of a template as one text, to look for a grant in."""
    return json.dumps(resources(body, "AWS::IAM::Role")) + json.dumps(
        resources(body, "AWS::IAM::Policy")
    )


# --- controller ----------------------------------------------------------------------------


def test_event_log_table_is_durable_and_encrypted(assembly: cdk.cx_api.CloudAssembly) -> None:
    Template.from_json(template(assembly, "shipwave-controller")).has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "DeletionProtectionEnabled": True,
                "SSESpecification": {"SSEEnabled": True},
                "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "GlobalSecondaryIndexes": [Match.object_like({"IndexName": "pipelines"})],
            },
            "DeletionPolicy": "Retain",
        },
    )


def test_handlers_are_traced_python_functions_with_the_powertools_layer(
    assembly: cdk.cx_api.CloudAssembly,
) -> None:
    body = template(assembly, "shipwave-controller")
    functions = resources(body, "AWS::Lambda::Function")
    handlers = sorted(f["Properties"]["Handler"] for f in functions.values())
    assert handlers == sorted(
        f"handlers.{n}.handler"
        for n in (
            "build",
            "lease",
            "blockers",
            "deploy",
            "bake",
            "transition",
            "alarm",
            "intake",
            "executions",
            "notify",
            "operator",
        )
    )
    for function in functions.values():
        properties = function["Properties"]
        assert properties["Runtime"] == "python3.13"
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert "EVENT_LOG_TABLE" in properties["Environment"]["Variables"]
        layer = json.dumps(properties["Layers"])
        assert "SsmParameterValueawsservicepowertoolspython" in layer
    parameters = [p["Default"] for p in body["Parameters"].values()]
    assert f"/aws/service/powertools/python/x86_64/python3.13/{powertools_version()}" in (
        parameters
    )


def test_no_handler_may_update_or_delete_events(assembly: cdk.cx_api.CloudAssembly) -> None:
    body = template(assembly, "shipwave-controller")
    statements = [
        statement
        for policy in resources(body, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(action.startswith("dynamodb:") for action in _list(statement["Action"]))
    ]
    (log_table,) = [r for r in resources(body, "AWS::DynamoDB::Table") if r.startswith("EventLog")]

    def on(statement: dict[str, Any], attribute: str) -> bool:
        return f'["{log_table}", "{attribute}"]' in json.dumps(statement["Resource"])

    on_the_log = {a for s in statements if on(s, "Arn") for a in _list(s["Action"])}
    # the notify function reads the table's stream (what its event source mapping needs)
    on_the_stream = {a for s in statements if on(s, "StreamArn") for a in _list(s["Action"])}
    assert on_the_stream == {
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
    }
    # Powertools Idempotency's table of published notifications: its own, never the log
    (remembered,) = [
        r for r in resources(body, "AWS::DynamoDB::Table") if r.startswith("NotifyIdempotency")
    ]
    elsewhere = [s for s in statements if not on(s, "Arn") and not on(s, "StreamArn")]
    for statement in elsewhere:
        resource = json.dumps(statement["Resource"])
        assert remembered in resource or statement["Resource"] == "*", statement
        if statement["Resource"] == "*":
            actions = {a for a in _list(statement["Action"]) if a.startswith("dynamodb:")}
            assert actions == {"dynamodb:ListStreams"}, statement
    dynamodb_actions = {a for a in on_the_log if a.startswith("dynamodb:")}
    assert dynamodb_actions == {
        "dynamodb:ConditionCheckItem",
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:DescribeTable",
    }


def test_every_star_resource_is_one_of_the_reasoned_exceptions(
    assembly: cdk.cx_api.CloudAssembly,
) -> None:
    allowed = {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        "states:SendTaskHeartbeat",
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
        "cloudwatch:GetMetricData",
        # composite alarms are returned only to a DescribeAlarms granted on "*" (API reference)
        "cloudwatch:DescribeAlarms",
        # an ECS deployment registers a task definition revision (no resource-level permissions)
        "ecs:RegisterTaskDefinition",
        "ecs:DescribeTaskDefinition",
        "ecs:ListTaskDefinitions",
        # a stream's event source mapping lists the streams (no resource-level permissions)
        "dynamodb:ListStreams",
    }
    for stack in assembly.stacks:
        for policy in resources(stack.template, "AWS::IAM::Policy").values():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                if statement.get("Resource") != "*":
                    continue
                if _list(statement["Action"]) == ["iam:PassRole"]:
                    # only to ECS tasks: the revision keeps the service's task roles
                    assert statement["Condition"] == {
                        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
                    }, stack.stack_name
                    continue
                assert set(_list(statement["Action"])) <= allowed, (stack.stack_name, statement)


def test_deployed_definition_is_the_generators_output(assembly: cdk.cx_api.CloudAssembly) -> None:
    expected_function = {
        "BuildFunctionArn": "build",
        "LeaseFunctionArn": "lease",
        "BlockersFunctionArn": "blockers",
        "DeployFunctionArn": "deploy",
        "BakeFunctionArn": "bake",
        "TransitionFunctionArn": "transition",
    }
    controller = template(assembly, "shipwave-controller")
    names = {
        f["Properties"]["FunctionName"]
        for f in resources(controller, "AWS::Lambda::Function").values()
    }
    for pipeline in PIPELINES:
        body = template(assembly, f"shipwave-pipeline-{pipeline.pipeline_id()}")
        (machine,) = resources(body, "AWS::StepFunctions::StateMachine").values()
        properties = machine["Properties"]
        assert properties["StateMachineName"] == f"shipwave-{pipeline.pipeline_id()}"
        assert properties["DefinitionString"] == to_json(pipeline.spec())
        substitutions = properties["DefinitionSubstitutions"]
        assert set(substitutions) == set(PLACEHOLDERS)
        for placeholder, arn in substitutions.items():
            function = f"shipwave-{expected_function[placeholder]}"
            assert arn == f"arn:aws:lambda:{HOME}:111122223333:function:{function}"
            assert function in names
        assert properties["LoggingConfiguration"]["Level"] == "ALL"
        assert properties["TracingConfiguration"] == {"Enabled": True}
    starts = [
        statement
        for policy in resources(controller, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "states:StartExecution"
    ]
    # the machines of the teams' stacks, by the name convention they all follow
    assert starts[0]["Resource"] == f"arn:aws:states:{HOME}:111122223333:stateMachine:shipwave-*"


def test_merges_and_alarm_changes_reach_their_handlers(assembly: cdk.cx_api.CloudAssembly) -> None:
    body = template(assembly, "shipwave-controller")
    rules = {k: r["Properties"] for k, r in resources(body, "AWS::Events::Rule").items()}
    (merges,) = [r for k, r in rules.items() if k.startswith("CodeCommitMerges")]
    # every branch of every repository: the intake takes a merge to the pipelines whose specs
    # name its repository and branch (the controller knows no pipeline)
    assert merges["EventPattern"]["detail"] == {
        "event": ["referenceCreated", "referenceUpdated"],
        "referenceType": ["branch"],
    }
    (alarms,) = [r for k, r in rules.items() if k.startswith("AlarmStateChanges")]
    pattern = EventPattern.load(json.dumps(alarms["EventPattern"]))

    def fires(name: str) -> bool:
        event = {
            "source": "aws.cloudwatch",
            "detail-type": "CloudWatch Alarm State Change",
            "detail": {"alarmName": name, "state": {"value": "ALARM"}},
        }
        return bool(pattern.matches_event(event))

    for name in ("orders-aggregate", "create-order-one-box", "order-history-high-severity"):
        assert fires(name), name
    assert not fires("create-order-one-box-latency-p99")  # a child: its composite says it
    # by name ending, so the pattern does not grow with the services (EventBridge: 2,048)
    assert len(json.dumps(alarms["EventPattern"])) < 400
    url = resources(body, "AWS::Lambda::Url")
    # the webhook intake is open (GitHub signs its payloads); the operator endpoint takes
    # only requests signed with IAM credentials: who signed is who acts
    functions = resources(body, "AWS::Lambda::Function")
    auth = {
        functions[u["Properties"]["TargetFunctionArn"]["Fn::GetAtt"][0]]["Properties"][
            "FunctionName"
        ]: u["Properties"]["AuthType"]
        for u in url.values()
    }
    assert auth == {"shipwave-intake": "NONE", "shipwave-operator": "AWS_IAM"}
    assert resources(body, "AWS::SecretsManager::Secret")


# --- regions -------------------------------------------------------------------------------


def test_one_stack_per_region_per_pipeline_and_per_team_region(
    assembly: cdk.cx_api.CloudAssembly,
) -> None:
    names = {s.stack_name for s in assembly.stacks}
    assert {n for n in names if n.startswith("shipwave-region-")} == {
        f"shipwave-region-{r.name}" for r in REGIONS
    }
    assert {n for n in names if n.startswith("shipwave-pipeline-")} == {
        f"shipwave-pipeline-{p.pipeline_id()}" for p in PIPELINES
    }
    assert {n for n in names if n.startswith("shipwave-team-")} == {
        f"shipwave-team-orders-{region}" for p in PIPELINES for region in p.spec().regions
    }
    for stack in assembly.stacks:
        assert len(stack.template["Resources"]) < 500


def test_a_team_deploys_a_pipeline_alone_with_its_alarms_and_deploy_role_in_each_region(
    assembly: cdk.cx_api.CloudAssembly,
) -> None:
    """`cdk deploy shipwave-pipeline-<id>` deploys the stacks it depends on first: exactly the
    team's stack of each region the pipeline deploys to, and no stack of the platform's."""
    manifest = json.loads((Path(assembly.directory) / "manifest.json").read_text())
    artifacts = manifest["artifacts"]
    for pipeline in PIPELINES:
        spec = pipeline.spec()
        depends = set(artifacts[f"shipwave-pipeline-{spec.pipeline_id}"]["dependencies"])
        stacks = {d for d in depends if not d.endswith(".assets")}
        assert stacks == {f"shipwave-team-{spec.team}-{region}" for region in spec.regions}
    for name, artifact in artifacts.items():
        if name.startswith(("shipwave-team-", "shipwave-region-", "shipwave-controller")):
            stacks = {d for d in artifact.get("dependencies", []) if not d.endswith(".assets")}
            assert stacks == set(), name


@pytest.mark.slow
def test_the_platforms_stacks_are_the_same_whatever_pipelines_the_teams_deploy(
    assembly: cdk.cx_api.CloudAssembly, tmp_path: Path
) -> None:
    """The controller and region stacks know no pipeline: the app with one pipeline
    synthesizes them byte for byte as the app with all of them."""
    from infra.app import synthesize

    synthesize(tmp_path, "111122223333", pipelines="tests.infra.one_pipeline:PIPELINES")
    platform = ["shipwave-controller.template.json"] + [
        f"shipwave-region-{r.name}.template.json" for r in REGIONS
    ]
    for name in platform:
        ours = (Path(assembly.directory) / name).read_text()
        assert (tmp_path / name).read_text() == ours, name
    assert sorted(p.name for p in tmp_path.glob("shipwave-pipeline-*.template.json")) == [
        f"shipwave-pipeline-{PIPELINES[0].pipeline_id()}.template.json"
    ]


def test_team_alarms_composites_and_anomaly_detection(assembly: cdk.cx_api.CloudAssembly) -> None:
    body = template(assembly, "shipwave-team-orders-eu-west-1")
    composites = {
        c["Properties"]["AlarmName"]: c["Properties"]["AlarmRule"]
        for c in resources(body, "AWS::CloudWatch::CompositeAlarm").values()
    }
    assert set(composites) == {
        "create-order-high-severity",
        "create-order-one-box",
        "order-history-high-severity",
        "order-history-one-box",
        "orders-aggregate",
    }
    aggregate = json.dumps(composites["orders-aggregate"])
    assert "create-order-high-severity" in aggregate or "HighSeverity" in aggregate
    alarms = resources(body, "AWS::CloudWatch::Alarm")
    names = {a["Properties"]["AlarmName"] for a in alarms.values()}
    assert {
        "create-order-fault-rate",
        "create-order-latency-p99",
        "create-order-one-box-fault-rate",
        "create-order-canary",
    } <= names
    anomaly = [a for a in alarms.values() if "ThresholdMetricId" in a["Properties"]]
    assert len(anomaly) == 6  # request count, latency, errors for each of 2 services


@pytest.mark.parametrize(
    ("stack", "role_name"),
    [
        ("shipwave-region-ap-southeast-2", "shipwave-deploy-ap-southeast-2"),
        ("shipwave-team-orders-ap-southeast-2", "shipwave-deploy-orders-ap-southeast-2"),
    ],
)
def test_deploy_roles_trust_only_the_controller_handlers(
    assembly: cdk.cx_api.CloudAssembly, stack: str, role_name: str
) -> None:
    body = template(assembly, stack)
    (role,) = [
        r["Properties"]
        for r in resources(body, "AWS::IAM::Role").values()
        if r["Properties"].get("RoleName") == role_name
    ]
    statement = role["AssumeRolePolicyDocument"]["Statement"][0]
    trusted = statement["Condition"]["ArnLike"]["aws:PrincipalArn"]
    assert {arn.rsplit("/", 1)[-1] for arn in trusted} == {
        f"shipwave-{n}-handler-{HOME}" for n in ("blockers", "deploy", "bake", "alarm", "operator")
    }


def test_executions_that_end_abnormally_reach_the_execution_handler(
    assembly: cdk.cx_api.CloudAssembly,
) -> None:
    rules = resources(template(assembly, "shipwave-controller"), "AWS::Events::Rule")
    (rule,) = [
        r["Properties"]
        for r in rules.values()
        if r["Properties"]["EventPattern"].get("source") == ["aws.states"]
    ]
    pattern = rule["EventPattern"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert pattern["detail"]["status"] == ["FAILED", "TIMED_OUT", "ABORTED"]
    # every pipeline's machine by the name prefix they share, so the pattern does not grow
    assert pattern["detail"]["stateMachineArn"] == [
        {"prefix": f"arn:aws:states:{HOME}:111122223333:stateMachine:shipwave-"}
    ]
    assert "executions" in json.dumps(rule["Targets"])


def test_pages_go_to_an_encrypted_topic_the_recording_handlers_may_publish_to(
    assembly: cdk.cx_api.CloudAssembly,
) -> None:
    body = template(assembly, "shipwave-controller")
    (topic_id,) = resources(body, "AWS::SNS::Topic")
    topic = body["Resources"][topic_id]["Properties"]
    assert topic["KmsMasterKeyId"]
    policies = json.dumps(resources(body, "AWS::SNS::TopicPolicy"))
    assert "aws:SecureTransport" in policies
    functions = resources(body, "AWS::Lambda::Function")
    with_topic = {
        f["Properties"]["Handler"].split(".")[1]
        for f in functions.values()
        if "SHIPWAVE_PAGE_TOPIC_ARN" in f["Properties"]["Environment"]["Variables"]
    }
    assert with_topic == {
        "blockers",
        "deploy",
        "bake",
        "transition",
        "alarm",
        "executions",
        "operator",  # an abort's rollback that fails pages
    }
    grants = [
        p
        for p in resources(body, "AWS::IAM::Policy").values()
        if "sns:Publish" in json.dumps(p["Properties"]["PolicyDocument"])
    ]
    assert len(grants) == len(with_topic)


def test_metric_alarms_report_missing_data_as_missing_never_as_ok(
    assembly: cdk.cx_api.CloudAssembly,
) -> None:
    alarms = resources(
        template(assembly, "shipwave-team-orders-eu-west-1"), "AWS::CloudWatch::Alarm"
    )
    treat = {a["Properties"].get("TreatMissingData") for a in alarms.values()}
    assert "notBreaching" not in treat
    assert treat <= {"missing", "breaching"}


def test_alarm_changes_are_forwarded_home_from_other_regions_only(
    assembly: cdk.cx_api.CloudAssembly,
) -> None:
    remote = resources(template(assembly, "shipwave-region-af-south-1"), "AWS::Events::Rule")
    (rule,) = remote.values()
    assert f"events:{HOME}:" in json.dumps(rule["Properties"]["Targets"])
    assert not resources(template(assembly, f"shipwave-region-{HOME}"), "AWS::Events::Rule")


# --- linting and validation ----------------------------------------------------------------


def test_cfn_lint_is_clean(assembly: cdk.cx_api.CloudAssembly) -> None:
    """One template of each kind: the controller, every pipeline, the home region and one
    other (the region stacks differ only by region), one team stack; `make cfn-lint` lints
    all of them."""
    folder = Path(assembly.directory)
    templates = [
        str(folder / "shipwave-controller.template.json"),
        *sorted(str(p) for p in folder.glob("shipwave-pipeline-*.template.json")),
        str(folder / f"shipwave-region-{HOME}.template.json"),
        str(folder / "shipwave-region-ap-southeast-3.template.json"),
        str(folder / "shipwave-team-orders-ap-southeast-3.template.json"),
    ]
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--ignore-checks",
            "W3005",
            "--",
            *templates,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_invalid_pipelines_fail_the_build_with_every_message() -> None:
    with pytest.raises(PipelineSpecError) as raised:
        load_specs("tests.infra.invalid_pipelines:PIPELINES")
    assert raised.value.problems == (
        "pipeline broken-application: one_box_percent: 25 % is not in (0, 10] %",
        "pipeline broken-application: waves[1].regions: unknown region 'atlantis-1'",
        "pipeline create-order-application: defined twice in "
        "tests.infra.invalid_pipelines:PIPELINES",
    )


@pytest.mark.slow
def test_make_synth_works_offline(tmp_path: Path) -> None:
    environment = {
        **os.environ,
        "CDK_DISABLE_VERSION_CHECK": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    result = subprocess.run(
        ["npx", "--no-install", "cdk", "synth", "-q", "-o", str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=environment,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    teams = {(p.spec().team, region) for p in PIPELINES for region in p.spec().regions}
    expected = 1 + len(REGIONS) + len(PIPELINES) + len(teams)
    assert len(list((tmp_path / "out").glob("*.template.json"))) == expected


def _list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def test_each_pipeline_stack_puts_its_spec_where_the_handlers_read_it(
    assembly: cdk.cx_api.CloudAssembly,
) -> None:
    from adapters.pipeline_specs import decode_spec

    for pipeline in PIPELINES:
        body = template(assembly, f"shipwave-pipeline-{pipeline.pipeline_id()}")
        (parameter,) = resources(body, "AWS::SSM::Parameter").values()
        properties = parameter["Properties"]
        assert properties["Name"] == f"/shipwave/pipelines/{pipeline.pipeline_id()}"
        assert decode_spec(properties["Name"], properties["Value"]) == pipeline.spec()
        assert properties["Tier"] == "Standard"
    body = template(assembly, "shipwave-controller")
    for function in resources(body, "AWS::Lambda::Function").values():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["SHIPWAVE_SPECS_PATH"] == "/shipwave/pipelines"
        assert len(function["Properties"]["Layers"]) == 1  # Powertools' alone
    assert f'"arn:aws:ssm:{HOME}:111122223333:parameter/shipwave/pipelines"' in iam_text(body)


def test_the_deploy_role_may_list_the_versions_the_alias_target_reads_first(
    assembly: cdk.cx_api.CloudAssembly,
) -> None:
    body = template(assembly, "shipwave-team-orders-eu-west-1")
    policies = iam_text(body)
    assert "lambda:ListVersionsByFunction" in policies
    assert "lambda:" not in iam_text(template(assembly, "shipwave-region-eu-west-1"))


def test_state_machine_log_groups_have_no_fixed_name_so_a_stack_can_be_recreated(
    assembly: cdk.cx_api.CloudAssembly,
) -> None:
    for pipeline in PIPELINES:
        body = template(assembly, f"shipwave-pipeline-{pipeline.pipeline_id()}")
        for group in resources(body, "AWS::Logs::LogGroup").values():
            assert "LogGroupName" not in group["Properties"]


#: the property that names a resource, per type (CloudFormation Template Reference, "Name type")
NAME_PROPERTIES = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::KMS::Alias": "AliasName",
}


def test_what_a_deleted_stack_keeps_never_blocks_its_re_creation(
    assembly: cdk.cx_api.CloudAssembly,
) -> None:
    """A kept resource either has no fixed name (a new one is made beside it) or is an
    artifact bucket with a static name, which `cdk deploy --import-existing-resources` takes
    back into the re-created stack (CloudFormation imports a named resource that exists when
    its name is static and its DeletionPolicy is Retain: User Guide, "Import AWS resources
    into a CloudFormation stack automatically")."""
    kept: list[tuple[str, str]] = []
    for stack in assembly.stacks:
        for logical_id, resource in stack.template["Resources"].items():
            if resource.get("DeletionPolicy") not in ("Retain", "RetainExceptOnCreate"):
                continue
            name = resource.get("Properties", {}).get(NAME_PROPERTIES.get(resource["Type"], ""))
            if name is None:
                continue
            assert resource["Type"] == "AWS::S3::Bucket", (stack.stack_name, logical_id)
            assert isinstance(name, str), (stack.stack_name, name)  # static: importable
            kept.append((stack.stack_name, name))
    assert sorted(kept) == sorted(
        (f"shipwave-region-{r.name}", f"shipwave-artifacts-111122223333-{r.name}") for r in REGIONS
    )


def test_the_public_intake_has_bounded_concurrency(assembly: cdk.cx_api.CloudAssembly) -> None:
    functions = resources(template(assembly, "shipwave-controller"), "AWS::Lambda::Function")
    (intake,) = [
        f["Properties"]
        for f in functions.values()
        if f["Properties"]["Handler"] == "handlers.intake.handler"
    ]
    assert intake["ReservedConcurrentExecutions"] == 10


def test_company_blockers_are_readable_by_the_deploy_role_and_forwarded_home(
    assembly: cdk.cx_api.CloudAssembly,
) -> None:
    body = template(assembly, "shipwave-region-af-south-1")
    policies = iam_text(body)
    (rule,) = resources(body, "AWS::Events::Rule").values()
    forwarded = rule["Properties"]["EventPattern"]["detail"]["alarmName"]
    assert ":alarm:*" in policies  # the history of every alarm of the region, read only
    for name in ("company-large-scale-event", "company-deployment-freeze"):
        assert name in forwarded


def test_no_event_is_dropped_after_its_retries_and_what_waits_pages(
    assembly: cdk.cx_api.CloudAssembly,
) -> None:
    for stack in assembly.stacks:
        for rule in resources(stack.template, "AWS::Events::Rule").values():
            for target in rule["Properties"]["Targets"]:
                assert "Arn" in target["DeadLetterConfig"], (stack.stack_name, target)
                if ":event-bus/" not in json.dumps(target["Arn"]):  # a bus target: no policy
                    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    body = template(assembly, "shipwave-controller")
    functions = resources(body, "AWS::Lambda::Function")
    invoked = {
        functions[c["Properties"]["FunctionName"]["Ref"]]["Properties"]["FunctionName"]: c[
            "Properties"
        ]
        for c in resources(body, "AWS::Lambda::EventInvokeConfig").values()
    }
    assert set(invoked) == {
        "shipwave-intake",
        "shipwave-alarm",
        "shipwave-executions",
        "shipwave-build",
    }
    queues = resources(body, "AWS::SQS::Queue")
    (queue,) = [q for q in queues if q.startswith("DeadLetters")]
    # the notifications' stream records that failed their retries go to their own queue
    (mapping,) = resources(body, "AWS::Lambda::EventSourceMapping").values()
    (notify_queue,) = [q for q in queues if q.startswith("NotifyDeadLetters")]
    assert mapping["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [notify_queue, "Arn"]
    }
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["Properties"]["ParallelizationFactor"] == 1
    for config in invoked.values():
        assert config["DestinationConfig"]["OnFailure"]["Destination"] == {
            "Fn::GetAtt": [queue, "Arn"]
        }
    (topic,) = resources(body, "AWS::SNS::Topic")
    waiting = [
        a["Properties"]
        for a in resources(body, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    ]
    assert [a["AlarmActions"] for a in waiting] == [[{"Ref": topic}], [{"Ref": topic}]]
    # CloudWatch can publish to the encrypted topic only with a key of ours (not aws/sns)
    key = body["Resources"][topic]["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    policy = json.dumps(body["Resources"][key]["Properties"]["KeyPolicy"])
    assert "cloudwatch.amazonaws.com" in policy
    assert "events.amazonaws.com" in policy
    remote = template(assembly, "shipwave-region-af-south-1")
    (alarm,) = [
        a
        for a in resources(remote, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("AlarmName") == "shipwave-forwarding-dead-letters"
    ]
    assert alarm["Properties"]["TreatMissingData"] == "missing"


def test_each_pipeline_builds_on_its_own_codebuild_project_adding_artifacts_only(
    assembly: cdk.cx_api.CloudAssembly,
) -> None:
    """The spec's commands as CodeBuild's buildspec; the zip named after the version, under
    the pipeline's folder of the home artifact bucket, per build id; the role may add objects
    there and nothing else of the bucket (no delete, no overwrite of another folder)."""
    body = template(assembly, "shipwave-pipeline-create-order-application")
    projects = {
        p["Properties"]["Name"]: p["Properties"]
        for p in resources(body, "AWS::CodeBuild::Project").values()
    }
    properties = projects["shipwave-build-create-order-application"]
    assert properties["Name"] == "shipwave-build-create-order-application"
    assert properties["Environment"]["PrivilegedMode"] is True  # unshare --net for unit tests
    assert properties["TimeoutInMinutes"] == 20
    artifacts = properties["Artifacts"]
    assert artifacts["Location"] == f"shipwave-artifacts-111122223333-{HOME}"
    assert artifacts["Path"] == "create-order-application"
    assert (artifacts["NamespaceType"], artifacts["Packaging"]) == ("BUILD_ID", "ZIP")
    assert artifacts["OverrideArtifactName"] is True
    assert artifacts["EncryptionDisabled"] is True  # the bucket's SSE-S3 applies
    buildspec = yaml.safe_load(properties["Source"]["BuildSpec"])
    assert buildspec["artifacts"] == {
        "base-directory": "dist",
        "files": ["**/*"],
        "name": "$(cat VERSION).zip",
    }
    assert set(buildspec["phases"]) == {"build", "post_build"}
    assert buildspec["phases"]["build"]["on-failure"] == "ABORT"
    (unit_tests,) = buildspec["phases"]["post_build"]["commands"]
    assert unit_tests.startswith("unshare --net --map-root-user bash -c ")
    assert "python -m unittest discover -s unit_tests" in unit_tests
    assert properties["Source"]["Type"] == "CODECOMMIT"
    policies = [
        statement
        for policy in resources(body, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    s3 = [s for s in policies if any(a.startswith("s3:") for a in _list(s["Action"]))]
    writes = [s for s in s3 if "s3:PutObject" in _list(s["Action"])]
    assert len(writes) == 1
    assert writes[0]["Resource"] == (
        f"arn:aws:s3:::shipwave-artifacts-111122223333-{HOME}/create-order-application/*"
    )
    assert not [a for s in s3 for a in _list(s["Action"]) if "Delete" in a or "*" in a]
    # the integration tests: their own project, reporting JUnit XML, writing no artifact
    tests = projects["shipwave-build-create-order-application-tests"]
    assert tests["Artifacts"] == {"Type": "NO_ARTIFACTS"}
    assert tests["Environment"]["PrivilegedMode"] is False
    spec = yaml.safe_load(tests["Source"]["BuildSpec"])
    assert spec["phases"]["build"]["commands"] == [
        'python integration_tests/run.py "$SHIPWAVE_TEST_REPORT"'
    ]
    assert spec["reports"] == {
        "integration-tests": {"files": ["shipwave-test-report.xml"], "file-format": "JUNITXML"}
    }
    reports = [s for s in policies if "codebuild:BatchPutTestCases" in _list(s["Action"])]
    assert [s["Resource"] for s in reports] == [
        f"arn:aws:codebuild:{HOME}:111122223333:report-group/"
        "shipwave-build-create-order-application-tests-integration-tests"
    ]


def test_build_ends_reach_the_build_handler_which_may_start_only_pipeline_projects(
    assembly: cdk.cx_api.CloudAssembly,
) -> None:
    body = template(assembly, "shipwave-controller")
    (rule,) = [
        r
        for logical_id, r in resources(body, "AWS::Events::Rule").items()
        if logical_id.startswith("BuildEnds")
    ]
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.codebuild"]
    assert pattern["detail"]["project-name"] == [{"prefix": "shipwave-build-"}]
    assert "IN_PROGRESS" not in pattern["detail"]["build-status"]
    starts = [
        statement
        for policy in resources(body, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "codebuild:StartBuild" in _list(statement["Action"])
    ]
    assert len(starts) == 1
    assert set(_list(starts[0]["Action"])) == {"codebuild:StartBuild", "codebuild:BatchGetBuilds"}
    assert starts[0]["Resource"] == (
        f"arn:aws:codebuild:{HOME}:111122223333:project/shipwave-build-*"
    )


def test_each_production_region_runs_the_services_canary_its_alarm_watches(
    assembly: cdk.cx_api.CloudAssembly,
) -> None:
    """One canary per service (the app and configuration pipelines share it), named as the
    standard canary alarm's CanaryName, calling the region's own endpoint."""
    for region in ("af-south-1", "eu-west-1"):
        body = template(assembly, f"shipwave-team-orders-{region}")
        (canary,) = resources(body, "AWS::Synthetics::Canary").values()
        properties = canary["Properties"]
        assert properties["Name"] == "create-order-canary"
        assert properties["RuntimeVersion"] == "syn-python-selenium-7.0"
        assert properties["Schedule"]["Expression"] == "rate(5 minutes)"
        variables = properties["RunConfig"]["EnvironmentVariables"]
        assert variables["CANARY_URL"] == f"https://orders.{region}.acme.example/orders"
        assert (variables["CANARY_METHOD"], variables["CANARY_EXPECT_STATUS"]) == ("POST", "201")
        alarms = resources(body, "AWS::CloudWatch::Alarm").values()
        (watching,) = [a for a in alarms if a["Properties"]["AlarmName"] == "create-order-canary"]
        dimensions = watching["Properties"]["Dimensions"]
        assert {"Name": "CanaryName", "Value": "create-order-canary"} in dimensions


def test_each_team_has_a_dashboard_of_its_pipelines_measures_in_the_home_region(
    assembly: cdk.cx_api.CloudAssembly,
) -> None:
    from domain.measures import METRIC_NAMES
    from infra.constructs.team_dashboard import GRAPHS

    assert sorted(metric for _, metric, _, _ in GRAPHS) == sorted(METRIC_NAMES)
    found = {
        stack.stack_name: list(resources(stack.template, "AWS::CloudWatch::Dashboard").values())
        for stack in assembly.stacks
    }
    with_dashboards = {name for name, dashboards in found.items() if dashboards}
    assert with_dashboards == {f"shipwave-team-orders-{HOME}"}
    (dashboard,) = found[f"shipwave-team-orders-{HOME}"]
    assert dashboard["Properties"]["DashboardName"] == "shipwave-orders"
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for pipeline in PIPELINES:
        for metric in METRIC_NAMES:
            expected = (
                f'MetricName=\\\\\\"{metric}\\\\\\" Pipeline=\\\\\\"{pipeline.pipeline_id()}\\\\\\"'
            )
            assert expected in body, (pipeline.pipeline_id(), metric)
