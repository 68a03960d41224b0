"""Every place where the local runtime reaches into moto, in one module with a self-test.

moto is a test double of AWS, not AWS: where its behaviour differs from the service in a way
that matters to shipwave, the difference is corrected here and nowhere else, so a moto
upgrade that moves these places fails `self_test()` loudly instead of changing behaviour.

- Step Functions time: the interpreter's threads, events and sleeps are swapped for the
  virtual clock's (`statemachines/local/clock.py`), so Wait, Retry, task timeouts and bakes
  run on virtual time. `patch_interpreter()` lists each module and name it replaces.
- Lambda task clients: the interpreter builds a new boto3 client for every Lambda task;
  `_boto_client_for` shares one per region (a third of a rollout's wall time otherwise);
  it parses each JSONPath anew with a freshly built parser, and the whole definition at every
  execution start: both parses are cached.
- Lambda tasks: without Docker moto never runs function code; `route_lambda()` makes
  `LambdaSimpleBackend.invoke` call an in-process handler and report its exceptions as
  Lambda function errors (`x-amz-function-error: Unhandled`). The interpreter's Lambda task
  reaches that handler directly (`_invoke_lambda_function`) when the function exists in
  moto's Lambda, with the response Lambda would give (an unknown function fails with
  ResourceNotFoundException, which moto's simple Lambda never raises).

- Execution status and history: `execution_status()` and `execution_history()` read them
  from the interpreter's backend in process. The driver asks for the status after every
  step of virtual time; through boto3 and moto's request/response machinery that cost half
  the wall time of a rollout.

- DynamoDB transactions: moto applies TransactWriteItems item by item with no lock and, on
  failure, restores a deep copy of the whole table, so under concurrent writers a reader sees
  half a transaction and a cancelled one can erase another writer's committed items. DynamoDB
  itself isolates transactions (serializable writes). `isolate_dynamodb()` serialises the
  backend's table operations behind one re-entrant lock, which restores that guarantee, and
  replaces the table copy with a check-then-write transaction (`_transact_write_items`);
  a base-table query reads its own partition, not the whole table (`_partition_query`).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import pickle
import threading
import time
import types
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from jsonpath_ng.ext.parser import parse as parse_ext_path
from jsonpath_ng.parser import parse as parse_path
from moto.awslambda.exceptions import UnknownFunctionException
from moto.awslambda.utils import get_backend as lambda_backend
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import boto_client
from moto.stepfunctions.parser.backend.execution import Execution as ParserExecution
from moto.stepfunctions.parser.models import (
    StepFunctionsParserBackend,
    stepfunctions_parser_backends,
)

from statemachines.local import clock

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
    if not getattr(Table.query, _PATCHED_FLAG, False):
        Table.query = _partition_query(Table.query)  # type: ignore[method-assign]
        Table.all_items = _partition_items(Table.all_items)  # type: ignore[method-assign]
    for name in _DYNAMODB_TABLE_OPERATIONS:
        method = getattr(DynamoDBBackend, name, None)
        if method is None:
            raise MotoPatchError(f"moto's DynamoDBBackend has no {name}() any more")
        if getattr(method, _PATCHED_FLAG, False):
            continue
        if name == "transact_write_items":
            method = _transact_write_items
        setattr(DynamoDBBackend, name, _locked(method))


_QUERIED = threading.local()  # the table and partition a base-table query reads


def _partition_query(query: Callable[..., Any]) -> Callable[..., Any]:
    """moto answers a query by sorting every item of the table and keeping the partition's;
    an event log is one partition per pipeline that grows with every append, so each read
    cost as much as the table. A base-table query now reads its partition only (DynamoDB
    reads a partition by key); index queries are as moto does them."""

    signature = inspect.signature(query)

    @functools.wraps(query)
    def partitioned(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = signature.bind(self, hash_key, *args, **kwargs).arguments.get("index_name")
        if index_name is not None or hash_key is None or not self.range_key_attr:
            return query(self, hash_key, *args, **kwargs)
        _QUERIED.partition = (self, hash_key)
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _QUERIED.partition = None

    setattr(partitioned, _PATCHED_FLAG, True)
    return partitioned


def _partition_items(all_items: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(all_items)
    def items(self: Table) -> Any:
        queried = getattr(_QUERIED, "partition", None)
        if queried is None or queried[0] is not self:
            return all_items(self)
        partition = self.items.get(queried[1], {})
        return sorted(partition.values(), key=lambda item: item.range_key)

    return items


Write = tuple[str, dict[str, Any], str, dict[str, Any]]  # (operation, request, table, key)


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """TransactWriteItems, all or nothing, without moto's copy of every table it touches
    (which made each append cost as much as the whole table). Under the isolation lock every
    condition is checked first and nothing is written unless all hold; a write that fails
    late is undone item by item. Errors are moto's own: TransactionCanceledException with a
    reason per item, and MultipleTransactions/validation errors raised as they are."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    _apply(self, _checked(self, transact_items))


def _checked(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[Write]:
    targets: set[tuple[str, str]] = set()
    errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
    writes: list[Write] = []
    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(item.items()))
        original: dict[str, Any] | None = None
        try:
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            key = _key(self, op_type, op)
            target = (str(table_name), str(dict(sorted(key.items()))))
            if target in targets:
                raise MultipleTransactionsException()
            targets.add(target)
            current = self.get_item(table_name, key)
            condition = op.get("ConditionExpression")
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if condition is not None and not get_filter_expression(condition, names, values).expr(
                current
            ):
                if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                    original = current.to_json()["Attributes"]
                raise ConditionalCheckFailed(item=original)
            if op_type != "ConditionCheck":
                writes.append((op_type, op, table_name, key))
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise  # nothing was written
        except ConditionalCheckFailed as error:
            errors.append(("ConditionalCheckFailed", str(error.message), original))
        except Exception as error:  # as moto does: a reason for this item
            errors.append((type(error).__name__, str(error), original))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)
    return writes


def _key(self: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return dict(op["Key"])
    table = self.get_table(op["TableName"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


def _apply(self: DynamoDBBackend, writes: list[Write]) -> None:
    done: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
    try:
        for op_type, op, table_name, key in writes:
            before = self.get_item(table_name, key)
            if op_type == "Put":
                self.put_item(table_name, op["Item"])
            elif op_type == "Delete":
                self.delete_item(table_name, key)
            else:
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    expression_attribute_names=op.get("ExpressionAttributeNames") or {},
                    expression_attribute_values=op.get("ExpressionAttributeValues") or {},
                )
            done.append((table_name, key, before.to_json()["Attributes"] if before else None))
    except Exception:
        for table_name, key, before_attributes in reversed(done):
            if before_attributes is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, before_attributes)
        raise


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
    patch_interpreter()
    for module_name, names in _INTERPRETER_PATCHES.items():
        module = importlib.import_module(module_name)
        for name, replacement in names.items():
            if getattr(module, name) is not replacement:
                raise MotoPatchError(f"{module_name}.{name} is not on virtual time")
    if not callable(getattr(LambdaSimpleBackend, "invoke", None)):
        raise MotoPatchError("LambdaSimpleBackend.invoke is gone")
    if not callable(getattr(StepFunctionsParserBackend, "describe_execution", None)):
        raise MotoPatchError("StepFunctionsParserBackend.describe_execution is gone")
    if not isinstance(getattr(ParserExecution, "status", None), property):
        raise MotoPatchError("the interpreter's Execution has no status property any more")
    if not callable(getattr(StepFunctionsParserBackend, "get_execution_history", None)):
        raise MotoPatchError("StepFunctionsParserBackend.get_execution_history is gone")


# --- execution status, in process -----------------------------------------------------------


def _execution_arn_parts(execution_arn: str) -> tuple[str, str]:
    parts = execution_arn.split(":")
    if len(parts) < 8 or parts[2] != "states" or parts[5] != "execution":
        raise ValueError(f"not a Step Functions execution ARN: {execution_arn!r}")
    return parts[3], parts[4]


def execution_status(execution_arn: str) -> str:
    """RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED, as DescribeExecution reports it."""
    region, account = _execution_arn_parts(execution_arn)
    execution = stepfunctions_parser_backends[account][region].describe_execution(execution_arn)
    return str(execution.status)


def execution_history(execution_arn: str) -> list[dict[str, Any]]:
    """The execution's history events as GetExecutionHistory lists them (types as plain
    strings), read in process: through boto3 a 10,000-event history took seconds."""
    region, account = _execution_arn_parts(execution_arn)
    backend = stepfunctions_parser_backends[account][region]
    events = backend.get_execution_history(execution_arn)["events"]
    return [
        {**event, "type": str(getattr(event["type"], "value", event["type"]))} for event in events
    ]


# --- Step Functions on virtual time -----------------------------------------------------------

_PARSER = "moto.stepfunctions.parser"


class _ThreadingShim(types.ModuleType):
    """`threading` as the interpreter sees it: Event and Thread run on the virtual clock."""

    Event = clock.VirtualEvent
    Thread = clock.VirtualThread

    def __getattr__(self, name: str) -> Any:
        return getattr(threading, name)


class _TimeShim(types.ModuleType):
    sleep = staticmethod(clock.sleep)

    @staticmethod
    def time() -> float:
        current = clock.active()
        return current.now().timestamp() if current is not None else time.time()

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


_THREADING = _ThreadingShim("threading")
_TIME = _TimeShim("time")
_ORIGINAL_BOTO_CLIENT_FOR = boto_client.boto_client_for


@functools.lru_cache(maxsize=32)
def _parsed_program(definition: str) -> bytes:
    program, _ = AmazonStateLanguageParser.parse(definition)
    return pickle.dumps(program)


class _CachedASLParser(AmazonStateLanguageParser):
    """The interpreter parses a definition (antlr, 2.6 s for the reference pipeline's 224 KB)
    when the machine is created and again at every execution start. Parsed once here; every
    caller gets its own fresh copy of the program (an unpickled copy, 30 ms). Invalid
    definitions raise as before. The parse tree is not kept: the patched callers (definition
    validation and the execution worker) use only the program."""

    @staticmethod
    def parse(definition: str) -> tuple[Any, Any]:
        return pickle.loads(_parsed_program(definition)), None


#: JSONPath expressions parsed once: jsonpath_ng builds a fresh parser (ply tables) per parse,
#: and the interpreter parses every path of every state each time it runs. The parsed
#: expressions hold no per-use state, so they can be shared.
_parse_ext = functools.lru_cache(maxsize=4096)(parse_ext_path)
_parse_plain = functools.lru_cache(maxsize=4096)(parse_path)


@functools.cache
def _shared_boto_client(region: str, service: str) -> Any:
    return _ORIGINAL_BOTO_CLIENT_FOR(region=region, service=service)


def _boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    """One client per region and service instead of a new one per Lambda task: building a
    botocore client is most of a task's cost. Clients are thread-safe; the interpreter's are
    all made with the same fixed keys, so `state_credentials` never changes the client."""
    return _shared_boto_client(region, service)


# --- Lambda tasks to in-process handlers --------------------------------------------------

LambdaRouter = Callable[[str, dict[str, Any]], Any]
_ROUTER: list[LambdaRouter] = []
_ORIGINAL_INVOKE = LambdaSimpleBackend.invoke


def route_lambda(router: LambdaRouter | None) -> None:
    """Send every Lambda invocation to `router(function_name, payload)` (None: moto's own)."""
    _ROUTER.clear()
    if router is None:
        LambdaSimpleBackend.invoke = _ORIGINAL_INVOKE  # type: ignore[method-assign]
        return
    _ROUTER.append(router)
    LambdaSimpleBackend.invoke = _invoke  # type: ignore[method-assign]


def _invoke(
    self: LambdaSimpleBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> bytes:
    name = function_name.rsplit(":", 1)[-1] if function_name.startswith("arn:") else function_name
    result, error = _call(name, json.loads(body) if body else {})
    if error:
        response_headers["x-amz-function-error"] = error
    return json.dumps(result).encode()


def _call(name: str, payload: dict[str, Any]) -> tuple[Any, str | None]:
    """The handler's result, or its failure as Lambda reports it (error type and message)."""
    try:
        return _ROUTER[0](name, payload), None
    except Exception as error:  # the handler's failure is the task's failure, by type name
        return {"errorType": type(error).__name__, "errorMessage": str(error)}, "Unhandled"


_ORIGINAL_INVOKE_LAMBDA = lambda_eval_utils._invoke_lambda_function


def _invoke_lambda_function(
    parameters: dict[str, Any], region: str, state_credentials: Any
) -> dict[str, Any]:
    """The interpreter's Lambda task, straight to the routed handler: building, signing,
    stubbing and parsing an HTTP request per task cost three times the handler itself. The
    function must exist in moto's Lambda as the ARN says; anything else (no router, a name
    that is not an ARN) takes moto's own path. An unknown function fails as Lambda fails it."""
    function = str(parameters.get("FunctionName", ""))
    parts = function.split(":")
    if not _ROUTER or len(parts) < 7 or parts[2] != "lambda" or parts[5] != "function":
        return dict(_ORIGINAL_INVOKE_LAMBDA(parameters, region, state_credentials))
    try:
        lambda_backend(parts[4], parts[3]).get_function(function)
    except UnknownFunctionException:  # as Lambda answers (moto's simple Lambda would not)
        raise ClientError(
            {
                "Error": {
                    "Code": "ResourceNotFoundException",
                    "Message": f"Function not found: {function}",
                }
            },
            "Invoke",
        ) from None
    body = parameters.get("Payload") or b"{}"
    result, error = _call(parts[6], json.loads(body))
    response: dict[str, Any] = {
        "StatusCode": 200,
        "ExecutedVersion": "$LATEST",
        "Payload": json.loads(json.dumps(result)),  # what crosses the wire is a copy
    }
    if error:
        response["FunctionError"] = error
    return response


#: module → {name in that module: replacement}
_INTERPRETER_PATCHES: dict[str, dict[str, Any]] = {
    f"{_PARSER}.asl.component.state.exec.execute_state": {
        "threading": _THREADING,
        "Thread": clock.VirtualThread,
    },
    f"{_PARSER}.asl.eval.callback.callback": {"Event": clock.VirtualEvent},
    f"{_PARSER}.asl.eval.environment": {"threading": _THREADING},
    f"{_PARSER}.asl.component.common.retry.retrier_decl": {"time": _TIME},
    f"{_PARSER}.asl.component.state.wait.wait_function.wait_function": {"time": _TIME},
    f"{_PARSER}.asl.component.program.program": {"threading": _THREADING},
    f"{_PARSER}.asl.component.state.exec.state_map.iteration.inline_iteration_component": {
        "threading": _THREADING
    },
    f"{_PARSER}.asl.component.state.exec.state_map.iteration.job": {"threading": _THREADING},
    f"{_PARSER}.asl.component.state.exec.state_map.iteration.itemprocessor.map_run_record": {
        "threading": _THREADING
    },
    f"{_PARSER}.asl.component.state.exec.state_task.service.state_task_service_callback": {
        "threading": _THREADING,
        "time": _TIME,
    },
    f"{_PARSER}.asl.component.state.exec.state_parallel.branch_worker": {"threading": _THREADING},
    f"{_PARSER}.asl.component.state.exec.state_parallel.branches_decl": {"threading": _THREADING},
    f"{_PARSER}.backend.execution_worker": {
        "Thread": clock.VirtualThread,
        "AmazonStateLanguageParser": _CachedASLParser,
    },
    f"{_PARSER}.asl.component.state.exec.state_task.lambda_eval_utils": {
        "boto_client_for": _boto_client_for,
        "_invoke_lambda_function": _invoke_lambda_function,
    },
    f"{_PARSER}.asl.utils.json_path": {"parse": _parse_ext},
    f"{_PARSER}.models": {"AmazonStateLanguageParser": _CachedASLParser},
    f"{_PARSER}.asl.component.common.path.result_path": {"parse": _parse_plain},
}


def patch_interpreter() -> None:
    """Swap the interpreter's threading and time for the virtual clock's (idempotent)."""
    for module_name, names in _INTERPRETER_PATCHES.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise MotoPatchError(f"moto has no module {module_name} any more ({error})") from None
        for name, replacement in names.items():
            if not hasattr(module, name):
                raise MotoPatchError(f"{module_name} has no {name} any more")
            setattr(module, name, replacement)
