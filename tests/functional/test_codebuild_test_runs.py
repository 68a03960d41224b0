"""The integration tests on AWS: started on the pipeline's test project, their failed tests
read from CodeBuild's test report. moto serves neither test reports nor DescribeTestCases, so
botocore's Stubber answers, checking each request and response against CodeBuild's published
API model."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from adapters.codebuild import CodeBuildTestRuns
from domain.errors import IntegrationTestRunError
from domain.events import Artifact
from domain.ports import IntegrationTestRequest

PIPELINE = "create-order-application"
PROJECT = f"shipwave-build-{PIPELINE}-tests"
RUN_ID = f"{PROJECT}:8745a7a9-c340-456a-9166-edf953571b00"
RUN = f"arn:aws:codebuild:us-east-1:123456789012:build/{RUN_ID}"
REPORT = (
    f"arn:aws:codebuild:us-east-1:123456789012:report/{PROJECT}-integration-tests:"
    "2bdb7bcb-8c1c-4a34-b1c2-15e1b2d8c1aa"
)


def stubbed() -> tuple[CodeBuildTestRuns, Stubber]:
    client = boto3.client("codebuild", region_name="us-east-1")
    return CodeBuildTestRuns(client), Stubber(client)


def request(**changes: Any) -> IntegrationTestRequest:
    fields: dict[str, Any] = {
        "pipeline_id": PIPELINE,
        "change_id": "chg-1",
        "stage": "beta",
        "repository": "acme/create-order",
        "commit_id": "a" * 40,
        "artifact": Artifact(version="v1", checksum="sha256:" + "ab" * 32),
        "command": "make it",
        "endpoint": "https://orders.beta.acme.example",
        "entry": "orders.handler",
        "timeout_minutes": 15,
    }
    fields.update(changes)
    return IntegrationTestRequest(**fields)


def case(name: str, status: str) -> dict[str, Any]:
    return {
        "reportArn": REPORT,
        "testRawDataPath": "shipwave-test-report.xml",
        "prefix": "integration_tests.test_api.CreateOrderEndpointTest",
        "name": name,
        "status": status,
        "durationInNanoSeconds": 1200000,
        "message": "AssertionError: 201 != 400",
    }


def test_a_run_starts_on_the_test_project_with_its_stage_and_endpoint() -> None:
    runs, stub = stubbed()
    variables = [
        {"name": "SHIPWAVE_PIPELINE_ID", "value": PIPELINE, "type": "PLAINTEXT"},
        {"name": "SHIPWAVE_CHANGE_ID", "value": "chg-1", "type": "PLAINTEXT"},
        {"name": "SHIPWAVE_STAGE", "value": "beta", "type": "PLAINTEXT"},
        {
            "name": "SHIPWAVE_ENDPOINT",
            "value": "https://orders.beta.acme.example",
            "type": "PLAINTEXT",
        },
    ]
    stub.add_response(
        "start_build",
        {"build": {"id": RUN_ID, "arn": RUN}},
        {
            "projectName": PROJECT,
            "sourceVersion": "a" * 40,
            "idempotencyToken": f"{PIPELINE}/chg-1/beta",
            "environmentVariablesOverride": variables,
        },
    )
    with stub:
        assert runs.start(request()) == RUN
    with pytest.raises(IntegrationTestRunError, match="names no endpoint"):
        runs.start(request(endpoint=""))


def test_the_failed_and_erroring_tests_are_read_from_the_runs_report() -> None:
    runs, stub = stubbed()
    stub.add_response(
        "batch_get_builds", {"builds": [{"id": RUN_ID, "reportArns": [REPORT]}]}, {"ids": [RUN_ID]}
    )
    stub.add_response(
        "describe_test_cases",
        {"testCases": [case("test_an_order_of_more_than_fifty_items_is_refused", "FAILED")]},
        {"reportArn": REPORT, "filter": {"status": "FAILED"}},
    )
    stub.add_response(
        "describe_test_cases",
        {"testCases": [case("test_a_body_that_is_not_json_is_refused", "ERROR")]},
        {"reportArn": REPORT, "filter": {"status": "ERROR"}},
    )
    with stub:
        assert runs.failed_tests(RUN) == (
            "integration_tests.test_api.CreateOrderEndpointTest.test_an_order_of_more_than_fifty_items_is_refused",
            "integration_tests.test_api.CreateOrderEndpointTest.test_a_body_that_is_not_json_is_refused",
        )
    stub.assert_no_pending_responses()


def test_a_run_without_a_report_or_whose_report_cannot_be_read_cannot_vouch() -> None:
    runs, stub = stubbed()
    stub.add_response(
        "batch_get_builds", {"builds": [{"id": RUN_ID, "reportArns": []}]}, {"ids": [RUN_ID]}
    )
    with stub, pytest.raises(IntegrationTestRunError, match="left no test report"):
        runs.failed_tests(RUN)
    runs, stub = stubbed()
    stub.add_client_error("batch_get_builds", "AccessDeniedException", "not allowed")
    with stub, pytest.raises(IntegrationTestRunError, match="unreadable"):
        runs.failed_tests(RUN)
