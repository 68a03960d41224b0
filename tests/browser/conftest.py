"""A real browser (Debian's Chromium, driven by Selenium and Debian's chromedriver) against
the dashboard served by uvicorn on 127.0.0.1, as `shipwave dashboard` serves it."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from domain.ports import EventStore
from domain.spec import PipelineSpec
from shipwave.dashboard import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: where the screenshots are kept (a test artifact: CI keeps the folder)
SCREENSHOTS = Path(__file__).parent.parent.parent / ".shipwave" / "screenshots"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Served:
    """The dashboard on a free port of 127.0.0.1, in a thread of this process."""

    def __init__(
        self,
        store: EventStore,
        specs: dict[str, PipelineSpec],
        refresh: float,
        clock: Callable[[], datetime] | None,
    ) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = create_app(
            store,
            specs,
            source="test log",
            refresh_seconds=refresh,
            **({"clock": clock} if clock else {}),
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the dashboard did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def start(
        store: EventStore,
        specs: dict[str, PipelineSpec],
        refresh: float = 0.3,
        clock: Callable[[], datetime] | None = None,
    ) -> Served:
        served = Served(store, specs, refresh, clock).__enter__()
        started.append(served)
        return served

    yield start
    for served in started:
        served.__exit__()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    for binary in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(binary) is None:
            pytest.fail(
                f"{binary} is missing: `make test` installs Debian's chromium and "
                "chromium-driver (make browser)"
            )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1600,1200",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
