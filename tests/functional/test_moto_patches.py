"""The local runtime's moto patch points fail loudly when moto moves them."""

from __future__ import annotations

import pytest
from moto.dynamodb.models import DynamoDBBackend

from statemachines.local.moto_patches import (
    MotoPatchError,
    execution_status,
    isolate_dynamodb,
    self_test,
)


def test_self_test_passes_on_the_pinned_moto() -> None:
    self_test()


def test_a_missing_patch_point_is_an_error_not_a_silent_skip(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(DynamoDBBackend, "transact_write_items")
    with pytest.raises(MotoPatchError, match="transact_write_items"):
        isolate_dynamodb()


def test_execution_status_refuses_what_is_not_an_execution_arn() -> None:
    with pytest.raises(ValueError, match="not a Step Functions execution ARN"):
        execution_status("arn:aws:states:us-east-1:123456789012:stateMachine:shipwave-x")


def test_shared_jsonpath_parses_find_the_same_values_as_fresh_ones() -> None:
    from jsonpath_ng.ext.parser import parse

    from statemachines.local.moto_patches import _parse_ext

    data = {"progress": {"done": False, "batch": 2}, "scopes": [{"region": "a"}, {"region": "b"}]}
    for path in ("$.progress.done", "$.scopes[*].region", "$.progress"):
        shared = [m.value for m in _parse_ext(path).find(data)]
        assert shared == [m.value for m in parse(path).find(data)]
        assert _parse_ext(path) is _parse_ext(path)


def test_a_lambda_task_for_an_unknown_function_fails_as_lambda_fails_it() -> None:
    """moto's simple Lambda answers any name; the in-process task does not."""
    import boto3
    from botocore.exceptions import ClientError
    from moto import mock_aws

    from statemachines.local import moto_patches

    moto_patches.route_lambda(lambda name, payload: {"handled": name})
    try:
        with mock_aws(config={"lambda": {"use_docker": False}}):
            boto3.client("lambda", region_name="us-east-1")  # the backend exists
            arn = "arn:aws:lambda:us-east-1:123456789012:function:shipwave-nowhere"
            with pytest.raises(ClientError, match="ResourceNotFoundException"):
                moto_patches._invoke_lambda_function(
                    {"FunctionName": arn, "Payload": b"{}"}, "us-east-1", None
                )
    finally:
        moto_patches.route_lambda(None)


def test_a_transaction_whose_write_fails_late_leaves_nothing_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The check-then-write transaction undoes the writes it made when a later one fails."""
    import boto3
    from moto import mock_aws

    isolate_dynamodb()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.put_item(TableName="t", Item={"pk": {"S": "a"}, "v": {"S": "old"}})
        real_put = DynamoDBBackend.put_item
        calls = 0

        def failing_third(self: DynamoDBBackend, *args: object, **kwargs: object) -> object:
            nonlocal calls
            calls += 1
            if calls == 3:
                raise RuntimeError("disk full (injected)")
            return real_put(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, "put_item", failing_third)
        with pytest.raises(Exception, match="disk full"):
            client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": "t", "Item": {"pk": {"S": k}, "v": {"S": "new"}}}}
                    for k in ("a", "b", "c")
                ]
            )
        monkeypatch.setattr(DynamoDBBackend, "put_item", real_put)
        items = {i["pk"]["S"]: i["v"]["S"] for i in client.scan(TableName="t")["Items"]}
        assert items == {"a": "old"}
