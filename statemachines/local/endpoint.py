"""A stage's endpoint on the local runtime: the deployed artifact's own code behind loopback
HTTP, as a Lambda Function URL serves a function.

`python -m statemachines.local.endpoint CODE ENTRY PORT_FILE` imports `ENTRY` ("orders.handler")
from the artifact's unpacked files in `CODE`, listens on a free port of 127.0.0.1 (written to
`PORT_FILE` once it listens) and hands each request to the handler as a Function URL event
(payload format 2.0), answering with the handler's statusCode, headers and body. It runs in
its own process: the service's code never runs inside shipwave's.
"""

from __future__ import annotations

import base64
import importlib
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

Handler = Callable[[dict[str, Any], object], dict[str, Any]]


def load(code: Path, entry: str) -> Handler:
    module_name, _, function = entry.rpartition(".")
    sys.path.insert(0, str(code))
    handler: Handler = getattr(importlib.import_module(module_name), function)
    return handler


def function_url_event(
    method: str,
    path: str,
    body: bytes | str,
    *,
    query: str = "",
    headers: Mapping[str, str] | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """A request as Lambda hands it to a function behind a Function URL (payload format 2.0)."""
    raw = body.encode() if isinstance(body, str) else body
    try:
        text, encoded = raw.decode(), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(raw).decode(), True
    return {
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {key.lower(): value for key, value in (headers or {}).items()},
        "requestContext": {"http": {"method": method, "path": path, "sourceIp": source_ip}},
        "body": text,
        "isBase64Encoded": encoded,
    }


def url_event(request: Request) -> dict[str, Any]:
    """The request as Lambda hands it to a function behind a Function URL (format 2.0)."""
    return function_url_event(
        request.method,
        request.path,
        request.get_data(),
        query=request.query_string.decode(),
        headers=dict(request.headers.items()),
    )


def application(handler: Handler) -> Callable[..., Any]:
    @Request.application
    def serve(request: Request) -> Response:
        try:
            answer = handler(url_event(request), None)
        except Exception as error:
            return Response(f'{{"message": "Internal Server Error: {type(error).__name__}"}}', 502)
        return Response(
            answer.get("body", ""),
            status=int(answer.get("statusCode", 200)),
            headers=answer.get("headers") or {},
        )

    return serve


def main(argv: list[str]) -> None:
    code, entry, port_file = Path(argv[0]), argv[1], Path(argv[2])
    server = make_server("127.0.0.1", 0, application(load(code, entry)), threaded=True)
    port_file.write_text(str(server.server_port))
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
