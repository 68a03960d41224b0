"""Rare AWS errors become shipwave's own (botocore Stubber, as the style guide allows)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from adapters.dynamodb import DynamoDBEventStore
from domain.errors import ConcurrencyConflictError, EventStoreUnavailableError
from tests.builders import change_received


def stubbed() -> tuple[DynamoDBEventStore, Stubber]:
    client = boto3.client("dynamodb", region_name="eu-west-1")
    return DynamoDBEventStore("events", client=client), Stubber(client)


def test_throttled_append_is_unavailable_not_a_botocore_error() -> None:
    store, stub = stubbed()
    stub.add_client_error(
        "transact_write_items", service_error_code="ProvisionedThroughputExceededException"
    )
    with stub, pytest.raises(EventStoreUnavailableError, match="append to 'orders-app'"):
        store.append([change_received("orders-app", 1, "c1")])


def test_a_concurrent_transaction_on_the_same_items_is_a_conflict() -> None:
    store, stub = stubbed()
    stub.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        response_meta={},
        modeled_fields={
            "CancellationReasons": [
                {"Code": "TransactionConflict"},
                {"Code": "None"},
            ]
        },
    )
    with stub, pytest.raises(ConcurrencyConflictError):
        store.append([change_received("orders-app", 1, "c1")])


def test_missing_table_is_named() -> None:
    store, stub = stubbed()
    stub.add_client_error("query", service_error_code="ResourceNotFoundException")
    with stub, pytest.raises(EventStoreUnavailableError, match="the table does not exist"):
        list(store.read("orders-app"))
