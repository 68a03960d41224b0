"""Runs one handler the way the Lambda Python runtime does, in a clean interpreter.

Started as `python3.13 -I bootstrap.py <request.json>` (isolated: no PYTHONPATH, no user
site-packages, no current directory on the path), it puts on `sys.path` exactly what Lambda
would (the code asset, each layer's `python/` folder, the runtime's SDK), imports the handler
named by `_HANDLER` (timed: the cold start's import), invokes it once with the event, and
writes what happened, with every AWS call the handler made, to the result file.

Only the standard library is used before the handler is imported.
"""

import importlib
import json
import sys
import time
import traceback


class Context:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    def __init__(self, name: str, region: str, account: str) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
        self.aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "2026/12/01/[$LATEST]0123456789abcdef"
        self._deadline = time.monotonic() + 30

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def record_calls(calls: list[dict[str, object]]):  # type: ignore[no-untyped-def]
    """Every AWS API call: the IAM prefix, the operation, its parameters and which
    credentials signed it (the access key an AssumeRole returned names the assumed role)."""
    import botocore.client
    import botocore.exceptions

    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):  # type: ignore[no-untyped-def]
        credentials = self._request_signer._credentials
        key = credentials.get_frozen_credentials().access_key if credentials else None
        call = {
            "signing_name": self.meta.service_model.signing_name,
            "endpoint_prefix": self.meta.service_model.endpoint_prefix,
            "operation": operation_name,
            "params": json.loads(json.dumps(api_params, default=str)),
            "region": self.meta.region_name,
            "access_key": key,
        }
        calls.append(call)
        try:
            response = original(self, operation_name, api_params)
        except botocore.exceptions.ClientError as error:
            call["error_code"] = error.response.get("Error", {}).get("Code")
            raise
        if operation_name == "AssumeRole":
            call["assumed_key"] = response["Credentials"]["AccessKeyId"]
        return response

    botocore.client.BaseClient._make_api_call = recording
    return original


def main() -> None:
    with open(sys.argv[1]) as file:
        request = json.load(file)
    sys.path[:0] = request["path"]
    module_name, _, function_name = request["handler"].rpartition(".")
    outcome: dict[str, object] = {"python": list(sys.version_info[:3])}
    started = time.perf_counter()
    try:
        module = importlib.import_module(module_name)
        handler = getattr(module, function_name)
    except BaseException as error:
        outcome["import_error"] = {"type": type(error).__name__, "message": str(error)}
        outcome["traceback"] = traceback.format_exc()
    else:
        outcome["import_seconds"] = time.perf_counter() - started
        outcome["modules"] = sorted(
            {name.split(".")[0] for name, m in sys.modules.items() if m is not None}
        )
        outcome["files"] = sorted(
            {
                getattr(m, "__file__", None) or ""
                for m in list(sys.modules.values())
                if m is not None and getattr(m, "__file__", None)
            }
        )
        calls: list[dict[str, object]] = []
        record_calls(calls)
        context = Context(request["function_name"], request["region"], request["account"])
        try:
            outcome["result"] = handler(request["event"], context)
        except BaseException as error:
            outcome["error"] = {"type": type(error).__name__, "message": str(error)}
            outcome["traceback"] = traceback.format_exc()
        outcome["calls"] = calls
    with open(request["result_file"], "w") as file:
        json.dump(outcome, file, default=str)


if __name__ == "__main__":
    main()
