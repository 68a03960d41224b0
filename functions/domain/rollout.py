"""Pure deployment maths and verdicts: one-box, rolling batches, bakes, blockers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import holidays as holiday_calendars

from domain.catalogue import Region
from domain.spec import Datapoints, Rolling, TimeWindow
from domain.state import PipelineState

Verdict = Literal["pass", "extend", "hold", "rollback"]


# --- one-box and rolling -----------------------------------------------------------------


def one_box_traffic_percent(boxes: int, limit_percent: float) -> float:
    """The share one box serves beside the fleet, capped at the configured limit."""
    if boxes < 1:
        raise ValueError("a scope needs at least one box")
    return min(limit_percent, 100.0 / boxes)


def batch_size(boxes: int, rolling: Rolling, *, rollback: bool = False) -> int:
    """Boxes replaced per batch: at most batch % (5 % forward with fast rollback, 33 % back),
    never so many that less than min healthy % of capacity keeps serving; at least one."""
    if rollback:
        percent = rolling.rollback_percent if rolling.fast_rollback else rolling.batch_percent
    else:
        percent = rolling.fast_forward_percent if rolling.fast_rollback else rolling.batch_percent
    by_batch = math.floor(boxes * percent / 100 + 1e-9)
    by_health = math.floor(boxes * (100 - rolling.min_healthy_percent) / 100 + 1e-9)
    return max(1, min(by_batch, by_health))


def healthy_percent(boxes: int, out_of_service: int) -> float:
    return 100.0 * (boxes - out_of_service) / boxes


# --- bake ------------------------------------------------------------------------------------


def bake_seconds(configured: int, emergency_factor: float | None, floor_seconds: int = 600) -> int:
    """An approved emergency bakes faster, for that change only; never below the pipeline's
    floor (default 10 minutes), nor longer than configured."""
    if emergency_factor is None:
        return configured
    return max(min(floor_seconds, configured), math.ceil(configured * emergency_factor))


def bake_verdict(
    *,
    seen: int,
    datapoints: Datapoints,
    extensions: int,
    alarm_breached: bool,
    alarms_unconfirmed: bool = False,
) -> Verdict:
    """At bake end: roll back on an alarm in the window (the backstop), pass with enough
    datapoints and alarms that vouch for the bake; otherwise follow the pipeline's policy
    (extend while it allows, then hold). Alarms that cannot vouch (missing, without data,
    unreadable) never pass, not even under "proceed"."""
    if alarm_breached:
        return "rollback"
    if not alarms_unconfirmed and (seen >= datapoints.minimum or datapoints.policy == "proceed"):
        return "pass"
    if datapoints.policy == "extend" and extensions < datapoints.max_extensions:
        return "extend"
    return "hold"


#: an extension never lasts less than this, so a bake is not extended minute by minute
MIN_EXTENSION_SECONDS = 60
#: headroom over the traffic rate seen, so the next check usually has enough
EXTENSION_MARGIN = 1.2


def extension_seconds(*, seen: int, required: int, baked_seconds: float, bake_seconds: int) -> int:
    """How long to extend a bake that saw too few datapoints: the time the traffic seen so far
    needs to make up the rest (with a margin), at most the default extension of half the bake
    (at least an hour). With no traffic at all there is no rate to go by: the default."""
    default = max(3600, bake_seconds // 2)
    if seen <= 0 or baked_seconds <= 0 or seen >= required:
        return default
    needed = (required - seen) * baked_seconds / seen * EXTENSION_MARGIN
    return max(MIN_EXTENSION_SECONDS, min(default, math.ceil(needed)))


# --- blockers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Blocked:
    blocker: str  # "time-window", "aggregate-alarm", "company-alarm"
    reason: str
    inputs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class BlockerCheck:
    blocked: tuple[Blocked, ...]
    wait_seconds: int  # when to look again

    @property
    def is_blocked(self) -> bool:
        return bool(self.blocked)


def _holiday(region: Region, day: datetime) -> str | None:
    calendar = holiday_calendars.country_holidays(
        region.holiday_country, subdiv=region.holiday_subdivision, years=day.year
    )
    name = calendar.get(day.date())
    return str(name) if name else None


def window_closed(now: datetime, region: Region, window: TimeWindow) -> Blocked | None:
    """None when a deployment may start now in the region's local time, else why not."""
    local = now.astimezone(ZoneInfo(region.time_zone))
    open_hours = set(window.open_hours())
    inputs = (
        ("region", region.name),
        ("time_zone", region.time_zone),
        ("local_time", local.strftime("%a %Y-%m-%d %H:%M")),
        ("window", _describe(window)),
    )
    if (local.weekday(), local.hour) not in open_hours:
        return Blocked("time-window", f"outside the deployment window in {region.name}", inputs)
    if window.skip_holidays:
        holiday = _holiday(region, local)
        if holiday:
            return Blocked(
                "time-window",
                f"public holiday in {region.name}: {holiday}",
                (*inputs, ("holiday", holiday)),
            )
    return None


def next_opening(now: datetime, region: Region, window: TimeWindow) -> datetime:
    """The next full hour at which the window is open in the region (within 30 days)."""
    candidate = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    for _ in range(24 * 30):
        if window_closed(candidate, region, window) is None:
            return candidate
        candidate += timedelta(hours=1)
    raise ValueError(f"the window never opens in {region.name} within 30 days")


#: how soon a stage held by an alarm looks again: soon at first, then less often (half the
#: time held so far), so a hold of days stays far inside an execution's history limit
MIN_RECHECK_SECONDS = 600
MAX_RECHECK_SECONDS = 3600


def recheck_seconds(blocked_for_seconds: float) -> int:
    return int(min(MAX_RECHECK_SECONDS, max(MIN_RECHECK_SECONDS, blocked_for_seconds / 2)))


#: how many alarm problems a blocker's reason names before it counts the rest
_NAMED_PROBLEMS = 5
#: and how many it lists in its inputs (an event stays small)
_LISTED_PROBLEMS = 20


def check_alarm_blockers(
    *,
    alarms_in_alarm: tuple[tuple[str, str], ...],  # (alarm name, region) currently in ALARM
    team_aggregate: str,
    unconfirmed: tuple[str, ...] = (),  # why watched alarms cannot vouch ("alarm-missing: …")
    blocked_for_seconds: float = 0.0,
) -> BlockerCheck:
    """Before a stage: the team's aggregate or a company-wide alarm in ALARM in any of the
    stage's regions blocks it, and so does any watched alarm that cannot vouch for it
    (missing, without data, actions disabled, unreadable); look again in 10 minutes, then
    less often the longer the stage has been held (at most hourly)."""
    health: tuple[Blocked, ...] = ()
    if unconfirmed:
        named = "; ".join(unconfirmed[:_NAMED_PROBLEMS])
        more = len(unconfirmed) - _NAMED_PROBLEMS
        health = (
            Blocked(
                "alarm-health",
                named + (f"; and {more} more" if more > 0 else ""),
                tuple(
                    (f"problem {n}", text)
                    for n, text in enumerate(unconfirmed[:_LISTED_PROBLEMS], start=1)
                ),
            ),
        )
    blocked = health + tuple(
        Blocked(
            "aggregate-alarm" if name == team_aggregate else "company-alarm",
            f"alarm {name} is in ALARM in {region}",
            (("alarm", name), ("region", region), ("state", "ALARM")),
        )
        for name, region in alarms_in_alarm
    )
    return BlockerCheck(blocked, recheck_seconds(blocked_for_seconds) if blocked else 0)


def check_window(now: datetime, region: Region, window: TimeWindow) -> BlockerCheck:
    """Whether a region's deployment may start now; if not, how long until the window opens."""
    closed = window_closed(now, region, window)
    if closed is None:
        return BlockerCheck((), 0)
    opening = next_opening(now, region, window)
    return BlockerCheck((closed,), max(60, int((opening - now).total_seconds())))


def _describe(window: TimeWindow) -> str:
    names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    days = ",".join(names[d] for d in window.days if not (window.no_fridays and d == 4))
    last = window.end_hour if window.latest_start_hour is None else window.latest_start_hour
    holidays_text = ", no holidays" if window.skip_holidays else ""
    return f"{days} {window.start_hour:02d}:00-{last:02d}:00 local{holidays_text}"


#: how often a paused pipeline's next stage looks again whether it was resumed
PAUSED_RECHECK_SECONDS = 300


def with_pause(state: PipelineState, check: BlockerCheck) -> BlockerCheck:
    """A paused pipeline starts no stage: its pause is one more blocker, looked at again
    every five minutes (a resume lets the stage start at its next look)."""
    if state.paused is None:
        return check
    pause = state.paused
    inputs = [("by", pause.by), ("since", pause.since.isoformat())]
    if pause.team:
        inputs.append(("team", pause.team))
    held = Blocked("paused", f"pipeline paused by {pause.by}: {pause.why}", tuple(inputs))
    wait = PAUSED_RECHECK_SECONDS
    if check.is_blocked:
        wait = min(check.wait_seconds, wait)
    return BlockerCheck((held, *check.blocked), wait)
