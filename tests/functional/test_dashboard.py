"""`shipwave dashboard` over HTTP and `shipwave report --html`, on SQLite and on DynamoDB
(moto's server, through the URL a person types)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from adapters.dynamodb import DynamoDBEventStore
from adapters.sqlite import SQLiteEventStore
from domain.events import AlarmFired, ChangeReceived, RollbackCompleted
from domain.ports import EventStore
from shipwave.bootstrap import open_store
from shipwave.cli import app
from shipwave.dashboard import create_app
from statemachines.local.runtime import LocalRuntime
from tests.e2e.conftest import MONDAY_8AM, SmallApp, specs
from tests.e2e.test_fail_closed import alarm_at_gamma_one_box

PIPELINE = SmallApp.pipeline_id()
runner = CliRunner()


def good_then_bad(store: EventStore) -> tuple[str, str]:
    """v1.1.0 goes everywhere; v1.2.0 fires gamma's one-box alarm and is rolled back."""
    with LocalRuntime(specs(SmallApp), event_log=store, start=MONDAY_8AM) as runtime:
        runtime.adopt(PIPELINE, "v1.0.0")
        good = runtime.merge(PIPELINE, "v1.1.0")
        runtime.run()
        bad = runtime.merge(PIPELINE, "v1.2.0")
        alarm_at_gamma_one_box(runtime, bad)
        runtime.run()
    return good, bad


@pytest.fixture(scope="module")
def sqlite_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    path = tmp_path_factory.mktemp("dashboard") / "events.db"
    good, bad = good_then_bad(SQLiteEventStore(path))
    return path, good, bad


def client_for(url: str) -> TestClient:
    store = open_store(url, read_only=True)
    return TestClient(create_app(store, {PIPELINE: SmallApp.spec()}, source=url))


def test_the_dashboard_reads_dynamodb_on_moto(
    sqlite_log: tuple[Path, str, str], moto_endpoint: str
) -> None:
    # the local run's log, appended event by event to a table on moto's server (the local
    # runtime mocks AWS in its own process, so it cannot write there itself)
    path, good, bad = sqlite_log
    table = "dashboard-events"
    store = DynamoDBEventStore(table, region="us-east-1", endpoint_url=moto_endpoint)
    store.create_table()
    for event in SQLiteEventStore(path, create=False, read_only=True).read(PIPELINE):
        store.append([event])
    url = f"dynamodb://{table}?region=us-east-1&endpoint={moto_endpoint}"
    client = client_for(url)

    index = client.get("/")
    assert index.status_code == 200, index.text
    assert PIPELINE in index.text
    assert "Rolled back:</span> gamma" in index.text
    assert f"{bad} rolled-back" in index.text

    page = client.get(f"/pipelines/{PIPELINE}")
    assert page.status_code == 200
    gamma = re.search(r"<th scope=\"row\">Gamma.*?</tr>", page.text, re.S)
    assert gamma is not None
    assert "rolled back in us-east-1" in gamma.group(0)
    assert "(ROLLED BACK)" in gamma.group(0)
    assert "v1.1.0" in gamma.group(0)  # what the rollback returned to
    sequence = int(re.search(r'data-sequence="(\d+)"', page.text).group(1))  # type: ignore[union-attr]
    assert sequence == store.last_sequence(PIPELINE)

    # the live region: nothing new → 204 (htmx swaps nothing); behind → the fresh region
    assert client.get(f"/pipelines/{PIPELINE}/live?seq={sequence}").status_code == 204
    behind = client.get(f"/pipelines/{PIPELINE}/live?seq={sequence - 1}")
    assert behind.status_code == 200
    assert f'data-sequence="{sequence}"' in behind.text

    timeline = client.get(f"/pipelines/{PIPELINE}/changes/{bad}")
    assert timeline.status_code == 200
    alarm = next(e for e in store.read(PIPELINE) if isinstance(e, AlarmFired))
    row = re.search(
        rf"<tr class=\"failure\">\s*<td>{alarm.sequence}</td>.*?</tr>", timeline.text, re.S
    )
    assert row is not None
    # the alarm and what it fired on, as inputs
    assert f"<dt>alarm_name</dt><dd>{alarm.alarm_name}</dd>" in row.group(0)
    assert "<dt>reason</dt>" in row.group(0)
    assert f"Timeline of {bad}: rolled-back" in timeline.text

    metrics = client.get(f"/pipelines/{PIPELINE}/metrics")
    assert "Change failure rate" in metrics.text
    assert "1 of 2 changes deployed to production were rolled back there" not in metrics.text
    assert good in client.get(f"/pipelines/{PIPELINE}/changes/{good}").text


def test_the_past_is_the_fold_at_that_time(sqlite_log: tuple[Path, str, str]) -> None:
    path, _, bad = sqlite_log
    client = client_for(f"sqlite:///{path}")
    store = SQLiteEventStore(path, create=False, read_only=True)
    received = next(
        e for e in store.read(PIPELINE) if isinstance(e, ChangeReceived) and e.change_id == bad
    )
    # when the bad change arrived, gamma ran the good one, nothing rolled back
    moment = received.at.strftime("%Y-%m-%dT%H:%M:%SZ")
    then = max(e.sequence for e in store.read(PIPELINE) if e.at <= received.at)
    fragment = client.get(
        f"/pipelines/{PIPELINE}/at", params={"t": moment}, headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200
    assert "<html" not in fragment.text  # a fragment for htmx to swap in
    assert f"event {then}," in fragment.text
    assert "rolled back in" not in fragment.text
    full = client.get(f"/pipelines/{PIPELINE}/at", params={"epoch": int(received.at.timestamp())})
    assert full.status_code == 200
    assert "<html" in full.text
    assert f"event {then}," in full.text


def test_bad_requests_get_a_page_that_says_why(sqlite_log: tuple[Path, str, str]) -> None:
    path, _, _ = sqlite_log
    client = client_for(f"sqlite:///{path}")

    cases = [
        ("/pipelines/nope", 404, "pipeline &#39;nope&#39; has no events in the log"),
        (f"/pipelines/{PIPELINE}/changes/chg-nope", 404, "has no change &#39;chg-nope&#39;"),
        (f"/pipelines/{PIPELINE}/at?t=yesterday", 400, "write ISO-8601"),
        (f"/pipelines/{PIPELINE}/at?epoch=1e400", 400, "not a number of seconds"),
        (f"/pipelines/{PIPELINE}/at", 400, "name a time"),
        (f"/pipelines/{PIPELINE}/at?t=1999-01-01T00:00Z", 404, "has no events at or before"),
        ("/no/such/page", 404, "no page at /no/such/page"),
    ]
    for url, status, message in cases:
        response = client.get(url)
        assert (response.status_code, message in response.text) == (status, True), url
        assert 'role="alert"' in response.text


def test_a_tampered_log_is_shown_unreadable_never_healthy(
    sqlite_log: tuple[Path, str, str], tmp_path: Path
) -> None:
    path, _, _ = sqlite_log
    copy = tmp_path / "copy.db"
    with sqlite3.connect(path) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with sqlite3.connect(copy) as db:
        db.execute(
            "UPDATE events SET body = replace(body, 'v1.1.0', 'v6.6.6') "
            "WHERE pipeline_id = ? AND sequence = (SELECT max(sequence) FROM events "
            "WHERE body LIKE '%v1.1.0%')",
            (PIPELINE,),
        )
    client = client_for(f"sqlite:///{copy}")

    index = client.get("/")
    assert index.status_code == 200
    assert "Unreadable:" in index.text
    assert "cannot read this pipeline&#39;s log" in index.text
    page = client.get(f"/pipelines/{PIPELINE}")
    assert page.status_code == 500
    assert "The event log cannot be read" in page.text
    assert "v6.6.6" not in page.text


def test_report_html_writes_every_page_in_one_self_contained_file(
    sqlite_log: tuple[Path, str, str], tmp_path: Path
) -> None:
    path, good, bad = sqlite_log
    target = tmp_path / "out" / "report.html"
    result = runner.invoke(
        app,
        [
            "report",
            "--html",
            str(target),
            "--event-log",
            f"sqlite:///{path}",
            "--pipelines",
            "tests.e2e.conftest:SMALL_PIPELINES",
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {target}" in result.output
    text = target.read_text()
    assert "<script" not in text  # nothing to load: it opens from S3 or a CI artifact
    assert "rolled back in us-east-1" in text
    for change in (good, bad):
        assert f'id="change-{PIPELINE}-{change}"' in text
    anchors = set(re.findall(r'href="#([^"]+)"', text))
    ids = set(re.findall(r' id="([^"]+)"', text))
    assert anchors <= ids, anchors - ids  # every link lands inside the file
    rollback = next(
        e
        for e in SQLiteEventStore(path, create=False).read(PIPELINE)
        if isinstance(e, RollbackCompleted)
    )
    assert f"<td>{rollback.sequence}</td>" in text
    assert "Change failure rate" in text


def test_report_and_dashboard_refuse_what_they_cannot_use(
    sqlite_log: tuple[Path, str, str], tmp_path: Path
) -> None:
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    SQLiteEventStore(tmp_path / "empty.db").close()
    full = f"sqlite:///{sqlite_log[0]}"
    small = ["--pipelines", "tests.e2e.conftest:SMALL_PIPELINES"]
    cases = [
        (["report", "--html", str(tmp_path / "r.html"), "--event-log", empty], "holds no pipeline"),
        (["report", "--html", str(tmp_path), "--event-log", full, *small], "is a directory"),
        (["dashboard", "--port", "0", "--event-log", empty], "--port 0: not a TCP port"),
        (["dashboard", "--refresh", "0", "--event-log", empty], "--refresh 0: write seconds"),
        (
            ["report", "--html", "r.html", "--event-log", f"sqlite:///{tmp_path / 'none.db'}"],
            "none.db",
        ),
    ]
    for arguments, message in cases:
        result = runner.invoke(app, arguments)
        assert result.exit_code != 0, arguments
        assert message in str(result.exception) or message in result.output, arguments
    assert not (tmp_path / "r.html").exists()


def test_a_local_logs_notifications_show_on_its_page_and_in_history(
    sqlite_log: tuple[Path, str, str],
) -> None:
    """The local run published every event to the log's outbox, as the notify function does
    to EventBridge: the page lists the newest, `history` names each event's detail-type."""
    path, _, bad = sqlite_log
    url = f"sqlite:///{path}"
    store = SQLiteEventStore(path, create=False, read_only=True)
    rollback = next(e for e in store.read(PIPELINE) if isinstance(e, RollbackCompleted))

    page = client_for(url).get(f"/pipelines/{PIPELINE}")
    section = page.text.split("Notifications published", 1)[1]
    assert "Shipwave Execution Ended" in section or "Shipwave Stage Released" in section
    assert "not published yet" not in section  # the run's end published everything

    result = runner.invoke(
        app, ["history", PIPELINE, "--change", bad, "--json", "--event-log", url]
    )
    assert result.exit_code == 0, result.output
    events = json.loads(result.stdout)
    (rolled,) = [e for e in events if e["sequence"] == rollback.sequence]
    # gamma is not production: a rollback there is a warning
    assert rolled["notification"] == {
        "detail_type": "Shipwave Change Rolled Back",
        "severity": "warning",
    }
    assert all(e["notification"] is not None for e in events)
    table = runner.invoke(app, ["history", PIPELINE, "--change", bad, "--event-log", url])
    assert "Shipwave Change Rolled Back (warning)" in table.output
