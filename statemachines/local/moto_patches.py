"""Every place where the local runtime reaches into moto, in one module with a self-test.

moto is a test double of AWS, not AWS: where its behaviour differs from the service in a way
that matters to shipwave, the difference is corrected here and nowhere else, so a moto
upgrade that moves these places fails `self_test()` loudly instead of changing behaviour.

- DynamoDB transactions: moto applies TransactWriteItems item by item with no lock and, on
  failure, restores a deep copy of the whole table, so under concurrent writers a reader sees
  half a transaction and a cancelled one can erase another writer's committed items. DynamoDB
  itself isolates transactions (serializable writes). `isolate_dynamodb()` serialises the
  backend's table operations behind one re-entrant lock, which restores that guarantee.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend

_DYNAMODB_TABLE_OPERATIONS = (
    "create_table",
    "delete_table",
    "put_item",
    "get_item",
    "query",
    "scan",
    "update_item",
    "delete_item",
    "transact_write_items",
    "transact_get_items",
    "batch_get_item",
)
_LOCK = threading.RLock()
_PATCHED_FLAG = "_shipwave_isolated"


class MotoPatchError(RuntimeError):
    """moto no longer has a method the local runtime patches: upgrade this module with it."""


def isolate_dynamodb() -> None:
    """Serialise moto's DynamoDB table operations (idempotent; process-wide)."""
    for name in _DYNAMODB_TABLE_OPERATIONS:
        method = getattr(DynamoDBBackend, name, None)
        if method is None:
            raise MotoPatchError(f"moto's DynamoDBBackend has no {name}() any more")
        if getattr(method, _PATCHED_FLAG, False):
            continue
        setattr(DynamoDBBackend, name, _locked(method))


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    setattr(locked, _PATCHED_FLAG, True)
    return locked


def self_test() -> None:
    """Fail loudly if a patch point moved or a patch is not in force."""
    isolate_dynamodb()
    for name in _DYNAMODB_TABLE_OPERATIONS:
        if not getattr(getattr(DynamoDBBackend, name), _PATCHED_FLAG, False):
            raise MotoPatchError(f"DynamoDBBackend.{name} is not isolated")
