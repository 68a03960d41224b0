"""The CLI in a real terminal: tmux runs it, capture-pane reads its screen."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from adapters.sqlite import SQLiteEventStore
from tests.builders import change_received, rollout


class Terminal:
    def __init__(self, command: list[str]) -> None:
        if shutil.which("tmux") is None:
            pytest.fail("tmux is missing (Debian's tmux: the machine image has it)")
        self.name = f"shipwave-{uuid.uuid4().hex[:8]}"
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", self.name, "-x", "160", "-y", "50",
             shlex.join(command)],
            check=True,
        )  # fmt: skip

    def screen(self) -> str:
        done = subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name],
            check=False,
            capture_output=True,
            text=True,
        )
        return done.stdout

    def wait_for(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never showed; the screen:\n{self.screen()}")

    def alive(self) -> bool:
        found = subprocess.run(
            ["tmux", "has-session", "-t", self.name], check=False, capture_output=True
        )
        return found.returncode == 0

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], check=False, capture_output=True)


@pytest.fixture
def terminal() -> Iterator[Callable[[list[str]], Terminal]]:
    opened: list[Terminal] = []

    def open_(command: list[str]) -> Terminal:
        opened.append(Terminal(command))
        return opened[-1]

    yield open_
    for each in opened:
        each.close()


def test_status_watch_redraws_in_place_as_the_log_grows_and_ctrl_c_stops_it(
    tmp_path: Path, terminal: Callable[[list[str]], Terminal]
) -> None:
    path = tmp_path / "events.db"
    store = SQLiteEventStore(path)
    store.append([change_received("orders-app", 1, "c1")])
    store.append(rollout("orders-app", 2, "c1", "gamma", "us-east-1"))
    first = store.last_sequence("orders-app")
    url = f"sqlite:///{path}"
    shell = terminal(
        [sys.executable, "-m", "shipwave", "status", "orders-app", "--watch", "0.3",
         "--event-log", url]
    )  # fmt: skip

    shell.wait_for(f"sequence {first}")
    store.append([change_received("orders-app", first + 1, "c2")])
    screen = shell.wait_for(f"sequence {first + 1}")
    assert f"sequence {first} " not in screen  # redrawn in place, not printed below
    assert screen.count("Pipeline orders-app") == 1
    assert "watching every 0.3 s" in screen

    shell.keys("C-c")
    deadline = time.monotonic() + 10
    while shell.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not shell.alive()  # the command ended (and with it the terminal)
