"""The shipwave CLI against real stores: SQLite files and DynamoDB on moto."""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from adapters.dynamodb import DynamoDBEventStore
from adapters.sqlite import SQLiteEventStore
from domain.chain import link
from domain.errors import EventStoreUnavailableError
from shipwave.cli import app
from statemachines.local.runtime import LocalRuntime
from tests.builders import change_received, rollout
from tests.e2e.conftest import MONDAY_8AM, SmallApp
from tests.e2e.test_fail_closed import alarm_at_gamma_one_box

runner = CliRunner()


@pytest.fixture
def event_log(tmp_path: Path) -> str:
    store = SQLiteEventStore(tmp_path / "events.db")
    store.append([change_received("orders-app", 1, "c1")])
    store.append(rollout("orders-app", 2, "c1", "gamma", "us-east-1"))
    store.append([change_received("orders-app", 11, "c2")])
    store.append([change_received("billing-app", 1, "b1")])
    store.close()
    return f"sqlite:///{tmp_path / 'events.db'}"


def test_status_shows_what_is_where(event_log: str) -> None:
    result = runner.invoke(app, ["status", "orders-app", "--event-log", event_log])

    assert result.exit_code == 0, result.output
    assert "gamma" in result.output
    assert "us-east-1" in result.output
    assert "c2" in result.output
    assert "Nothing is blocked" in result.output


def test_status_json_is_the_folded_state(event_log: str) -> None:
    result = runner.invoke(app, ["status", "orders-app", "--json", "--event-log", event_log])

    state = json.loads(result.stdout)
    assert state["sequence"] == 11
    assert state["stages"]["gamma"]["scopes"]["us-east-1"]["known_good"]["version"] == "c1"


def test_status_of_every_pipeline(event_log: str) -> None:
    result = runner.invoke(app, ["status", "--json", "--event-log", event_log])

    assert [s["pipeline_id"] for s in json.loads(result.stdout)] == ["billing-app", "orders-app"]


def test_history_filters_by_change_and_time(event_log: str) -> None:
    result = runner.invoke(
        app, ["history", "orders-app", "--change", "c2", "--json", "--event-log", event_log]
    )
    assert [e["sequence"] for e in json.loads(result.stdout)] == [11]

    since = runner.invoke(
        app,
        [
            "history",
            "orders-app",
            "--since",
            "2026-11-23T10:00Z",
            "--json",
            "--event-log",
            event_log,
        ],
    )
    assert [e["sequence"] for e in json.loads(since.stdout)] == [8, 9, 10]

    table = runner.invoke(app, ["history", "orders-app", "--event-log", event_log])
    assert "one-box deployed in us-east-1" in table.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["status", "nope"], "pipeline 'nope' has no events"),
        (["history", "nope"], "pipeline 'nope' has no events"),
        (["status", "--event-log", "sqlite:///does/not/exist.db"], "no such event log file"),
        (["status", "--event-log", "ftp://x"], "unknown kind 'ftp'"),
        (["status", "--event-log", "dynamodb://t"], "add ?region=REGION"),
        (["history", "--since", "last tuesday"], "write ISO-8601"),
        (["status", "--at", "999999999d"], "999999999 days ago is before the year 1"),
        (["status", "--event-log", "dynamodb://t?region=mars"], "'mars' is no AWS region name"),
        (
            ["status", "--event-log", "dynamodb://t?region=us-east-1&endpoint=not%20a%20url"],
            "must be an http(s)://host[:port] URL",
        ),
        (["status", "--event-log", f"sqlite:///{'x' * 300}.db"], "File name too long"),
        (["metrics", "--since", "2999-01-01"], "is not in the past"),
        (["metrics", "orders-app"], "its production stages are unknown"),
        (["metrics", "--since", "soon"], "write ISO-8601"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    event_log: str, args: list[str], message: str, tmp_path: Path
) -> None:
    if "--event-log" not in args:
        args = [*args, "--event-log", event_log]
    assert message in one_line_error(args, cwd=tmp_path)


def one_line_error(args: list[str], *, cwd: Path | None = None) -> str:
    """Run the CLI as a user does; it must fail with exit 1 and one line, no traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "shipwave", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def test_unreadable_sqlite_file_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.db"
    bogus.write_text("this is not a database, " * 100)
    result = subprocess.run(
        [sys.executable, "-m", "shipwave", "status", "--event-log", f"sqlite:///{bogus}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "cannot open" in result.stderr
    assert "Traceback" not in result.stderr


def test_status_and_history_read_dynamodb(moto_endpoint: str) -> None:
    store = DynamoDBEventStore("shipwave-events", region="us-east-1", endpoint_url=moto_endpoint)
    store.create_table()
    store.append([change_received("orders-app", 1, "c1")])
    store.append(rollout("orders-app", 2, "c1", "wave1", "eu-west-1/euw1-az1"))
    url = f"dynamodb://shipwave-events?region=us-east-1&endpoint={moto_endpoint}"

    status = runner.invoke(app, ["status", "orders-app", "--json", "--event-log", url])
    history = runner.invoke(app, ["history", "orders-app", "--json", "--event-log", url])

    assert json.loads(status.stdout)["stages"]["wave1"]["last_succeeded"] == "c1"
    assert len(json.loads(history.stdout)) == 10
    missing = runner.invoke(
        app,
        [
            "status",
            "--event-log",
            f"dynamodb://no-such-table?region=us-east-1&endpoint={moto_endpoint}",
        ],
    )
    assert missing.exit_code != 0
    assert boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto_endpoint)


def test_demo_keeps_an_existing_event_log_aside(tmp_path: Path) -> None:
    from shipwave.demo import open_demo_store

    old = tmp_path / "events.db"
    SQLiteEventStore(old).append([change_received("orders-app", 1, "c1")])

    factory, where = open_demo_store(f"sqlite:///{old}")

    kept = list(tmp_path.glob("events-*.db"))
    assert len(kept) == 1
    assert SQLiteEventStore(kept[0], create=False).last_sequence("orders-app") == 1
    assert factory().pipelines() == ()
    assert where == f"sqlite:///{old}"


def _as(monkeypatch: pytest.MonkeyPatch, user: str) -> None:
    """Act as this OS user (what getpass reads)."""
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(name, user)


def test_emergency_and_override_are_recorded_with_who_and_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from domain.events import BlockerHit, Stamper

    store = SQLiteEventStore(tmp_path / "events.db")
    store.append([change_received("create-order-application", 1, "c1")])  # by ana
    store.append(
        [
            Stamper(
                "create-order-application",
                2,
                change_received("create-order-application", 1, "c1").at,
            )(
                BlockerHit,
                "hit",
                stage="wave2",
                change_id="c1",
                blocker="company-alarm",
                reason="large-scale event",
            )
        ]
    )
    url = f"sqlite:///{tmp_path / 'events.db'}"

    def emergency() -> Any:
        return runner.invoke(
            app,
            ["emergency", "create-order-application", "c1", "--reason", "sev1", "--event-log", url],
        )

    _as(monkeypatch, "bo")
    first = emergency()
    assert first.exit_code == 0, first.output
    assert "recorded, by local:bo; a second senior engineer must approve it" in first.output
    again = emergency()
    assert "bo already approved c1's emergency" in str(again.exception)
    _as(monkeypatch, "chen")
    second = emergency()
    assert second.exit_code == 0, second.output
    assert "approved by local:bo and local:chen: bakes x 0.25" in second.output
    _as(monkeypatch, "ana")
    overridden = runner.invoke(
        app,
        ["override", "create-order-application", "wave2", "c1", "--blocker", "company-alarm",
         "--why", "the fix", "--event-log", url],
    )  # fmt: skip
    assert overridden.exit_code == 0, overridden.output
    assert "overridden for c1 by local:ana" in overridden.output
    history = runner.invoke(
        app, ["history", "create-order-application", "--json", "--event-log", url]
    )
    kinds = [(e["type"], e.get("by"), e.get("approvers")) for e in json.loads(history.stdout)]
    assert kinds[-4:] == [
        ("EmergencyApprovalGiven", "local:bo", None),
        ("EmergencyApprovalGiven", "local:chen", None),
        ("EmergencyApproved", None, ["local:bo", "local:chen"]),
        ("BlockerOverridden", "local:ana", None),
    ]


def test_an_emergency_approver_the_pipeline_does_not_name_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLiteEventStore(tmp_path / "events.db")
    store.append([change_received("create-order-application", 1, "c1")])  # by ana
    url = f"sqlite:///{tmp_path / 'events.db'}"

    def emergency(user: str, pipelines: str = "examples.reference:PIPELINES") -> str:
        _as(monkeypatch, user)
        result = runner.invoke(
            app,
            ["emergency", "create-order-application", "c1", "--reason", "sev1",
             "--event-log", url, "--pipelines", pipelines],
        )  # fmt: skip
        assert result.exit_code != 0
        return f"{result.output}{result.exception}"

    assert "mallory (local:mallory) is not among its emergency approvers" in emergency("mallory")
    assert "ana wrote commits of c1" in emergency("ana")
    assert "no module named" in emergency("bo", pipelines="nowhere:X").lower()
    assert store.last_sequence("create-order-application") == 1  # nothing written


SMALL_PIPELINES = (SmallApp,)


def test_a_failed_rollback_is_recovered_and_unblocked_by_a_person(tmp_path: Path) -> None:
    """A local run leaves gamma blocked by a rollback the deploy API refused; a person then
    works from the command line on the log it left."""
    path = tmp_path / "events.db"
    source = tmp_path / "source"  # the repository and the artifacts its builds stored
    pipeline = SmallApp.pipeline_id()
    with LocalRuntime(
        [SmallApp.spec()], event_log=SQLiteEventStore(path), start=MONDAY_8AM, source_dir=source
    ) as runtime:
        runtime.adopt(pipeline, "v1.0.0")
        runtime.fleet.broken_targets.add("create-order")
        change = runtime.merge(pipeline, "v1.1.0")
        alarm_at_gamma_one_box(runtime, change)
        runtime.run_for(1800)
    url = f"sqlite:///{path}"
    where = ["--event-log", url, "--pipelines", "tests.functional.test_cli:SMALL_PIPELINES"]
    before = SQLiteEventStore(path).last_sequence(pipeline)

    def shipwave(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "shipwave", *args, *where],
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).parent.parent.parent,
        )

    early = shipwave("unblock", pipeline, "gamma", "--why", "looks fine")
    assert early.returncode == 1
    assert "still run" in early.stderr
    assert "Traceback" not in early.stderr
    local = shipwave("rollback", pipeline, "gamma", "--to", "v1.0.0", "--why", "x")
    assert local.returncode == 1
    assert "local log" in local.stderr
    unknown = shipwave("rollback", pipeline, "gamma", "--to", "v9", "--why", "x")
    assert "no artifact 'v9'" in unknown.stderr
    assert SQLiteEventStore(path).last_sequence(pipeline) == before  # nothing written

    with LocalRuntime(
        [SmallApp.spec()], event_log=SQLiteEventStore(path), start=MONDAY_8AM, source_dir=source
    ) as runtime:  # the fleet is back (the artifact store still holds v1.0.0's zip)
        runtime.fleet.seed("create-order", [("gamma", "us-east-1")], "v1.1.0")
        runtime.engine.recover(pipeline, "gamma", "v1.0.0", by="ana", why="deploy API fixed")
    done = shipwave("unblock", pipeline, "gamma", "--why", "back on v1.0.0")
    assert done.returncode == 0, done.stderr
    assert f"gamma unblocked by local:{getpass.getuser()}" in done.stdout
    history = runner.invoke(app, ["history", pipeline, "--json", "--event-log", url])
    kinds = [e["type"] for e in json.loads(history.stdout)]
    assert kinds[-3:] == ["StageRecovered", "StageUnblocked", "StageLeaseReleased"]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("nesting", "nested too deeply"),
        ("huge number", "a number out of range"),
    ],
)
def test_an_event_no_shipwave_wrote_is_one_line_not_a_traceback(
    tmp_path: Path, damage: str, message: str
) -> None:
    """A row damaged from outside (test code writing SQLite directly, chaining what it wrote so
    the chain holds and the decoder meets it): deep nesting, a number too large for a float.
    `history` names the place and stops, in one line."""
    path = tmp_path / "events.db"
    store = SQLiteEventStore(path, create=True)
    store.append(rollout("orders-app", 1, "c1", "wave1", "eu-west-1/euw1-az1")[:3])
    with sqlite3.connect(path) as connection:
        (body, prev) = connection.execute(
            "SELECT body, prev FROM events WHERE sequence = 3"
        ).fetchone()
        damaged = (
            "[" * 100_000 + "]" * 100_000
            if damage == "nesting"
            else json.dumps({**json.loads(body), "traffic_percent": 10**400})
        )
        connection.execute(
            "UPDATE events SET body = ?, hash = ? WHERE sequence = 3",
            (damaged, link(prev, damaged)),
        )
    stderr = one_line_error(["history", "orders-app", "--event-log", f"sqlite:///{path}"])
    assert message in stderr


def test_status_and_history_never_write_to_the_event_log(tmp_path: Path) -> None:
    """Reads open SQLite read-only: a 0-byte file or another program's database stays as it
    was (no journal mode set), and a real log gains no snapshot from being read."""
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")
    before = {path: path.read_bytes() for path in (empty, foreign)}
    for path in (empty, foreign):
        assert "not a shipwave event log" in one_line_error(
            ["status", "--event-log", f"sqlite:///{path}"]
        )
        assert path.read_bytes() == before[path]

    log = tmp_path / "events.db"
    store = SQLiteEventStore(log, create=True)
    store.append(rollout("orders-app", 1, "c1", "wave1", "eu-west-1/euw1-az1"))
    store.close()
    for command in ("status", "history"):
        result = runner.invoke(app, [command, "orders-app", "--event-log", f"sqlite:///{log}"])
        assert result.exit_code == 0, result.output
    with sqlite3.connect(f"{log.as_uri()}?mode=ro", uri=True) as connection:
        assert connection.execute("SELECT COUNT(*) FROM snapshots").fetchone() == (0,)
    with pytest.raises(EventStoreUnavailableError):  # and a read-only store refuses appends
        SQLiteEventStore(log, create=False, read_only=True).append(
            [change_received("orders-app", 10, "c2")]
        )


# --- shipwave verify: the hash chain, checked from outside -------------------------------------


def verify_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shipwave", "verify", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_verify_finds_an_intact_log_and_the_head_status_prints(event_log: str) -> None:
    status = runner.invoke(app, ["status", "orders-app", "--json", "--event-log", event_log])
    head = json.loads(status.stdout)["head"]
    assert head["sequence"] == 11
    assert head["text"] == f"11:{head['hash']}"

    result = verify_cli("--event-log", event_log)

    assert result.returncode == 0, result.stderr
    assert f"intact orders-app: 11 events chained, head {head['text']}" in result.stdout
    assert "intact billing-app: 1 events chained" in result.stdout
    # a log that has grown since still holds the head kept earlier
    store = SQLiteEventStore(event_log.removeprefix("sqlite:///"), create=False)
    store.append([change_received("orders-app", 12, "c3")])
    store.close()
    kept = verify_cli("orders-app", "--expect-head", head["text"], "--event-log", event_log)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "intact orders-app: 12 events chained" in kept.stdout


def test_verify_reports_the_first_broken_link_of_an_edited_sqlite_log(event_log: str) -> None:
    path = event_log.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:  # an edit in place, as any SQLite client can
        (body,) = connection.execute(
            "SELECT body FROM events WHERE pipeline_id = 'orders-app' AND sequence = 4"
        ).fetchone()
        connection.execute(
            "UPDATE events SET body = ? WHERE pipeline_id = 'orders-app' AND sequence = 4",
            (json.dumps({**json.loads(body), "traffic_percent": 100.0}),),
        )

    result = verify_cli("--event-log", event_log)

    assert result.returncode == 1
    assert "BROKEN orders-app: sqlite " in result.stdout
    assert "pipeline 'orders-app' sequence 4 does not hash to the hash stored" in result.stdout
    assert "intact billing-app" in result.stdout
    # and the pipeline's state is no longer read from it: one line, exit 1
    assert "sequence 4 does not hash" in one_line_error(
        ["status", "orders-app", "--event-log", event_log]
    )


def test_verify_catches_a_raw_put_and_a_raw_delete_on_dynamodb(moto_endpoint: str) -> None:
    table = "tampered-events"
    store = DynamoDBEventStore(table, region="us-east-1", endpoint_url=moto_endpoint)
    store.create_table()
    store.append([change_received("orders-app", 1, "c1")])
    store.append(rollout("orders-app", 2, "c1", "wave1", "eu-west-1/euw1-az1"))
    url = f"dynamodb://{table}?region=us-east-1&endpoint={moto_endpoint}"
    status = runner.invoke(app, ["status", "orders-app", "--json", "--event-log", url])
    head = json.loads(status.stdout)["head"]["text"]
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto_endpoint)

    # The newest event deleted, as a raw DeleteItem would: every link left is intact...
    client.delete_item(TableName=table, Key={"pk": {"S": "orders-app"}, "sk": {"N": "10"}})
    cut = verify_cli("orders-app", "--event-log", url)
    assert cut.returncode == 0, cut.stdout
    # ...but the head kept before is gone
    expected = verify_cli("orders-app", "--expect-head", head, "--event-log", url)
    assert expected.returncode == 1
    assert (
        "the expected head is at sequence 10 but the log ends at 9: events 10 to 10 were "
        "removed" in expected.stdout
    )

    # An event overwritten by a raw PutItem of a well-formed event no shipwave chained
    forged = client.get_item(TableName=table, Key={"pk": {"S": "orders-app"}, "sk": {"N": "4"}})
    item = {k: v for k, v in forged["Item"].items() if k not in ("prev", "hash")}
    client.put_item(TableName=table, Item=item)
    result = verify_cli("orders-app", "--event-log", url, "--json")
    assert result.returncode == 1
    (verdict,) = json.loads(result.stdout)
    assert verdict["intact"] is False
    assert verdict["checked"] == 3
    assert "sequence 4 carries no chain hash" in verdict["problems"][0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--expect-head", "12:abc"], "write SEQUENCE:HASH"),
        (["--expect-head", f"1:{'0' * 64}"], "--expect-head belongs to one pipeline: name it"),
        (["nope"], "pipeline 'nope' has no events"),
    ],
)
def test_verify_bad_input_is_one_line(event_log: str, args: list[str], message: str) -> None:
    assert message in one_line_error(["verify", *args, "--event-log", event_log])


def test_validate_lists_every_problem_one_line_each_and_exits_1() -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "shipwave", "validate", "tests.infra.invalid_pipelines:PIPELINES"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr
    assert bad.stderr.splitlines() == [
        "error: pipeline broken-application: one_box_percent: 25 % is not in (0, 10] %",
        "error: pipeline broken-application: waves[1].regions: unknown region 'atlantis-1'",
        "error: pipeline create-order-application: defined twice in "
        "tests.infra.invalid_pipelines:PIPELINES",
    ]
    good = subprocess.run(
        [sys.executable, "-m", "shipwave", "validate", "examples.reference:PIPELINES"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "3 pipelines valid in examples.reference:PIPELINES" in good.stdout
    assert "No module named 'nosuch'" in one_line_error(["validate", "nosuch.module:X"])


def test_shell_completion_offers_commands_and_the_logs_pipelines(event_log: str) -> None:
    def complete(*words: str) -> list[str]:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "shipwave")],  # the installed command
            env={
                **os.environ,
                "_SHIPWAVE_COMPLETE": "complete_bash",
                "COMP_WORDS": " ".join(("shipwave", *words)),
                "COMP_CWORD": str(len(words)),
                "SHIPWAVE_EVENT_LOG": event_log,
            },
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.split()

    assert complete("sta") == ["status"]
    assert complete("status", "or") == ["orders-app"]
    assert sorted(complete("history", "")) == ["billing-app", "orders-app"]
    script = runner.invoke(app, ["--show-completion", "bash"])
    assert "_shipwave_completion" in script.output


def test_run_refuses_what_it_cannot_run_in_one_line(tmp_path: Path) -> None:
    small = "tests.e2e.conftest:SMALL_PIPELINES"
    log = f"sqlite:///{tmp_path / 'run.db'}"
    cases = [
        (["run", small, "--pipeline", "nope"], "no pipeline 'nope' in the module"),
        (["run", small, "--code", "acme/create-order"], "write REPOSITORY=DIR"),
        (["run", small, "--code", "acme/other=."], "no pipeline run here builds 'acme/other'"),
        (["run", small, "--code", f"acme/create-order={tmp_path / 'none'}"], "is not a directory"),
        (["run", small, "--merge", "v1.0.0"], "is the adopted version"),
        (["run", small, "--start", "monday"], "--start 'monday': write ISO-8601"),
        (["run", small, "--max-days", "0"], "--max-days 0: write days"),
    ]
    for arguments, message in cases:
        result = runner.invoke(app, [*arguments, "--event-log", log])
        assert result.exit_code != 0, arguments
        assert message in str(result.exception), (arguments, result.exception)
    assert not (tmp_path / "run.db").exists()  # refused before anything was written
