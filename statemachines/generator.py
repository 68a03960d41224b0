"""Pipeline spec → Amazon States Language: one state machine per pipeline.

Pure: the same JSON is deployed by CDK (`DefinitionBody.from_string` with the `${...}`
placeholders substituted by function ARNs) and executed by the local runtime.

Shape of one execution (one merged change):

    Start                     where the run begins: the review (a merge), or where a change
                              failed when a person retries it (`start_at`: source, build or
                              a stage; its review and artifact are in the log)
    Source  · Review          the review gate: every commit approved by a team member other
                              than its author, read from the source system; else Wait → again
    Build                     callback: the pipeline's build of the head commit (CodeBuild or
                              the local builder); its end resumes it with the artifact, or
                              fails it: Build · Failed records `build-failed` and stops
    <Stage> · Enter           lease (callback: waits while the stage is busy; Superseded ends it)
    <Stage> · Blockers        preflight: every watched alarm exists, has actions, has data;
                              before a wave also team aggregate and company alarms;
                              Blocked? → Wait → again
    <Stage> · <Step> · Scopes the step's scopes (at most one AZ/cell per region)
    <Stage> · <Step>          Map over those scopes:
        · Deploy / More?      one-box, or rolling batches until done; a production step
                              starts only inside its region's window, and no batch goes
                              while alarms cannot vouch: Wait to deploy → Deploy again
        · Bake                callback task, timeout = bake time; an alarm fails it at once
        · Check / Verdict     datapoints and alarm history; extend, roll back or pass
        · Roll back           the scope returns to its last known-good artifact
    <Stage> · Integration tests   pre-production stages the spec names: the team's tests
                              against the stage (callback); a failure rolls the stage back
    <Stage> · Succeeded       promotion (releases the lease to the newest waiting change)
    <Stage> · Roll back → Failed   when any scope of the step failed

No JSONata, no `Assign`, no nested executions: the local interpreter lacks them.
"""

from __future__ import annotations

import json
from typing import Any

from domain.conventions import START_AT
from domain.spec import IntegrationTests, PipelineSpec, StageSpec, StepSpec

#: Placeholders CDK substitutes with the handler functions' ARNs.
PLACEHOLDERS = (
    "BuildFunctionArn",
    "LeaseFunctionArn",
    "BlockersFunctionArn",
    "DeployFunctionArn",
    "BakeFunctionArn",
    "TransitionFunctionArn",
)

#: Errors that mean "the pipeline decided", never "try again".
DOMAIN_ERRORS = (
    "Superseded",
    "BuildFailed",
    "IntegrationTestsFailed",
    "AlarmFired",
    "AlarmFiredError",
    "HealthCheckFailedError",
    "RollbackFailedError",
    "ChecksumMismatchError",
)

#: Lambda's own transient errors, retried with jittered backoff.
LAMBDA_TRANSIENT = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)

#: longer than the slowest legitimate rollout (4-5 business days, plus holds): an execution
#: stuck past it ends TIMED_OUT, and the controller releases what it held
EXECUTION_TIMEOUT_SECONDS = 90 * 86400
#: how long a change may wait for a busy stage before it gives up (recorded as failed)
LEASE_WAIT_SECONDS = 14 * 86400

MAX_STATE_NAME = 80
SEP = " · "
START = "Start"
SOURCE = "Source"
BUILD = "Build"
#: how long a build may run past its own timeout before the pipeline stops waiting for its
#: end (CodeBuild's queue, provisioning and upload come on top of the commands)
BUILD_REPORT_MARGIN_SECONDS = 30 * 60

Json = dict[str, Any]


def definition(spec: PipelineSpec) -> Json:
    """The ASL definition of a pipeline's state machine, with ${...} ARN placeholders."""
    states: Json = _start(spec)
    states.update(_source(BUILD))
    states.update(_build(spec, f"{spec.stages[0].title}{SEP}Enter"))
    for index, stage in enumerate(spec.stages):
        following = spec.stages[index + 1] if index + 1 < len(spec.stages) else None
        after = f"{following.title}{SEP}Enter" if following else "Completed"
        tests = spec.integration_tests if spec.tests_at(stage.name) else None
        states.update(_stage(stage, after, following.name if following else None, tests))
    states["Completed"] = _task(
        "TransitionFunctionArn",
        {"action": "change-completed"},
        next_state="Deployed everywhere",
        catch_to="Deployed everywhere",
    )
    states["Deployed everywhere"] = {"Type": "Succeed"}
    return {
        "Comment": (
            f"shipwave pipeline {spec.pipeline_id} ({spec.kind} of {spec.service}, team "
            f"{spec.team}): {len(spec.stages)} stages, {len(spec.regions)} regions"
        ),
        "StartAt": START,
        "TimeoutSeconds": EXECUTION_TIMEOUT_SECONDS,
        "States": states,
    }


def to_json(spec: PipelineSpec) -> str:
    """The definition as compact JSON text, as CDK deploys it."""
    return json.dumps(definition(spec), separators=(",", ":"), ensure_ascii=False)


def substitute(text: str, arns: dict[str, str]) -> str:
    """What CDK's substitutions do: every ${Name} replaced by its ARN."""
    for name in PLACEHOLDERS:
        text = text.replace("${" + name + "}", arns[name])
    return text


# --- stages --------------------------------------------------------------------------------


def _name(*parts: str) -> str:
    name = SEP.join(parts)
    if len(name) > MAX_STATE_NAME:
        raise ValueError(f"state name {name!r} is longer than {MAX_STATE_NAME} characters")
    return name


def _start(spec: PipelineSpec) -> Json:
    """A merge's run starts at the review; a person's retry of a failed change starts where
    it failed (`domain.operations.retry_point`): its review, its build or a stage's Enter,
    whose lease and preflight run again. A start the machine does not know fails at once."""
    field = f"$.{START_AT}"
    choices: list[Json] = [
        {"Variable": field, "IsPresent": False, "Next": _name(SOURCE, "Review")},
        {"Variable": field, "StringEquals": "source", "Next": _name(SOURCE, "Review")},
        {"Variable": field, "StringEquals": "build", "Next": BUILD},
    ]
    choices += [
        {"Variable": field, "StringEquals": stage.name, "Next": _name(stage.title, "Enter")}
        for stage in spec.stages
    ]
    return {
        START: {"Type": "Choice", "Choices": choices, "Default": _name(START, "Unknown")},
        _name(START, "Unknown"): {
            "Type": "Fail",
            "Error": "UnknownStart",
            "Cause": "the execution's start_at names no stage of this pipeline",
        },
    }


def _source(first_stage: str) -> Json:
    """The review gate: nothing deploys until every commit of the change is reviewed."""
    s = SOURCE
    return {
        _name(s, "Review"): _task(
            "BlockersFunctionArn",
            {"action": "review"},
            next_state=_name(s, "Reviewed?"),
            result_path="$.review",
            selector={
                "outcome.$": "$.Payload.outcome",
                "wait_seconds.$": "$.Payload.wait_seconds",
                "unreviewed.$": "$.Payload.unreviewed",
            },
            catch_to=_name(s, "Failed"),
        ),
        _name(s, "Reviewed?"): {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.review.outcome",
                    "StringEquals": "hold",
                    "Next": _name(s, "Wait for review"),
                },
                {
                    "Variable": "$.review.outcome",
                    "StringEquals": "superseded",
                    "Next": _name(s, "Superseded"),
                },
            ],
            "Default": first_stage,
        },
        _name(s, "Wait for review"): {
            "Type": "Wait",
            "SecondsPath": "$.review.wait_seconds",
            "Next": _name(s, "Review"),
        },
        _name(s, "Superseded"): {
            "Type": "Succeed",
            "Comment": "A newer change carries this change's commits on.",
        },
        _name(s, "Failed"): _task(
            "TransitionFunctionArn",
            {"action": "stage-failed", "stage": "source"},
            next_state=_name(s, "Stopped"),
            catch_to=_name(s, "Stopped"),
        ),
        _name(s, "Stopped"): {
            "Type": "Fail",
            "Error": "ReviewFailed",
            "Cause": "the review gate could not decide; see shipwave history",
        },
    }


def _build(spec: PipelineSpec, first_stage: str) -> Json:
    """The reviewed head commit is built once; what it makes is what every stage deploys."""
    return {
        BUILD: _task(
            "BuildFunctionArn",
            {"action": "start"},
            next_state=first_stage,
            callback=True,
            timeout_seconds=spec.build.timeout_minutes * 60 + BUILD_REPORT_MARGIN_SECONDS,
            result_path="$.artifact",
            catches=[
                {
                    "ErrorEquals": ["States.ALL"],
                    "ResultPath": "$.error",
                    "Next": _name(BUILD, "Failed"),
                }
            ],
        ),
        _name(BUILD, "Failed"): _task(
            "BuildFunctionArn",
            {"action": "failed"},
            next_state=_name(BUILD, "Stopped"),
            catch_to=_name(BUILD, "Stopped"),
        ),
        _name(BUILD, "Stopped"): {
            "Type": "Fail",
            "Error": "BuildFailed",
            "Cause": "the change's build failed; see shipwave history for the phase and log",
        },
    }


def _stage(
    stage: StageSpec, after: str, next_stage: str | None, tests: IntegrationTests | None
) -> Json:
    t = stage.title
    first_step = _name(t, "Scopes")
    states: Json = {}
    states[_name(t, "Enter")] = _task(
        "LeaseFunctionArn",
        {"action": "acquire", "stage": stage.name},
        next_state=_name(t, "Blockers"),
        callback=True,
        timeout_seconds=LEASE_WAIT_SECONDS,
        result_path="$.stage",
        selector={"name": stage.name, "lease.$": "$"},
        catches=[
            {"ErrorEquals": ["Superseded"], "Next": _name(t, "Superseded")},
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": _name(t, "Failed")},
        ],
    )
    # Every stage: the alarm preflight; a production stage also its blockers.
    states[_name(t, "Blockers")] = _task(
        "BlockersFunctionArn",
        {"action": "check", "stage": stage.name, "regions": list(stage.regions)},
        next_state=_name(t, "Blocked?"),
        result_path="$.blockers",
        selector={"blocked.$": "$.Payload.blocked", "wait_seconds.$": "$.Payload.wait_seconds"},
        catch_to=_name(t, "Failed"),
    )
    states[_name(t, "Blocked?")] = {
        "Type": "Choice",
        "Choices": [
            {
                "Variable": "$.blockers.blocked",
                "BooleanEquals": True,
                "Next": _name(t, "Wait for blockers"),
            }
        ],
        "Default": first_step,
    }
    states[_name(t, "Wait for blockers")] = {
        "Type": "Wait",
        "SecondsPath": "$.blockers.wait_seconds",
        "Next": _name(t, "Blockers"),
    }
    deployed = _name(t, "Integration tests") if tests else _name(t, "Succeeded")
    states.update(_regions(stage, deployed))
    if tests is not None:
        states.update(_integration_tests(stage, tests))
    states[_name(t, "Succeeded")] = _task(
        "TransitionFunctionArn",
        {"action": "stage-succeeded", "stage": stage.name, "next": next_stage},
        next_state=after,
        catch_to=_name(t, "Failed"),
    )
    states[_name(t, "Roll back")] = _task(
        "DeployFunctionArn",
        {"action": "rollback-stage", "stage": stage.name},
        next_state=_name(t, "Failed"),
        result_path="$.rollback",
        catch_to=_name(t, "Rollback failed"),
    )
    states[_name(t, "Failed")] = _task(
        "TransitionFunctionArn",
        {"action": "stage-failed", "stage": stage.name},
        next_state=_name(t, "Stopped"),
        catch_to=_name(t, "Stopped"),
    )
    states[_name(t, "Rollback failed")] = _task(
        "TransitionFunctionArn",
        {"action": "rollback-failed", "stage": stage.name},
        next_state=_name(t, "Blocked"),
        catch_to=_name(t, "Blocked"),
    )
    states[_name(t, "Stopped")] = {
        "Type": "Fail",
        "Error": "StageFailed",
        "Cause": f"{stage.name}: the change was rolled back or failed; see shipwave history",
    }
    states[_name(t, "Blocked")] = {
        "Type": "Fail",
        "Error": "RollbackFailed",
        "Cause": f"{stage.name}: rollback failed; the stage stays blocked until a person acts",
    }
    states[_name(t, "Superseded")] = {
        "Type": "Succeed",
        "Comment": "A newer change took this stage; this change's commits ride along with it.",
    }
    return states


def _integration_tests(stage: StageSpec, tests: IntegrationTests) -> Json:
    """The team's tests against the stage, once every region of it deployed and baked: a
    callback (the run's end resumes it); a failed test rolls the stage back."""
    t = stage.title
    return {
        _name(t, "Integration tests"): _task(
            "BuildFunctionArn",
            {"action": "test", "stage": stage.name},
            next_state=_name(t, "Succeeded"),
            callback=True,
            timeout_seconds=tests.timeout_minutes * 60 + BUILD_REPORT_MARGIN_SECONDS,
            result_path="$.tests",
            catches=[
                {
                    "ErrorEquals": ["States.ALL"],
                    "ResultPath": "$.error",
                    "Next": _name(t, "Tests failed"),
                }
            ],
        ),
        _name(t, "Tests failed"): _task(
            "BuildFunctionArn",
            {"action": "tests-failed", "stage": stage.name},
            next_state=_name(t, "Roll back"),
            # why the stage fails, as the log has it: the failed tests' names
            result_path="$.error",
            selector={"Error.$": "$.Payload.error", "Cause.$": "$.Payload.cause"},
            catch_to=_name(t, "Roll back"),
        ),
    }


def _regions(stage: StageSpec, after: str) -> Json:
    """Each region goes through the stage's steps on its own (one AZ/cell at a time, each step
    starting inside that region's window), so a region in another time zone never waits for
    the others between steps; the stage ends when every region has."""
    t = stage.title
    map_name = _name(t, "Regions")
    plan: dict[str, dict[str, str]] = {}
    for step in stage.steps:
        for scope in step.scopes:
            plan.setdefault(scope.region, {})[step.name] = scope.scope
    processor: Json = {}
    for index, step in enumerate(stage.steps):
        following = (
            _name(t, stage.steps[index + 1].name, "Here?")
            if index + 1 < len(stage.steps)
            else _name(t, "Region done")
        )
        processor.update(_step_in_region(stage, step, following))
    processor[_name(t, "Region done")] = {"Type": "Succeed"}
    return {
        _name(t, "Scopes"): {
            "Type": "Pass",
            "Result": [{"region": region, "scopes": scopes} for region, scopes in plan.items()],
            "ResultPath": "$.regions",
            "Next": map_name,
        },
        map_name: {
            "Type": "Map",
            "ItemsPath": "$.regions",
            "MaxConcurrency": 0,
            "ItemSelector": {
                "pipeline_id.$": "$.pipeline_id",
                "change_id.$": "$.change_id",
                "region.$": "$$.Map.Item.Value.region",
                "scopes.$": "$$.Map.Item.Value.scopes",
            },
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": _name(t, stage.steps[0].name, "Here?"),
                "States": processor,
            },
            "ResultPath": None,
            "Next": after,
            "Catch": [
                {
                    "ErrorEquals": ["States.ALL"],
                    "ResultPath": "$.error",
                    "Next": _name(t, "Roll back"),
                }
            ],
        },
    }


def _step_in_region(stage: StageSpec, step: StepSpec, after: str) -> Json:
    """One step in one region: skipped where the region has no scope in it (fewer AZs)."""
    p = _name(stage.title, step.name)
    states: Json = {
        _name(p, "Here?"): {
            "Type": "Choice",
            "Choices": [{"Variable": f"$.scopes.{step.name}", "IsPresent": False, "Next": after}],
            "Default": _name(p, "Scope"),
        },
        _name(p, "Scope"): {
            "Type": "Pass",
            "Parameters": {
                "pipeline_id.$": "$.pipeline_id",
                "change_id.$": "$.change_id",
                "stage": stage.name,
                "step": step.name,
                "phase": step.phase,
                "region.$": "$.region",
                "scopes.$": "$.scopes",
                "scope.$": f"$.scopes.{step.name}",
                "progress": {
                    "batch": 0,
                    "done": False,
                    "bake_seconds": step.bake_seconds,
                    "extensions": 0,
                    "verdict": "pending",
                    "wait_seconds": 0,
                },
            },
            "Next": "",  # set below: the step's first state
        },
    }
    scope_states = _scope_states(p, step, after)
    states[_name(p, "Scope")]["Next"] = scope_states["StartAt"]
    states.update(scope_states["States"])
    return states


def _scope_states(prefix: str, step: StepSpec, after: str) -> Json:
    p = prefix
    progress = {
        "batch.$": "$.Payload.batch",
        "done.$": "$.Payload.done",
        "bake_seconds.$": "$.Payload.bake_seconds",
        "extensions.$": "$.Payload.extensions",
        "verdict.$": "$.Payload.verdict",
        "wait_seconds.$": "$.Payload.wait_seconds",
    }
    states: Json = {}
    if step.phase == "bake":
        start = _name(p, "Start")
        states[start] = _task(
            "BakeFunctionArn",
            {"action": "plan"},
            next_state=_name(p, "Bake"),
            result_path="$.progress",
            selector=progress,
            catch_to=_name(p, "Roll back"),
        )
    else:
        start = _name(p, "Deploy")
        states[start] = _task(
            "DeployFunctionArn",
            {"action": step.phase},
            next_state=_name(p, "More?"),
            result_path="$.progress",
            selector=progress,
            catch_to=_name(p, "Roll back"),
        )
        states[_name(p, "More?")] = {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.progress.wait_seconds",
                    "NumericGreaterThan": 0,
                    "Next": _name(p, "Wait to deploy"),
                },
                {"Variable": "$.progress.done", "BooleanEquals": False, "Next": start},
            ],
            "Default": _name(p, "Bake"),
        }
        # The region's window is closed (a production step's start), or alarms that cannot
        # vouch (missing, no data, unreadable) hold the next batch: wait, then try again.
        states[_name(p, "Wait to deploy")] = {
            "Type": "Wait",
            "SecondsPath": "$.progress.wait_seconds",
            "Next": start,
        }
    states[_name(p, "Bake")] = _task(
        "BakeFunctionArn",
        {"action": "start"},
        next_state=_name(p, "Check"),
        callback=True,
        timeout_path="$.progress.bake_seconds",
        result_path="$.bake",
        catches=[
            {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.bake", "Next": _name(p, "Check")},
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": _name(p, "Roll back")},
        ],
    )
    states[_name(p, "Check")] = _task(
        "BakeFunctionArn",
        {"action": "check"},
        next_state=_name(p, "Verdict"),
        result_path="$.progress",
        selector=progress,
        catch_to=_name(p, "Roll back"),
    )
    states[_name(p, "Verdict")] = {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.progress.verdict", "StringEquals": "extend", "Next": _name(p, "Bake")},
            {"Variable": "$.progress.verdict", "StringEquals": "hold", "Next": _name(p, "Bake")},
            {
                "Variable": "$.progress.verdict",
                "StringEquals": "rollback",
                "Next": _name(p, "Roll back"),
            },
        ],
        "Default": _name(p, "Done"),
    }
    states[_name(p, "Roll back")] = _task(
        "DeployFunctionArn",
        {"action": "rollback"},
        next_state=_name(p, "Rolled back"),
        result_path="$.rollback",
        catch_to=_name(p, "Rollback failed"),
    )
    states[_name(p, "Rolled back")] = {
        "Type": "Fail",
        "Error": "RolledBack",
        "Cause": "the scope was returned to its last known-good artifact",
    }
    states[_name(p, "Rollback failed")] = {
        "Type": "Fail",
        "Error": "RollbackFailed",
        "Cause": "the scope could not be returned to its last known-good artifact",
    }
    states[_name(p, "Done")] = {"Type": "Pass", "Next": after}
    return {"StartAt": start, "States": states}


# --- tasks ---------------------------------------------------------------------------------


def _task(
    function: str,
    payload: Json,
    *,
    next_state: str,
    callback: bool = False,
    result_path: str | None = None,
    selector: Json | None = None,
    timeout_path: str | None = None,
    timeout_seconds: int | None = None,
    catch_to: str | None = None,
    catches: list[Json] | None = None,
) -> Json:
    """A Lambda step: the state's whole input travels as `input`, so handlers see the change,
    stage and scope, and a person reading the console sees them in every step's input."""
    body: Json = {**payload, "input.$": "$"}
    if callback:
        body["token.$"] = "$$.Task.Token"
    task: Json = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke" + (".waitForTaskToken" if callback else ""),
        "Parameters": {"FunctionName": "${" + function + "}", "Payload": body},
    }
    if timeout_path is not None:
        task["TimeoutSecondsPath"] = timeout_path
    if timeout_seconds is not None:
        task["TimeoutSeconds"] = timeout_seconds
    if selector is not None:
        task["ResultSelector"] = selector
    task["ResultPath"] = result_path
    task["Retry"] = _retries()
    if catches is None:
        catches = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": catch_to}]
    task["Catch"] = catches
    task["Next"] = next_state
    return task


def _retries() -> list[Json]:
    retries: list[Json] = [
        {"ErrorEquals": list(DOMAIN_ERRORS), "MaxAttempts": 0},
        {
            "ErrorEquals": list(LAMBDA_TRANSIENT),
            "IntervalSeconds": 2,
            "MaxAttempts": 6,
            "JitterStrategy": "FULL",
        },
    ]
    # A crashed handler is retried: its appends are idempotent, so a retry records once. So
    # is a callback task's (its retry carries a new token, which the handler records in the
    # old one's place); the failures another party sends a callback task are decisions, all
    # named in DOMAIN_ERRORS above, and never retried.
    retries.append(
        {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 5, "JitterStrategy": "FULL"}
    )
    return retries
