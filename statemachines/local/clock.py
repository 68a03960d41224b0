"""Virtual time for the local runtime: a 12-hour bake takes milliseconds.

The interpreter's threads wait through `VirtualEvent.wait(timeout)`, `VirtualThread.join` and
`sleep`. The clock knows every interpreter thread (they are `VirtualThread`s) and whether it
runs or waits. When none runs (the system is quiescent) the driver moves time to the earliest
deadline (or the next tick, so simulations advance in steps), runs the tick hooks (the
simulated CloudWatch evaluates alarms there) and wakes the waiters whose deadline passed.

Without an installed clock, `VirtualEvent` and `VirtualThread` behave as their real threading
counterparts, so the patched interpreter still works in real time.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time as real_time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

TickHook = Callable[[datetime, datetime], None]


class ClockStuckError(RuntimeError):
    """Nothing runs and nothing is scheduled, yet the awaited condition is not met."""


@dataclass(eq=False)
class _Waiter:
    ident: int
    deadline: float
    event: VirtualEvent | None
    wake: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    signalled: bool = False


class VirtualClock:
    def __init__(self, start: datetime, *, tick_seconds: float = 60.0) -> None:
        if start.tzinfo is None:
            raise ValueError("the virtual clock starts at an aware time")
        self.start = start
        self.tick_seconds = tick_seconds
        self._elapsed = 0.0
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._running: set[int] = set()
        self._waiting: dict[int, _Waiter] = {}
        self._timers: list[tuple[float, int, _Waiter]] = []
        self._sequence = itertools.count()
        self._hooks: list[TickHook] = []
        self.advances = 0

    # --- time ---------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self._elapsed)

    @property
    def elapsed(self) -> float:
        return self._elapsed

    def on_tick(self, hook: TickHook) -> None:
        """Call `hook(previous, now)` every time virtual time moves."""
        self._hooks.append(hook)

    # --- threads ------------------------------------------------------------------------

    def register(self, ident: int) -> None:
        with self._lock:
            self._running.add(ident)

    def unregister(self, ident: int) -> None:
        with self._lock:
            self._running.discard(ident)
            self._waiting.pop(ident, None)
            self._changed.notify_all()

    def wait(self, event: VirtualEvent | None, timeout: float | None) -> bool:
        """Block the calling thread until `event` is set or `timeout` virtual seconds pass."""
        ident = threading.get_ident()
        with self._lock:
            if event is not None and event.is_set():
                return True
            if timeout is not None and timeout <= 0:
                return event.is_set() if event is not None else True
            deadline = math.inf if timeout is None else self._elapsed + timeout
            waiter = _Waiter(ident=ident, deadline=deadline, event=event)
            if event is not None:
                event.add_waiter(waiter)
            if timeout is not None:
                heapq.heappush(self._timers, (deadline, next(self._sequence), waiter))
            if ident in self._running:
                self._running.discard(ident)
                self._waiting[ident] = waiter
            self._changed.notify_all()
        waiter.wake.wait()
        return waiter.signalled

    def wake_at(self, elapsed: float) -> None:
        """Make time stop at `elapsed` virtual seconds (its tick hooks run then), though no
        thread waits until then: a redelivery scheduled by a hook, say."""
        with self._lock:
            waiter = _Waiter(ident=-1, deadline=elapsed, event=None)
            heapq.heappush(self._timers, (elapsed, next(self._sequence), waiter))
            self._changed.notify_all()

    def signal(self, event: VirtualEvent) -> None:
        """Wake every waiter of a set event; they count as running from now on."""
        with self._lock:
            for waiter in event.take_waiters():
                self._resume(waiter, signalled=True)
            self._changed.notify_all()

    def _resume(self, waiter: _Waiter, *, signalled: bool) -> None:
        if waiter.done:
            return
        waiter.done = True
        waiter.signalled = signalled
        if self._waiting.get(waiter.ident) is waiter:
            del self._waiting[waiter.ident]
            self._running.add(waiter.ident)
        waiter.wake.set()

    # --- the driver -----------------------------------------------------------------------

    def quiescent(self) -> bool:
        with self._lock:
            return not self._running

    def _next_deadline(self) -> float:
        while self._timers and self._timers[0][2].done:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else math.inf

    def advance(self) -> bool:
        """Move time to the next deadline or tick when nothing runs; False when idle or busy."""
        with self._lock:
            if self._running:
                return False
            deadline = self._next_deadline()
            if deadline == math.inf:
                return False
            tick = (math.floor(self._elapsed / self.tick_seconds) + 1) * self.tick_seconds
            previous = self.now()
            self._elapsed = max(self._elapsed, min(deadline, tick))
            current = self.now()
            self.advances += 1
        for hook in self._hooks:
            hook(previous, current)
        with self._lock:
            while self._timers and self._timers[0][0] <= self._elapsed:
                _, _, waiter = heapq.heappop(self._timers)
                if waiter.event is not None:
                    waiter.event.drop_waiter(waiter)
                self._resume(waiter, signalled=False)
            self._changed.notify_all()
        return True

    def run_until(
        self,
        done: Callable[[], bool],
        *,
        max_elapsed: float,
        wall_timeout: float = 600.0,
    ) -> None:
        """Drive time until `done()`; raise ClockStuckError when nothing can move any more."""
        wall_deadline = real_time.monotonic() + wall_timeout
        idle_checks = 0
        while not done():
            if real_time.monotonic() > wall_deadline:
                raise ClockStuckError(f"wall-clock limit of {wall_timeout:.0f} s reached")
            if self._elapsed > max_elapsed:
                raise ClockStuckError(
                    f"virtual time passed {timedelta(seconds=max_elapsed)} before completion"
                )
            with self._lock:
                if self._running:
                    self._changed.wait(0.05)
                    idle_checks = 0
                    continue
            if self.advance():
                idle_checks = 0
                continue
            # Quiescent with nothing scheduled: give stragglers a moment, then give up.
            idle_checks += 1
            if idle_checks > 40:
                raise ClockStuckError("every execution waits for something that never comes")
            real_time.sleep(0.005)


_ACTIVE: VirtualClock | None = None


def install(clock: VirtualClock | None) -> None:
    """Make `clock` the time of every VirtualEvent/VirtualThread/sleep (None: real time)."""
    global _ACTIVE  # noqa: PLW0603 - one interpreter per process, one clock for it
    _ACTIVE = clock


def active() -> VirtualClock | None:
    return _ACTIVE


class VirtualEvent:
    """threading.Event whose waits run on the installed clock."""

    def __init__(self) -> None:
        self._real = threading.Event()
        self._guard = threading.Lock()
        self._waiters: list[_Waiter] = []

    def is_set(self) -> bool:
        return self._real.is_set()

    isSet = is_set

    def set(self) -> None:
        self._real.set()
        clock = _ACTIVE
        if clock is not None:
            clock.signal(self)

    def clear(self) -> None:
        self._real.clear()

    def wait(self, timeout: float | None = None) -> bool:
        clock = _ACTIVE
        if clock is None:
            return self._real.wait(timeout)
        return clock.wait(self, timeout)

    def add_waiter(self, waiter: _Waiter) -> None:
        with self._guard:
            self._waiters.append(waiter)

    def drop_waiter(self, waiter: _Waiter) -> None:
        with self._guard:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def take_waiters(self) -> list[_Waiter]:
        with self._guard:
            waiters, self._waiters = self._waiters, []
        return waiters


class VirtualThread(threading.Thread):
    """threading.Thread the clock counts as running from start() until its target returns."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._finished = VirtualEvent()
        self._clock = _ACTIVE

    def start(self) -> None:
        super().start()
        # Registered by the thread itself before it runs anything; wait for that so the
        # creator cannot be seen waiting while the new thread is not counted yet.
        self._registered.wait()

    def run(self) -> None:
        clock = self._clock
        if clock is not None:
            clock.register(threading.get_ident())
        self._registered.set()
        try:
            super().run()
        finally:
            self._finished.set()
            if clock is not None:
                clock.unregister(threading.get_ident())

    def join(self, timeout: float | None = None) -> None:
        if self._clock is None:
            super().join(timeout)
            return
        if self._finished.wait(timeout):
            # The target returned; the thread itself is a few instructions from its end. Wait
            # for that too: the interpreter asks is_alive() right after join() and takes a
            # thread still alive for an execution that timed out (TIMED_OUT, seen under load).
            super().join()

    @property
    def _registered(self) -> threading.Event:
        event: threading.Event | None = self.__dict__.get("_registered_event")
        if event is None:
            event = self.__dict__.setdefault("_registered_event", threading.Event())
        return event


def sleep(seconds: float) -> None:
    clock = _ACTIVE
    if clock is None:
        real_time.sleep(seconds)
        return
    clock.wait(None, seconds)
