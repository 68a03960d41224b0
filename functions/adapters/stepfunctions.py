"""Callbacks to Step Functions executions."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from domain.conventions import execution_name
from domain.errors import ShipwaveError
from domain.ports import Executions, Workflow

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions.client import SFNClient

#: The task already finished or timed out: a retried hand-off finds nothing to do.
_GONE = ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken")


class WorkflowUnavailableError(ShipwaveError):
    """Step Functions could not be told about a hand-off."""


class StepFunctionsWorkflow(Workflow):
    """SendTaskSuccess/SendTaskFailure; raises WorkflowUnavailableError on other AWS errors."""

    def __init__(self, *, client: SFNClient | None = None, region: str | None = None) -> None:
        self._client: SFNClient = client or boto3.client("stepfunctions", region_name=region)

    def resume(self, token: str, output: dict[str, object]) -> bool:
        try:
            self._client.send_task_success(taskToken=token, output=json.dumps(output))
        except ClientError as error:
            return self._gone(error, "resume")
        except BotoCoreError as error:
            raise WorkflowUnavailableError(f"resume a waiting task failed ({error})") from None
        return True

    def fail(self, token: str, error: str, cause: str) -> bool:
        try:
            self._client.send_task_failure(taskToken=token, error=error, cause=cause[:32768])
        except ClientError as failure:
            return self._gone(failure, "fail")
        except BotoCoreError as failure:
            raise WorkflowUnavailableError(f"fail a waiting task failed ({failure})") from None
        return True

    @staticmethod
    def _gone(error: ClientError, what: str) -> bool:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in _GONE:
            return False
        raise WorkflowUnavailableError(f"{what} a waiting task failed ({code}: {error})")


class StepFunctionsExecutions(Executions):
    """One execution per run of a change, named after it (a retried intake starts nothing
    twice; a person's retry runs as `<change>-retry-<n>`)."""

    def __init__(
        self,
        state_machines: dict[str, str],
        *,
        client: SFNClient | None = None,
        region: str | None = None,
    ) -> None:
        self._machines = state_machines
        self._client: SFNClient = client or boto3.client("stepfunctions", region_name=region)

    def start(
        self,
        pipeline_id: str,
        change_id: str,
        execution_input: dict[str, object],
        *,
        name: str | None = None,
    ) -> str:
        machine = self._machines.get(pipeline_id)
        if machine is None:
            raise WorkflowUnavailableError(f"no state machine for pipeline {pipeline_id!r}")
        name = name or execution_name(change_id)
        try:
            response = self._client.start_execution(
                stateMachineArn=machine, name=name, input=json.dumps(execution_input)
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                return f"{machine.replace(':stateMachine:', ':execution:')}:{name}"
            raise WorkflowUnavailableError(
                f"start pipeline {pipeline_id!r} for {change_id!r} failed ({error})"
            ) from None
        except BotoCoreError as error:
            raise WorkflowUnavailableError(
                f"start pipeline {pipeline_id!r} failed ({error})"
            ) from None
        return response["executionArn"]

    def stop(
        self, pipeline_id: str, change_id: str, cause: str, *, name: str | None = None
    ) -> bool:
        machine = self._machines.get(pipeline_id)
        if machine is None:
            raise WorkflowUnavailableError(f"no state machine for pipeline {pipeline_id!r}")
        execution = name or execution_name(change_id)
        arn = f"{machine.replace(':stateMachine:', ':execution:')}:{execution}"
        try:
            described = self._client.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                return False
            self._client.stop_execution(executionArn=arn, error="Aborted", cause=cause[:32768])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
                return False
            raise WorkflowUnavailableError(f"stop {arn} failed ({error})") from None
        except BotoCoreError as error:
            raise WorkflowUnavailableError(f"stop {arn} failed ({error})") from None
        return True
