"""`shipwave pause|resume|abort|retry`: signed with the caller's AWS credentials to the operator
endpoint (the signature checked here with botocore's own SigV4, as Lambda's AWS_IAM auth
checks it), or on a local log as the OS user; never written to DynamoDB directly."""

from __future__ import annotations

import getpass
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from typer.testing import CliRunner

from adapters.sqlite import SQLiteEventStore
from domain.events import ChangeAborted, PipelinePaused, PipelineResumed
from shipwave.cli import app
from tests.builders import change_received, rollout
from tests.e2e.conftest import SmallApp

runner = CliRunner()
PIPELINE = SmallApp.pipeline_id()
SMALL = ["--pipelines", "tests.e2e.conftest:SMALL_PIPELINES"]
KEY, SECRET = "AKIAOPERATORTEST0001", "operator-secret"


#: what the operator function answers a retry (tests/aws/test_operator.py has it answer so)
RETRIED = {
    "retried": "c1",
    "from": "gamma",
    "attempt": 2,
    "execution": f"arn:aws:states:eu-west-1:111122223333:execution:shipwave-{PIPELINE}:c1-retry-2",
    "recorded": True,
    "paused": True,
    "by": "arn:aws:sts::111122223333:assumed-role/orders-oncall/ana",
}


class Endpoint(BaseHTTPRequestHandler):
    """Stands where Lambda's URL auth stands: the request's SigV4 signature must be the one
    botocore computes for it with the caller's key, else 403."""

    seen: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        authorization = self.headers.get("Authorization", "")
        fields = dict(
            part.strip().split("=", 1) for part in authorization.split(" ", 1)[-1].split(",")
        )
        key, _, region, service, _ = fields["Credential"].split("/")
        signed = fields["SignedHeaders"].split(";")
        request = AWSRequest(
            method="POST",
            url=f"http://{self.headers['Host']}{self.path}",
            data=body,
            headers={h: self.headers[h] for h in signed if self.headers.get(h) is not None},
        )
        request.context["timestamp"] = self.headers["X-Amz-Date"]
        auth = SigV4Auth(Credentials(KEY, SECRET), service, region)
        expected = auth.signature(
            auth.string_to_sign(request, auth.canonical_request(request)), request
        )
        ok = key == KEY and service == "lambda" and fields["Signature"] == expected
        Endpoint.seen.append(
            {"path": self.path, "body": json.loads(body), "signed": ok, "region": region}
        )
        status, answer = (
            (
                200,
                {
                    "paused": [PIPELINE],
                    "unchanged": [],
                    "by": "arn:aws:sts::111122223333:assumed-role/orders-oncall/ana",
                },
            )
            if ok
            else (403, {"message": "Forbidden"})
        )
        if ok and self.path.endswith("/resume"):
            status, answer = 409, {"error": f"pipeline {PIPELINE!r} is not paused"}
        if ok and self.path.endswith("/retry"):
            status, answer = 200, RETRIED
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Endpoint.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_an_act_is_signed_with_the_callers_credentials_and_a_refusal_is_one_line(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)

    paused = runner.invoke(app, ["pause", PIPELINE, "--why", "incident", "--endpoint", endpoint])

    assert paused.exit_code == 0, paused.output
    assert (
        f"{PIPELINE}: paused by arn:aws:sts::111122223333:assumed-role/orders-oncall/ana"
        in paused.output
    )
    (seen,) = Endpoint.seen
    assert seen == {
        "path": f"/pipelines/{PIPELINE}/pause",
        "body": {"why": "incident"},
        "signed": True,
        "region": "eu-west-1",
    }

    refused = runner.invoke(app, ["resume", PIPELINE, "--why", "x", "--endpoint", endpoint])
    assert refused.exit_code != 0
    assert "refused (409): pipeline" in str(refused.exception)

    retried = runner.invoke(
        app, ["retry", PIPELINE, "c1", "--why", "the alarm cleared", "--endpoint", endpoint]
    )
    assert retried.exit_code == 0, retried.output
    assert Endpoint.seen[-1]["path"] == f"/pipelines/{PIPELINE}/changes/c1/retry"
    assert Endpoint.seen[-1]["body"] == {"why": "the alarm cleared"}
    assert Endpoint.seen[-1]["signed"]
    assert (
        "c1: retried by arn:aws:sts::111122223333:assumed-role/orders-oncall/ana from gamma, "
        f"run 2: execution {RETRIED['execution']}" in " ".join(retried.output.split())
    )
    assert "the pipeline is paused" in retried.output

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "a wrong secret")
    forged = runner.invoke(app, ["pause", "--team", "orders", "--why", "x", "--endpoint", endpoint])
    assert "refused (403): Forbidden" in str(forged.exception)
    assert Endpoint.seen[-1]["path"] == "/teams/orders/pause"


@pytest.fixture
def local_log(tmp_path: Path) -> str:
    store = SQLiteEventStore(tmp_path / "events.db")
    store.append([change_received(PIPELINE, 1, "c1")])
    store.append(rollout(PIPELINE, 2, "c1", "gamma", "us-east-1")[:3])
    store.close()
    return f"sqlite:///{tmp_path / 'events.db'}"


def test_on_a_local_log_the_os_user_acts_and_is_recorded_as_such(local_log: str) -> None:
    me = f"local:{getpass.getuser()}"
    paused = runner.invoke(
        app, ["pause", PIPELINE, "--why", "lunch", "--event-log", local_log, *SMALL]
    )
    assert paused.exit_code == 0, paused.output
    assert f"{PIPELINE}: paused by {me}" in paused.output
    again = runner.invoke(
        app, ["pause", PIPELINE, "--why", "lunch", "--event-log", local_log, *SMALL]
    )
    assert "is already paused" in str(again.exception)
    assert (
        runner.invoke(
            app, ["resume", PIPELINE, "--why", "back", "--event-log", local_log, *SMALL]
        ).exit_code
        == 0
    )
    aborted = runner.invoke(
        app, ["abort", PIPELINE, "c1", "--why", "bad", "--event-log", local_log, *SMALL]
    )
    assert aborted.exit_code == 0, aborted.output
    assert "could not be rolled back from here" in aborted.output
    log = list(
        SQLiteEventStore(Path(local_log.removeprefix("sqlite:///")), create=False).read(PIPELINE)
    )
    acts = [
        (type(e).__name__, e.by)
        for e in log
        if isinstance(e, PipelinePaused | PipelineResumed | ChangeAborted)
    ]
    assert acts == [("PipelinePaused", me), ("PipelineResumed", me), ("ChangeAborted", me)]


def test_without_an_endpoint_dynamodb_is_never_written_and_bad_input_is_one_line(
    local_log: str,
) -> None:
    cases = [
        (
            [
                "pause",
                PIPELINE,
                "--why",
                "x",
                "--event-log",
                "dynamodb://shipwave-events?region=us-east-1",
            ],
            "through the operator endpoint",
        ),
        (["pause", "--why", "x", "--event-log", local_log], "name a pipeline, or a whole team"),
        (
            ["pause", PIPELINE, "--team", "orders", "--why", "x", "--event-log", local_log],
            "not both",
        ),
        (["pause", PIPELINE, "--event-log", local_log, *SMALL], "needs a reason (--why)"),
        (
            ["abort", PIPELINE, "c9", "--why", "x", "--event-log", local_log, *SMALL],
            "'c9' is unknown",
        ),
        (
            ["retry", PIPELINE, "c1", "--why", "x", "--event-log", local_log, *SMALL],
            "no executions can be started here: a local log's runs lived in the process",
        ),
        (["pause", PIPELINE, "--why", "x", "--endpoint", "ftp://x"], "is not an http(s) URL"),
    ]
    for arguments, message in cases:
        result = runner.invoke(app, arguments)
        assert result.exit_code != 0, arguments
        assert message in str(result.exception), (arguments, result.exception)
