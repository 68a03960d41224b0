"""Every step handler driven with hostile values in every field (Hypothesis): a valid request
of each action, as the state machine sends it, with one field replaced by something no state
machine sends (huge or negative numbers, NaN, text of any kind, nesting, nothing) or removed.
Whatever comes in, a handler raises only its documented errors (its request error, a
validation error of its input model, a shipwave domain error), and when it refuses, nothing
is written to the log."""

from __future__ import annotations

import copy
import os
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.errors import ShipwaveError
from handlers.alarm import AlarmEventError
from handlers.bake import BakeRequestError
from handlers.blockers import BlockersRequestError
from handlers.build import BuildRequestError
from handlers.deploy import DeployRequestError
from handlers.executions import ExecutionEventError
from handlers.lease import LeaseRequestError
from handlers.transition import TransitionRequestError
from statemachines.local.runtime import LocalRuntime
from tests.e2e.test_refusals import PIPELINE, scope_input

Make = Callable[..., LocalRuntime]
DOCUMENTED = (
    ValidationError,
    ShipwaveError,
    AlarmEventError,
    BakeRequestError,
    BlockersRequestError,
    BuildRequestError,
    DeployRequestError,
    ExecutionEventError,
    LeaseRequestError,
    TransitionRequestError,
)
#: what was tried, for the closing figures (inputs, rejected, accepted)
TALLY: Counter[str] = Counter()

hostile = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([-1, 0, 10**12, 2**63, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=300),
    st.sampled_from(["", " ", "no-such-stage", "nowhere", "ghost", "\x00", "../../etc", "é" * 50]),
    st.text(min_size=5_000, max_size=20_000),
    st.lists(st.integers(), max_size=5),
    st.recursive(st.none(), lambda inner: st.lists(inner, max_size=2), max_leaves=60),
    st.dictionaries(st.text(max_size=10), st.integers(), max_size=3),
)


def templates(runtime: LocalRuntime, change: str) -> list[tuple[str, dict[str, Any]]]:
    """One valid request per handler action, for the change in flight; and the repository's
    notification of the merge that started it (a redelivery)."""
    token = "a-task-token"
    spec = runtime.specs[PIPELINE]
    head = runtime.commit_id(change)
    previous = runtime.repositories[spec.repository].log(None, head)[-2][0]
    change_input = {"pipeline_id": PIPELINE, "change_id": change}
    return [
        ("shipwave-intake", runtime.notification(spec, previous, head)),
        ("shipwave-bake", {"action": "start", "token": token, "input": scope_input(change)}),
        ("shipwave-bake", {"action": "check", "input": scope_input(change)}),
        ("shipwave-bake", {"action": "plan", "input": scope_input(change)}),
        ("shipwave-deploy", {"action": "one-box", "input": scope_input(change)}),
        ("shipwave-deploy", {"action": "rollback", "input": scope_input(change)}),
        (
            "shipwave-deploy",
            {"action": "rollback-stage", "stage": "gamma", "input": scope_input(change)},
        ),
        (
            "shipwave-lease",
            {"action": "acquire", "stage": "wave1", "token": token, "input": change_input},
        ),
        (
            "shipwave-transition",
            {"action": "stage-succeeded", "stage": "gamma", "next": "wave1", "input": change_input},
        ),
        (
            "shipwave-transition",
            {"action": "stage-failed", "stage": "gamma", "input": change_input},
        ),
        ("shipwave-transition", {"action": "change-completed", "input": change_input}),
        ("shipwave-blockers", {"action": "review", "input": change_input}),
        (
            "shipwave-alarm",
            {
                "source": "aws.cloudwatch",
                "detail-type": "CloudWatch Alarm State Change",
                "account": "111111111111",
                "region": "us-east-1",
                "detail": {
                    "alarmName": "create-order-high-severity",
                    "state": {"value": "ALARM", "reason": "Threshold Crossed"},
                },
            },
        ),
    ]


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every field of a request, nested ones included."""
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        yield (*prefix, key)
        yield from paths(item, (*prefix, key))


def mutated(request: dict[str, Any], path: tuple[Any, ...], value: Any, drop: bool) -> Any:
    request = copy.deepcopy(request)
    holder = request
    for key in path[:-1]:
        holder = holder[key]
    if drop:
        del holder[path[-1]]
    else:
        holder[path[-1]] = value
    return request


@pytest.fixture(scope="module", autouse=True)
def tally() -> Iterator[None]:
    """The figures of the run (shown with `pytest -s`, and by bench/fuzz.py)."""
    yield
    print(
        f"\n[fuzz] inputs {TALLY['inputs']}, rejected {TALLY['rejected']}, "
        f"accepted {TALLY['accepted']}, unhandled 0"
    )


@settings(
    max_examples=int(os.environ.get("SHIPWAVE_FUZZ_EXAMPLES", "250")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_hostile_values_in_any_field_raise_only_documented_errors_and_write_nothing(
    baking_at_gamma: tuple[LocalRuntime, str], data: st.DataObject
) -> None:
    runtime, change = baking_at_gamma
    function, request = data.draw(st.sampled_from(templates(runtime, change)), label="request")
    path = data.draw(st.sampled_from(list(paths(request))), label="field")
    drop = data.draw(st.booleans().map(lambda b: b and data.draw(st.booleans())), label="drop")
    value = None if drop else data.draw(hostile, label="value")
    event = mutated(request, path, value, drop)
    before = runtime.store.last_sequence(PIPELINE)
    TALLY["inputs"] += 1
    try:
        runtime._invoke(function, event)
    except DOCUMENTED:
        TALLY["rejected"] += 1
        assert runtime.store.last_sequence(PIPELINE) == before, (function, path, value)
    else:
        TALLY["accepted"] += 1
