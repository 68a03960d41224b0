"""The synthesized app and a moto server standing in for one AWS account.

The world is made from the templates: the table with the template's keys and indexes, the
topic, the secret, and each pipeline stack's state machine (the synthesized name and
definition) and spec parameter, so the handlers meet what CloudFormation would have created.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.aws.cfn import World

ROOT = Path(__file__).parents[2]
ACCOUNT = "111122223333"
HOME = "us-east-1"
FIXTURES = ROOT / "tests" / "fixtures" / "aws"


def template(outdir: Path, stack: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((outdir / f"{stack}.template.json").read_text())
    return result


def of_type(body: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in body["Resources"].items() if v["Type"] == kind}


def fixture(name: str, **replacements: str) -> dict[str, Any]:
    text = (FIXTURES / name).read_text()
    for old, new in replacements.items():
        text = text.replace(old, new)
    result: dict[str, Any] = json.loads(text)
    return result


GITHUB_FIXTURES = ROOT / "tests" / "fixtures" / "github"


def github_payload(name: str, **changes: str) -> bytes:
    """A published GitHub payload (tests/fixtures/github/README.md), with the repository's
    `full_name` and top-level fields such as `ref` replaced."""
    payload = json.loads((GITHUB_FIXTURES / name).read_text())
    if "full_name" in changes:
        payload["repository"]["full_name"] = changes.pop("full_name")
    payload.update(changes)
    return json.dumps(payload).encode()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def client(service: str, endpoint: str, region: str = HOME) -> Any:
    """A client of the moto server acting in the app's account (moto's account header)."""
    made = boto3.client(service, region_name=region, endpoint_url=endpoint)

    def in_account(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = ACCOUNT

    made.meta.events.register("before-sign.*.*", in_account)
    return made


@pytest.fixture(scope="session")
def world(cloud_assembly: Path, moto_endpoint: str) -> World:
    """The controller's resources, created in moto from the template, and what they are;
    each pipeline's spec parameter, build project and state machine, from its template."""
    body = template(cloud_assembly, "shipwave-controller")
    # the functions' own credentials: an access key of the app's account, so moto serves
    # their calls in that account (the key, not a header, says which account)
    iam = client("iam", moto_endpoint)
    iam.create_user(UserName="shipwave-function-role")
    key = iam.create_access_key(UserName="shipwave-function-role")["AccessKey"]
    world = World(
        account=ACCOUNT, region=HOME, credentials=(key["AccessKeyId"], key["SecretAccessKey"])
    )
    names = {"EventLog": "shipwave-events", "NotifyIdempotency": "shipwave-notify-idempotency"}
    for logical_id, table in of_type(body, "AWS::DynamoDB::Table").items():
        properties = table["Properties"]
        (name,) = [n for prefix, n in names.items() if logical_id.startswith(prefix)]
        stream = properties.get("StreamSpecification")
        client("dynamodb", moto_endpoint).create_table(
            TableName=name,
            KeySchema=properties["KeySchema"],
            AttributeDefinitions=properties["AttributeDefinitions"],
            BillingMode=properties["BillingMode"],
            **(
                {"GlobalSecondaryIndexes": properties["GlobalSecondaryIndexes"]}
                if "GlobalSecondaryIndexes" in properties
                else {}
            ),
            **(
                {
                    "StreamSpecification": {
                        "StreamEnabled": True,
                        "StreamViewType": stream["StreamViewType"],
                    }
                }
                if stream
                else {}
            ),
        )
        world.refs[logical_id] = name
        world.attributes[(logical_id, "Arn")] = f"arn:aws:dynamodb:{HOME}:{ACCOUNT}:table/{name}"
    for logical_id in of_type(body, "AWS::SNS::Topic"):
        arn = client("sns", moto_endpoint).create_topic(Name="shipwave-pages")["TopicArn"]
        world.refs[logical_id] = arn
    secrets = {"GitHubWebhookSecret": "a shared webhook secret", "GitHubApiToken": "ghs_token"}
    for logical_id in of_type(body, "AWS::SecretsManager::Secret"):
        (name,) = [n for n in secrets if logical_id.startswith(n)]
        arn = client("secretsmanager", moto_endpoint).create_secret(
            Name=f"shipwave-{name}", SecretString=secrets[name]
        )["ARN"]
        world.refs[logical_id] = arn
    for path in sorted(cloud_assembly.glob("shipwave-pipeline-*.template.json")):
        pipeline = json.loads(path.read_text())
        for parameter in of_type(pipeline, "AWS::SSM::Parameter").values():
            properties = parameter["Properties"]
            client("ssm", moto_endpoint).put_parameter(
                Name=properties["Name"],
                Value=properties["Value"],
                Type=properties["Type"],
                Tier=properties["Tier"],
            )
        for project in of_type(pipeline, "AWS::CodeBuild::Project").values():
            properties = project["Properties"]
            client("codebuild", moto_endpoint).create_project(
                name=properties["Name"],
                source={"type": properties["Source"]["Type"], "location": "in the template"},
                artifacts=(
                    {
                        "type": "S3",
                        "location": str(world.resolve(properties["Artifacts"]["Location"])),
                    }
                    if properties["Artifacts"]["Type"] == "S3"
                    else {"type": properties["Artifacts"]["Type"]}
                ),
                environment={
                    "type": properties["Environment"]["Type"],
                    "image": properties["Environment"]["Image"],
                    "computeType": properties["Environment"]["ComputeType"],
                },
                serviceRole=f"arn:aws:iam::{ACCOUNT}:role/shipwave-build",
            )
        for machine in of_type(pipeline, "AWS::StepFunctions::StateMachine").values():
            properties = machine["Properties"]
            definition = properties["DefinitionString"]
            for key, value in properties.get("DefinitionSubstitutions", {}).items():
                definition = definition.replace("${" + key + "}", str(world.resolve(value)))
            client("stepfunctions", moto_endpoint).create_state_machine(
                name=properties["StateMachineName"],
                definition=definition,
                roleArn=f"arn:aws:iam::{ACCOUNT}:role/shipwave-state-machine",
            )
    return world
