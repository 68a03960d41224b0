"""The dashboard in a real headless Chromium: the demo's log, and a local run as it goes."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from adapters.sqlite import SQLiteEventStore
from domain.events import BlockerHit, ChangeRetried, Event, RollbackCompleted
from domain.state import project
from examples.reference import CreateOrderApp
from shipwave.bootstrap import load_pipelines
from shipwave.demo import run_demo
from statemachines.local.runtime import LocalRuntime
from tests.browser.conftest import SCREENSHOTS, Served
from tests.e2e.conftest import MONDAY_8AM, SmallApp, specs

PIPELINE = CreateOrderApp.pipeline_id()


def _text(browser: webdriver.Chrome, css: str) -> str:
    return str(browser.find_element(By.CSS_SELECTOR, css).text)


def _wait_for(browser: webdriver.Chrome, css: str, text: str, timeout: float = 15) -> None:
    WebDriverWait(browser, timeout).until(
        expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, css), text)
    )


def _accessibility_problems(browser: webdriver.Chrome) -> list[str]:
    """What the page's markup gets wrong for a screen reader (checked in the browser's DOM)."""
    found: list[str] = browser.execute_script(
        """
        const problems = [];
        if (!document.documentElement.lang) problems.push('html has no lang');
        if (document.querySelectorAll('h1').length < 1) problems.push('no h1');
        if (!document.querySelector('main')) problems.push('no main landmark');
        let level = 0;
        for (const h of document.querySelectorAll('h1,h2,h3,h4,h5,h6')) {
          const n = Number(h.tagName[1]);
          if (n > level + 1) problems.push('heading skips a level: ' + h.textContent.trim());
          level = n;
        }
        for (const t of document.querySelectorAll('table')) {
          if (!t.querySelector('caption')) problems.push('table without caption');
          for (const th of t.querySelectorAll('th')) {
            if (!th.getAttribute('scope')) problems.push('th without scope: ' + th.textContent);
          }
        }
        for (const i of document.querySelectorAll('input, select, textarea')) {
          const label = i.id && document.querySelector('label[for="' + i.id + '"]');
          if (!label && !i.getAttribute('aria-label')) problems.push('unlabelled input ' + i.name);
        }
        // colour is never the only signal: every toned element says it in words too
        for (const el of document.querySelectorAll('.bad')) {
          if (!el.textContent.trim()) problems.push('a red mark with no words');
        }
        return problems;
        """
    )
    return found


def _the_past_at_the_first_blocker(browser: webdriver.Chrome, events: list[Event]) -> None:
    """At the first blocker, the grid says the stage was blocked and why."""
    blocked = next(e for e in events if isinstance(e, BlockerHit))
    typed = browser.find_element(By.ID, "at-text")
    typed.clear()
    typed.send_keys(blocked.at.strftime("%Y-%m-%dT%H:%M:%SZ"))
    browser.find_element(By.CSS_SELECTOR, "form.at button").click()
    _wait_for(browser, "#at-result", f"blocked: {blocked.blocker}")
    caption = _text(browser, "#at-caption")
    assert f"event {blocked.sequence}" in caption
    at_row = browser.find_element(
        By.XPATH, f"//div[@id='at-result']//tr[th[starts-with(., '{blocked.stage.title()}')]]"
    )
    assert f"blocked: {blocked.blocker}" in at_row.text
    browser.execute_script("document.getElementById('at-result').scrollIntoView()")
    browser.save_screenshot(str(SCREENSHOTS / "dashboard-at-a-time.png"))


def test_the_demo_log_in_a_browser_shows_rollbacks_blockers_timelines_and_the_past(
    tmp_path: Path,
    serve: Callable[..., Served],
    browser: webdriver.Chrome,
) -> None:
    path = tmp_path / "events.db"
    run_demo(f"sqlite:///{path}", Console(file=io.StringIO()), source_dir=tmp_path / "source")
    store = SQLiteEventStore(path, create=False, read_only=True)
    events = list(store.read(PIPELINE))
    finished = {c.change_id: c.status for c in project(events).finished}
    # (the change an outage rolled back at gamma was retried and completed)
    rolled_back = {
        e.change_id
        for e in events
        if isinstance(e, RollbackCompleted) and finished.get(e.change_id) == "rolled-back"
    }
    served = serve(store, load_pipelines("examples.reference:PIPELINES"))

    # all pipelines at a glance
    browser.get(served.url + "/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Pipelines"
    row = _text(browser, "table.pipelines tbody tr")
    assert PIPELINE in row
    assert "Rolled back: alpha, wave2" in row
    assert _accessibility_problems(browser) == []

    # the pipeline: waves × regions, its rolled-back scopes, the conveyor, the changes
    browser.find_element(By.LINK_TEXT, PIPELINE).click()
    WebDriverWait(browser, 10).until(expected_conditions.title_contains(PIPELINE))
    grid = browser.find_element(By.CSS_SELECTOR, "table.grid")
    headers = [th.text for th in grid.find_elements(By.CSS_SELECTOR, "thead th")]
    assert headers[:3] == ["Stage", "Status", "us-east-1"]
    assert len(headers) == 2 + 24  # every region of the reference pipeline
    wave2 = grid.find_element(By.XPATH, ".//tr[th[starts-with(., 'Wave2')]]")
    assert "rolled back in us-east-1" in wave2.text
    assert "(ROLLED BACK)" in wave2.text  # in words, not only red
    assert "Nothing is blocked." in _text(browser, "#live")
    changes = _text(browser, "table.changes")
    for change in rolled_back:
        assert f"{change} rolled-back" in changes
    WebDriverWait(browser, 15).until(
        expected_conditions.text_to_be_present_in_element(
            (By.CSS_SELECTOR, ".metrics"), "Change failure rate"
        )
    )
    assert _accessibility_problems(browser) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "dashboard-pipeline.png"))

    _the_past_at_the_first_blocker(browser, events)

    # one rolled-back change: its timeline from merge to rollback, the alarm and its inputs
    change = sorted(rolled_back)[0]
    browser.get(f"{served.url}/pipelines/{PIPELINE}/changes/{change}")
    timeline = browser.find_element(By.CSS_SELECTOR, "table.timeline")
    rows = timeline.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert "change received" in rows[0].text.lower() or "merge" in rows[0].text.lower()
    failures = timeline.find_elements(By.CSS_SELECTOR, "tr.failure")
    assert any("rollback" in r.text.lower() for r in failures)
    assert "rolled-back" in browser.find_element(By.TAG_NAME, "h2").text
    assert timeline.find_elements(By.CSS_SELECTOR, "tr.gate details[open] dl.inputs dt")
    assert _accessibility_problems(browser) == []
    browser.save_screenshot(str(SCREENSHOTS / "dashboard-change.png"))

    # the retried change: rolled back at gamma, retried by a person, then completed
    (retried,) = [e for e in events if isinstance(e, ChangeRetried)]
    browser.get(f"{served.url}/pipelines/{PIPELINE}/changes/{retried.change_id}")
    assert "completed" in browser.find_element(By.TAG_NAME, "h2").text
    timeline = _text(browser, "table.timeline")
    assert "retried by local:ana from gamma" in timeline
    assert timeline.index("rollback completed") < timeline.index("retried by local:ana")
    assert _accessibility_problems(browser) == []


def test_a_page_updates_itself_while_a_local_run_progresses(
    tmp_path: Path, serve: Callable[..., Served], browser: webdriver.Chrome
) -> None:
    store = SQLiteEventStore(tmp_path / "events.db")
    pipeline = SmallApp.pipeline_id()
    with LocalRuntime(specs(SmallApp), event_log=store, start=MONDAY_8AM) as runtime:
        runtime.adopt(pipeline, "v1.0.0")
        served = serve(
            SQLiteEventStore(tmp_path / "events.db", create=False, read_only=True),
            {pipeline: SmallApp.spec()},
            clock=runtime.clock.now,  # the run's virtual time: bakes end in it
        )
        browser.get(f"{served.url}/pipelines/{pipeline}")
        browser.execute_script("window.notReloaded = true")
        first = int(browser.find_element(By.ID, "live").get_attribute("data-sequence") or 0)

        change = runtime.merge(pipeline, "v1.1.0")

        def baking_at_gamma() -> bool:
            stage = runtime.log.state(pipeline).stages.get("gamma")
            return bool(stage and any(s.activity == "baking" for s in stage.scopes.values()))

        runtime.run(until=baking_at_gamma, max_days=2)
        gamma = "//table[contains(@class,'grid')]//tr[th[starts-with(., 'Gamma')]]"
        WebDriverWait(browser, 15).until(
            lambda b: (
                "baking" in b.find_element(By.XPATH, gamma).text
                and "left, until" in b.find_element(By.XPATH, gamma).text
            )
        )
        assert f"{change}: baking" in browser.find_element(By.XPATH, gamma).text
        assert f"{change} deploying" not in _text(browser, "table.changes")
        middle = int(browser.find_element(By.ID, "live").get_attribute("data-sequence") or 0)
        assert middle > first

        runtime.run(max_days=3)
        final = project(store.read(pipeline))
        assert final.finished[-1].status == "completed"
        _wait_for(browser, "table.changes", f"{change}")
        _wait_for(browser, "table.changes", "completed")
        WebDriverWait(browser, 15).until(
            lambda b: (
                int(b.find_element(By.ID, "live").get_attribute("data-sequence") or 0)
                == final.sequence
            )
        )
        assert "v1.1.0" in _text(browser, "table.grid")
        assert browser.execute_script("return window.notReloaded") is True  # no reload
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SCREENSHOTS / "dashboard-live.png"))
