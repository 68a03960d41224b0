"""The generated state machine: structure, names, retries and catches, and every path ends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from examples.reference import PIPELINES, CreateOrderApp
from statemachines.generator import (
    DOMAIN_ERRORS,
    MAX_STATE_NAME,
    PLACEHOLDERS,
    definition,
    substitute,
    to_json,
)

Json = dict[str, Any]


def blocks(machine: Json) -> Iterator[Json]:
    """The top-level States block and every Map's ItemProcessor block."""
    yield machine
    for state in machine["States"].values():
        if state["Type"] == "Map":
            yield from blocks(state["ItemProcessor"])


def all_states(machine: Json) -> Iterator[tuple[str, Json]]:
    for block in blocks(machine):
        yield from block["States"].items()


@pytest.fixture(scope="module")
def machine() -> Json:
    return definition(CreateOrderApp.spec())


def test_names_are_unique_readable_and_within_limits(machine: Json) -> None:
    names = [name for name, _ in all_states(machine)]
    assert len(names) == len(set(names))
    assert all(len(name) <= MAX_STATE_NAME for name in names)
    assert "Wave2 · AZ3 · Bake" in names
    assert "Gamma · OneBox · Deploy" in names
    assert "Wave1 · Blockers" in names


def test_every_task_has_retry_and_catch_as_designed(machine: Json) -> None:
    for name, state in all_states(machine):
        if state["Type"] != "Task":
            continue
        retries = state["Retry"]
        assert retries[0] == {"ErrorEquals": list(DOMAIN_ERRORS), "MaxAttempts": 0}, name
        assert any("Lambda.ServiceException" in r["ErrorEquals"] for r in retries), name
        # every task, callbacks too, retries a crashed handler (a callback's retry brings a
        # new token, which its handler records); decisions sent to a callback never are
        assert retries[-1]["ErrorEquals"] == ["States.TaskFailed"], name
        assert "States.Timeout" not in str(retries), name
        assert state["Catch"][-1]["ErrorEquals"] == ["States.ALL"], name


def test_bakes_are_callbacks_timed_by_the_bake_and_caught_by_timeout(machine: Json) -> None:
    bakes = [(n, s) for n, s in all_states(machine) if n.endswith("· Bake") and s["Type"] == "Task"]
    assert bakes
    for name, state in bakes:
        assert state["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
        assert state["TimeoutSecondsPath"] == "$.progress.bake_seconds"
        assert state["Parameters"]["Payload"]["token.$"] == "$$.Task.Token"
        timeout, alarm = state["Catch"]
        assert timeout["ErrorEquals"] == ["States.Timeout"]
        assert timeout["Next"].endswith("· Check"), name
        assert alarm["Next"].endswith("· Roll back"), name


def test_every_path_ends_and_every_state_is_reachable(machine: Json) -> None:
    for block in blocks(machine):
        states = block["States"]
        reachable, todo = set(), [block["StartAt"]]
        while todo:
            name = todo.pop()
            if name in reachable:
                continue
            assert name in states, f"{name!r} is a target but not a state of its block"
            reachable.add(name)
            state = states[name]
            targets = [state.get("Next"), state.get("Default")]
            targets += [c["Next"] for c in state.get("Choices", [])]
            targets += [c["Next"] for c in state.get("Catch", [])]
            if state["Type"] in ("Succeed", "Fail"):
                assert not any(targets), name
            else:
                assert any(targets) or state.get("End"), f"{name!r} leads nowhere"
            todo += [t for t in targets if t]
        assert reachable == set(states)


def test_a_wave_fans_out_over_its_regions_each_going_through_the_steps_alone(
    machine: Json,
) -> None:
    regions = machine["States"]["Wave3 · Regions"]
    plan = machine["States"]["Wave3 · Scopes"]
    assert regions["Type"] == "Map"
    assert regions["ItemsPath"] == "$.regions"
    assert [item["region"] for item in plan["Result"]] == [
        "eu-west-1",
        "ap-northeast-1",
        "us-west-2",
    ]
    (us_west_2,) = [item for item in plan["Result"] if item["region"] == "us-west-2"]
    assert list(us_west_2["scopes"]) == ["OneBox", "AZ1", "AZ2", "AZ3", "AZ4", "Bake"]
    assert us_west_2["scopes"]["AZ4"] == "us-west-2/usw2-az4"
    assert regions["ItemSelector"]["change_id.$"] == "$.change_id"
    processor = regions["ItemProcessor"]
    assert processor["StartAt"] == "Wave3 · OneBox · Here?"
    states = processor["States"]
    # a region without a fourth AZ skips that step
    here = states["Wave3 · AZ4 · Here?"]
    assert here["Choices"] == [
        {"Variable": "$.scopes.AZ4", "IsPresent": False, "Next": "Wave3 · Bake · Here?"}
    ]
    scope = states["Wave3 · AZ4 · Scope"]["Parameters"]
    assert (scope["stage"], scope["step"], scope["phase"]) == ("wave3", "AZ4", "rolling")
    assert scope["scope.$"] == "$.scopes.AZ4"
    # one step after the other inside a region: at most one AZ per region at a time
    assert states["Wave3 · AZ1 · Done"]["Next"] == "Wave3 · AZ2 · Here?"
    assert states["Wave3 · Bake · Done"]["Next"] == "Wave3 · Region done"


def test_change_and_stage_travel_in_every_state(machine: Json) -> None:
    for name, state in all_states(machine):
        assert "OutputPath" not in state, name
        assert state.get("ResultPath") != "$", name
        if state["Type"] == "Task":
            assert state["Parameters"]["Payload"]["input.$"] == "$", name
    enter = machine["States"]["Wave2 · Enter"]
    assert enter["ResultPath"] == "$.stage"
    assert enter["ResultSelector"]["name"] == "wave2"


def test_stages_run_in_order_and_end_completed(machine: Json) -> None:
    states = machine["States"]
    assert machine["StartAt"] == "Start"
    assert states["Start"]["Choices"][0] == {
        "Variable": "$.start_at",
        "IsPresent": False,
        "Next": "Source · Review",
    }
    assert states["Source · Reviewed?"]["Default"] == "Build"
    assert states["Source · Wait for review"]["Next"] == "Source · Review"
    assert states["Build"]["Next"] == "Alpha · Enter"
    assert states["Alpha · Succeeded"]["Next"] == "Beta · Enter"
    assert states["Gamma · Succeeded"]["Next"] == "Wave1 · Enter"
    assert states["Wave5 · Succeeded"]["Next"] == "Completed"
    assert states["Wave1 · Enter"]["Next"] == "Wave1 · Blockers"
    assert states["Alpha · Enter"]["Next"] == "Alpha · Blockers"
    assert states["Alpha · Blocked?"]["Default"] == "Alpha · Scopes"
    assert states["Wave1 · Enter"]["Catch"][0] == {
        "ErrorEquals": ["Superseded"],
        "Next": "Wave1 · Superseded",
    }


def test_the_build_is_a_callback_that_a_failed_build_stops(machine: Json) -> None:
    """Nothing is deployed but what the reviewed commit's build made: the task waits for the
    build's end (past the build's own timeout), and any failure ends the change there."""
    states = machine["States"]
    build = states["Build"]
    assert build["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert build["Parameters"]["Payload"]["token.$"] == "$$.Task.Token"
    assert build["TimeoutSeconds"] == 20 * 60 + 30 * 60  # CreateOrderApp's 20 min, and margin
    assert build["ResultPath"] == "$.artifact"
    assert build["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Build · Failed"}
    ]
    # a crashed start is retried (it starts no second build: the recorded one is reused);
    # a failed build, sent to the task as BuildFailed, never is
    assert build["Retry"][0] == {"ErrorEquals": list(DOMAIN_ERRORS), "MaxAttempts": 0}
    assert "BuildFailed" in DOMAIN_ERRORS
    failed = states["Build · Failed"]
    assert failed["Parameters"]["Payload"]["action"] == "failed"
    assert failed["Next"] == states["Build · Failed"]["Catch"][0]["Next"] == "Build · Stopped"
    assert states["Build · Stopped"] == {
        "Type": "Fail",
        "Error": "BuildFailed",
        "Cause": "the change's build failed; see shipwave history for the phase and log",
    }


def test_no_features_the_local_interpreter_lacks() -> None:
    for pipeline in PIPELINES:
        text = to_json(pipeline.spec())
        for feature in ("JSONata", "QueryLanguage", '"Assign"', "states:startExecution"):
            assert feature not in text


def test_placeholders_are_all_substituted() -> None:
    text = to_json(CreateOrderApp.spec())
    arns = {name: f"arn:aws:lambda:eu-west-1:111122223333:function:{name}" for name in PLACEHOLDERS}
    deployed = json.loads(substitute(text, arns))
    assert "${" not in json.dumps(deployed)
    for name in PLACEHOLDERS:
        assert "${" + name + "}" in text


def test_definition_stays_within_the_quota() -> None:
    for pipeline in PIPELINES:
        assert len(to_json(pipeline.spec()).encode()) <= 256 * 1024


def test_a_change_waits_at_source_until_reviewed(machine: Json) -> None:
    states = machine["States"]
    review = states["Source · Review"]
    assert review["Parameters"]["Payload"]["action"] == "review"
    assert review["Catch"][0]["Next"] == "Source · Failed"
    choices = {c["StringEquals"]: c["Next"] for c in states["Source · Reviewed?"]["Choices"]}
    assert choices == {"hold": "Source · Wait for review", "superseded": "Source · Superseded"}
    assert states["Source · Wait for review"]["SecondsPath"] == "$.review.wait_seconds"
    assert states["Source · Failed"]["Next"] == "Source · Stopped"


def test_a_retry_starts_where_its_change_failed_and_an_unknown_start_fails(machine: Json) -> None:
    """A merge's input has no start_at and goes to the review; a person's retry names the
    source, the build or a stage, and goes to its review, its build or that stage's Enter
    (the lease and the preflight run again); any other start fails at once."""
    start = machine["States"]["Start"]
    assert start["Type"] == "Choice"
    targets = {c.get("StringEquals"): c["Next"] for c in start["Choices"]}
    assert targets["source"] == "Source · Review"
    assert targets["build"] == "Build"
    assert targets["gamma"] == "Gamma · Enter"
    assert targets["wave5"] == "Wave5 · Enter"
    assert {c["Next"] for c in start["Choices"]} <= set(machine["States"])
    assert start["Default"] == "Start · Unknown"
    assert machine["States"]["Start · Unknown"]["Type"] == "Fail"
