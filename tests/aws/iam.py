"""AWS calls held to the synthesized IAM policies.

Each recorded call (IAM prefix, operation, parameters, signing key) becomes the IAM
action(s) and resource ARN(s) AWS authorizes, per the Service Authorization Reference; the
statements of the signing role's policies, read from the templates with their intrinsics
resolved, must allow each pair and no statement may deny it. A call this module cannot map
is an error naming it: an unknown call never passes by omission.
"""

from __future__ import annotations

import fnmatch
import functools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domain.conventions import deploy_role_name, team_deploy_role_name
from tests.aws.bootstrap import record_calls
from tests.aws.cfn import UnresolvedError, World

#: signing names whose IAM prefix differs
PREFIX = {"monitoring": "cloudwatch"}
#: actions with no resource-level permissions: authorized on "*"
UNSCOPED = {
    "states:SendTaskSuccess",
    "states:SendTaskFailure",
    "states:SendTaskHeartbeat",
    "cloudwatch:GetMetricData",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "ecs:RegisterTaskDefinition",
    "ecs:DescribeTaskDefinition",
    "ecs:ListTaskDefinitions",
}
#: actions AWS authorizes for every principal ("No permissions are required", STS API
#: reference for GetCallerIdentity)
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}
#: DynamoDB authorizes a transaction by the actions it contains
TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}
TRANSACT["ConditionCheck"] = "ConditionCheckItem"


class UnmappedCallError(AssertionError):
    pass


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: dict[str, str]


def requests(call: dict[str, Any], world: World) -> list[Request]:
    """What AWS authorizes for one API call."""
    prefix = PREFIX.get(call["signing_name"], call["signing_name"])
    operation = call["operation"]
    params = call["params"]
    region = call["region"] or world.region
    account = world.account
    action = f"{prefix}:{operation}"

    def one(resource: str, name: str = action, **context: str) -> list[Request]:
        return [Request(name, resource, context)]

    if action in NEEDS_NO_PERMISSION:
        return []
    if action == "ecs:RegisterTaskDefinition":
        # a revision naming roles passes them to ECS tasks (IAM: iam:PassRole on each)
        roles = [params[k] for k in ("taskRoleArn", "executionRoleArn") if params.get(k)]
        return one("*") + [
            Request("iam:PassRole", role, {"iam:PassedToService": "ecs-tasks.amazonaws.com"})
            for role in roles
        ]
    if action in UNSCOPED:
        return one("*")
    if prefix == "dynamodb":
        return _dynamodb(operation, params, region, account)
    if prefix == "states":
        for key in ("stateMachineArn", "executionArn"):
            if key in params:
                return one(params[key])
    if prefix == "ssm" and operation == "GetParametersByPath":
        # authorized against the path asked, not the parameters returned (Systems Manager
        # User Guide, "How Parameter Store authorizes parameter retrieval")
        return one(f"arn:aws:ssm:{region}:{account}:parameter{params['Path']}")
    if prefix == "codecommit":
        if "repositoryName" in params:
            return one(f"arn:aws:codecommit:{region}:{account}:{params['repositoryName']}")
        # a pull request's actions are authorized on its repository, which the request does
        # not name: any repository of the region stands for it
        return one(f"arn:aws:codecommit:{region}:{account}:*")
    if prefix == "codebuild" and operation == "StartBuild":
        # authorized on the project (CodeBuild User Guide, "Permissions reference": StartBuild
        # on arn:aws:codebuild:region:account:project/name)
        return one(f"arn:aws:codebuild:{region}:{account}:project/{params['projectName']}")
    if prefix == "codebuild" and operation == "BatchGetBuilds":
        # on each build's project ("<project>:<uuid>")
        return [
            Request(action, f"arn:aws:codebuild:{region}:{account}:project/{i.split(':')[0]}", {})
            for i in params["ids"]
        ]
    if prefix == "codebuild" and operation == "DescribeTestCases":
        # on the report's group ("report/<group>:<uuid>" → "report-group/<group>")
        group = params["reportArn"].split(":report/", 1)[-1].rsplit(":", 1)[0]
        return one(f"arn:aws:codebuild:{region}:{account}:report-group/{group}")
    if prefix == "sns" and operation == "Publish":
        return one(params["TopicArn"])
    if prefix == "events" and operation == "PutEvents":
        # authorized on each entry's event bus (EventBridge User Guide, "Actions, resources and
        # condition keys": PutEvents on event-bus/<name>, "default" when the entry names none)
        return [
            Request(
                action,
                f"arn:aws:events:{region}:{account}:event-bus/{e.get('EventBusName', 'default')}",
                {
                    "events:source": e.get("Source", ""),
                    "events:detail-type": e.get("DetailType", ""),
                },
            )
            for e in params["Entries"]
        ]
    if prefix == "secretsmanager" and operation == "GetSecretValue":
        return one(params["SecretId"])
    if prefix == "sts" and operation == "AssumeRole":
        return one(params["RoleArn"])
    if prefix == "lambda":
        function = f"arn:aws:lambda:{region}:{account}:function:{params['FunctionName']}"
        found = one(function)
        if operation == "UpdateFunctionCode" and "S3Bucket" in params:
            # Lambda reads the zip with the caller's permissions (Lambda Developer Guide,
            # deploying from Amazon S3: the caller needs s3:GetObject on the object)
            found += one(f"arn:aws:s3:::{params['S3Bucket']}/{params['S3Key']}", "s3:GetObject")
        return found
    if prefix == "cloudwatch" and operation == "DescribeAlarms":
        names = params.get("AlarmNames")
        # "To use this operation and return information about composite alarms, you must be
        # signed on with the cloudwatch:DescribeAlarms permission that is scoped to *"
        # (CloudWatch API Reference, DescribeAlarms): a narrower grant answers without them
        if not names or "CompositeAlarm" in params.get("AlarmTypes", []):
            return one("*")
        return [
            Request(action, f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}", {})
            for name in names
        ]
    if prefix == "cloudwatch" and operation == "DescribeAlarmHistory":
        return one(f"arn:aws:cloudwatch:{region}:{account}:alarm:{params['AlarmName']}")
    if prefix == "s3" and operation in ("GetObject", "HeadObject"):
        found = one(f"arn:aws:s3:::{params['Bucket']}/{params['Key']}", "s3:GetObject")
        if call.get("error_code") in ("NoSuchKey", "404"):
            # S3 answers "no such key" only to a caller that may list the bucket; to any other
            # it answers 403 Access Denied (S3 API Reference, GetObject, "Permissions")
            found += one(f"arn:aws:s3:::{params['Bucket']}", "s3:ListBucket")
        return found
    if prefix == "s3" and operation == "CopyObject":
        source = params["CopySource"]
        source_arn = (
            f"arn:aws:s3:::{source['Bucket']}/{source['Key']}"
            if isinstance(source, dict)
            else f"arn:aws:s3:::{source.lstrip('/')}"
        )
        return one(f"arn:aws:s3:::{params['Bucket']}/{params['Key']}", "s3:PutObject") + one(
            source_arn, "s3:GetObject"
        )
    if prefix == "ecs" and operation in ("DescribeServices", "UpdateService"):
        cluster = params["cluster"]
        services = params.get("services") or [params["service"]]
        return [
            Request(action, f"arn:aws:ecs:{region}:{account}:service/{cluster}/{service}", {})
            for service in services
        ]
    raise UnmappedCallError(
        f"{action} with {json.dumps(params)[:300]}: no IAM resource mapping; add one"
    )


def _dynamodb(operation: str, params: dict[str, Any], region: str, account: str) -> list[Request]:
    """What DynamoDB authorizes for one call: item actions with their condition keys."""
    if operation == "TransactWriteItems":
        # each action is authorized as its own item action, with the enclosing operation
        # and the item's partition key as condition keys (DynamoDB Developer Guide,
        # "Using IAM policy conditions for fine-grained access control")
        found = []
        for item in params["TransactItems"]:
            ((kind, body),) = item.items()
            table = f"arn:aws:dynamodb:{region}:{account}:table/{body['TableName']}"
            context = {"dynamodb:EnclosingOperation": "TransactWriteItems"}
            context["dynamodb:LeadingKeys"] = _partition_key(body)
            found.append(Request(f"dynamodb:{TRANSACT[kind]}", table, context))
        return found
    table = f"arn:aws:dynamodb:{region}:{account}:table/{params['TableName']}"
    if params.get("IndexName"):
        table += f"/index/{params['IndexName']}"
    if operation in ("PutItem", "GetItem"):
        return [
            Request(
                f"dynamodb:{operation}", table, {"dynamodb:LeadingKeys": _partition_key(params)}
            )
        ]
    return [Request(f"dynamodb:{operation}", table, {})]


def _partition_key(body: dict[str, Any]) -> str:
    """The partition key's value of a DynamoDB item request (its Item, or its Key)."""
    item = body.get("Item") or body["Key"]
    # the event log's partition key is `pk`; Powertools Idempotency's table keys on `id`
    value: str = (item["pk"] if "pk" in item else item["id"])["S"]
    return value


def _matches(pattern: str, value: str, *, case: bool = True) -> bool:
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, tests in condition.items():
        for key, expected in tests.items():
            actual = context.get(key)
            if operator == "Null":
                # "true": the key must be absent; "false": present (IAM User Guide, condition
                # operators, "Condition operator to check existence of condition keys")
                if (actual is None) != (str(expected).lower() == "true"):
                    return False
                continue
            if operator.startswith("ForAllValues:"):
                # true when every value of the key matches, and when the key is absent (IAM
                # User Guide, "Set operators for multivalued context keys"): a request's item
                # operation has one partition key value
                if actual is not None and not _condition_holds(
                    {operator.removeprefix("ForAllValues:"): {key: expected}}, context
                ):
                    return False
                continue
            if actual is None:
                return False  # a condition on a key the request lacks never holds
            if operator in ("StringEquals", "ArnEquals"):
                ok = actual in _list(expected)
            elif operator in ("StringLike", "ArnLike"):
                ok = any(_matches(p, actual) for p in _list(expected))
            else:
                return False  # an operator this evaluator does not know: fail closed
            if not ok:
                return False
    return True


def _statement_applies(statement: dict[str, Any], request: Request) -> bool:
    actions = _list(statement.get("Action", []))
    resources = _list(statement.get("Resource", []))
    return (
        any(_matches(a, request.action, case=False) for a in actions)
        and any(_matches(str(r), request.resource) for r in resources)
        and _condition_holds(statement.get("Condition", {}), request.context)
    )


def allowed(statements: list[dict[str, Any]], request: Request) -> bool:
    applying = [s for s in statements if _statement_applies(s, request)]
    return any(s["Effect"] == "Allow" for s in applying) and not any(
        s["Effect"] == "Deny" for s in applying
    )


@functools.cache
def _template(outdir: Path, stack: str) -> dict[str, Any]:
    """A stack's template, read once (an assembly folder is never written after synth)."""
    body: dict[str, Any] = json.loads((outdir / f"{stack}.template.json").read_text())
    return body


def role_statements(
    outdir: Path, stack: str, role_logical_id: str, world: World
) -> list[dict[str, Any]]:
    """Every statement of the role's policies in `stack`, intrinsics resolved (a resource
    the world cannot resolve stays a marker that matches nothing)."""
    body = _template(outdir, stack)
    world = _with_named_resources(body, world)
    documents = []
    role = body["Resources"][role_logical_id]
    documents += [p["PolicyDocument"] for p in role["Properties"].get("Policies", [])]
    for resource in body["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_logical_id} in resource[
            "Properties"
        ].get("Roles", []):
            documents.append(resource["Properties"]["PolicyDocument"])
    statements = []
    for document in documents:
        for statement in document["Statement"]:
            resolved = dict(statement)
            values = []
            for value in _list(statement.get("Resource", [])):
                try:
                    values.append(world.resolve(value))
                except UnresolvedError as error:
                    values.append(f"<unresolved {error}>")
            resolved["Resource"] = values
            statements.append(resolved)
    return statements


def _with_named_resources(body: dict[str, Any], world: World) -> World:
    """`world`, plus what the stack's resources with fixed names resolve to."""
    refs, attributes = dict(world.refs), dict(world.attributes)
    for logical_id, resource in body["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::S3::Bucket" and "BucketName" in properties:
            name = str(world.resolve(properties["BucketName"]))
            refs[logical_id] = name
            attributes[(logical_id, "Arn")] = f"arn:aws:s3:::{name}"
        if resource["Type"] == "AWS::IAM::Role" and "RoleName" in properties:
            name = str(world.resolve(properties["RoleName"]))
            refs[logical_id] = name
            attributes[(logical_id, "Arn")] = f"arn:aws:iam::{world.account}:role/{name}"
    return World(world.account, world.region, refs, attributes, world.credentials)


def deploy_role(outdir: Path, role_arn: str) -> tuple[str, str]:
    """The stack (a region's or a team's in a region) and logical id of the deploy role named
    by `role_arn`."""
    name = role_arn.rsplit("/", 1)[-1]
    for pattern in ("shipwave-region-*.template.json", "shipwave-team-*.template.json"):
        for path in sorted(outdir.glob(pattern)):
            body = _template(outdir, path.name.removesuffix(".template.json"))
            for logical_id, resource in body["Resources"].items():
                if (
                    resource["Type"] == "AWS::IAM::Role"
                    and resource["Properties"].get("RoleName") == name
                ):
                    return path.name.removesuffix(".template.json"), logical_id
    raise AssertionError(f"{role_arn}: no region or team stack has this role")


@functools.cache
def _manifest(outdir: Path) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((outdir / "manifest.json").read_text())
    return body


def stack_region(outdir: Path, stack: str) -> str:
    """The region a stack is deployed to, as the cloud assembly's manifest says."""
    environment: str = _manifest(outdir)["artifacts"][stack]["environment"]
    return environment.rsplit("/", 1)[-1]


def denied_calls(
    outdir: Path, function_role: str, calls: list[dict[str, Any]], world: World
) -> list[str]:
    """Each call its signer's policies do not allow, as 'role: action on resource'."""
    signers: dict[str | None, tuple[str, str]] = {
        world.credentials[0]: ("shipwave-controller", function_role)
    }
    problems = []
    for call in calls:
        signer = signers.get(call["access_key"])
        if signer is None:
            problems.append(f"{call['operation']}: signed by an unknown key")
            continue
        region_world = World(
            account=world.account,
            region=stack_region(outdir, signer[0]),
            refs=world.refs,
            attributes=world.attributes,
        )
        statements = role_statements(outdir, *signer, region_world)
        for request in requests(call, world):
            if not allowed(statements, request):
                problems.append(f"{signer[1]}: {request.action} on {request.resource}")
        if call["operation"] == "AssumeRole":
            target = deploy_role(outdir, call["params"]["RoleArn"])
            principal = role_arn(outdir, *signer, world)
            if not trusts(outdir, *target, principal, world):
                problems.append(f"{target[1]} does not trust {principal}")
            if call.get("assumed_key"):
                signers[call["assumed_key"]] = target
    return problems


def role_arn(outdir: Path, stack: str, logical_id: str, world: World) -> str:
    body = _template(outdir, stack)
    name = body["Resources"][logical_id]["Properties"].get("RoleName", logical_id)
    return f"arn:aws:iam::{world.account}:role/{world.resolve(name)}"


def trusts(outdir: Path, stack: str, logical_id: str, principal: str, world: World) -> bool:
    """The role's trust policy lets `principal` (a role of this account) assume it."""
    body = _template(outdir, stack)
    document = body["Resources"][logical_id]["Properties"]["AssumeRolePolicyDocument"]
    for statement in document["Statement"]:
        if statement["Effect"] != "Allow" or "sts:AssumeRole" not in _list(statement["Action"]):
            continue
        aws = [str(world.resolve(p)) for p in _list(statement["Principal"].get("AWS", []))]
        account_root = f"arn:aws:iam::{world.account}:root"
        if (principal in aws or account_root in aws) and _condition_holds(
            statement.get("Condition", {}), {"aws:PrincipalArn": principal}
        ):
            return True
    return False


@contextmanager
def recording() -> Iterator[list[dict[str, Any]]]:
    """Every AWS call made in this process while inside, as the sandbox records them."""
    import botocore.client

    calls: list[dict[str, Any]] = []
    original = record_calls(calls)
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]


#: the services whose clients DeployRoles makes in a team's deploy role (the targets); every
#: other client is in the platform's deploy role of the region
TEAM_SERVICES = ("lambda", "ecs")


def deploy_role_denials(
    outdir: Path, calls: list[dict[str, Any]], world: World, team: str
) -> list[str]:
    """Each call the deploy role that makes it on AWS may not make, as 'role: action on
    resource': `team`'s role of the call's region for its targets, the platform's role of
    the region for alarms and artifacts."""
    problems = []
    for call in calls:
        region = call["region"] or world.region
        name = (
            team_deploy_role_name(team, region)
            if call["signing_name"] in TEAM_SERVICES
            else deploy_role_name(region)
        )
        stack, role = deploy_role(outdir, f"arn:aws:iam::{world.account}:role/{name}")
        in_region = World(world.account, region, world.refs, world.attributes, world.credentials)
        statements = role_statements(outdir, stack, role, in_region)
        problems += [
            f"{name}: {r.action} on {r.resource}"
            for r in requests(call, in_region)
            if not allowed(statements, r)
        ]
    return problems
