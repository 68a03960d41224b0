"""Baking: the bake callback, and at its end the alarm backstop and the datapoint requirement."""

from __future__ import annotations

from datetime import timedelta

from domain.alarm_health import (
    assess,
    merge,
)
from domain.conveyor import token_key
from domain.errors import (
    AlarmReadError,
)
from domain.events import (
    AlarmFired,
    AlarmsUnconfirmed,
    BakeCompleted,
    BakeStarted,
    DatapointsInsufficient,
    DatapointsReached,
    Event,
    Stamper,
)
from domain.rollout import (
    bake_verdict,
    extension_seconds,
)
from domain.state import PipelineState
from service.alarms import AlarmSteps
from service.core import (
    BAKE_PHASE,
    Progress,
    Where,
    environment,
    scope_of,
)


class BakeSteps(AlarmSteps):
    def bake_plan(self, where: Where) -> Progress:
        spec, _, change = self._checked(where)
        return self._progress(
            spec, where, change, batch=0, done=True, extensions=0, verdict="pending"
        )

    def bake_start(self, where: Where, phase: str, progress: Progress, token: str) -> Progress:
        spec, _, _ = self._checked(where, progress)
        now = self.clock()
        seconds = int(progress.get("bake_seconds", 0))
        extensions = int(progress.get("extensions", 0))

        def decide(state: PipelineState, stamp: Stamper) -> list[Event]:
            recorded = scope_of(state, where)
            if recorded is not None and recorded.bake_token == token:
                return []  # this task's bake is recorded: a duplicate delivery
            # A retried task (its first attempt crashed) has a new token: its bake is
            # recorded anew, so an alarm fails the task that waits now, and it starts over.
            return [
                stamp(
                    BakeStarted,
                    where.key(f"bake-{phase}-{extensions}:{token_key(token)}"),
                    **where.fields(),
                    phase=BAKE_PHASE[phase],
                    duration_seconds=seconds,
                    ends_at=now + timedelta(seconds=seconds),
                    metric=f"{spec.datapoints.namespace}/{spec.datapoints.metric}",
                    min_datapoints=spec.datapoints.minimum,
                    callback_token=token,
                )
            ]

        self.log.record(where.pipeline_id, now, decide)
        # Alarms without data yet (a one-box just started) are expected here: the bake's end
        # decides on them. An alarm already in ALARM ends the bake at once.
        alarming = self._health(spec, where.stage, self._watched(spec, where, phase)).in_alarm
        if alarming:
            self._alarm_fired(where, alarming[0], "already in ALARM when the bake started")
            self.workflow.fail(token, "AlarmFired", f"alarm {alarming[0]} in {where.region}")
        return {"baking": where.scope}

    def bake_check(self, where: Where, phase: str, progress: Progress) -> Progress:
        """At bake end: the alarm history backstop and the datapoint requirement."""
        spec, state, change = self._checked(where, progress)
        scope_state = scope_of(state, where)
        now = self.clock()
        start = (scope_state.bake_started_at if scope_state else None) or now
        # The bake is judged over its own window, [start, start + its length]: a check retried
        # a moment later (its first attempt recorded the verdict, then crashed) sees the same
        # requests and alarm history, so it records nothing twice and returns the same verdict;
        # an alarm in ALARM now still counts (the current states are read now).
        end = min(now, start + timedelta(seconds=max(0, int(progress.get("bake_seconds", 0)))))
        extensions = int(progress.get("extensions", 0))
        watched = self._watched(spec, where, phase)
        env = environment(spec, where.stage)
        health = self._health(spec, where.stage, watched)
        composites = tuple(n for n in watched.names if n in watched.need_actions)
        try:
            breached = tuple(
                dict.fromkeys(
                    (
                        *health.in_alarm,
                        *self.alarms.breached(env, where.region, composites, start, end),
                    )
                )
            )
            seen = self.alarms.datapoints(
                env, where.region, spec.datapoints, where.scope, start, end
            )
        except AlarmReadError as error:
            breached, seen = health.in_alarm, 0
            health = merge((health, assess(watched, None, read_error=str(error))))
        verdict = bake_verdict(
            seen=seen,
            datapoints=spec.datapoints,
            extensions=extensions,
            alarm_breached=bool(breached),
            alarms_unconfirmed=bool(health.unconfirmed),
        )
        alone = bake_verdict(
            seen=seen, datapoints=spec.datapoints, extensions=extensions, alarm_breached=False
        )
        metric = f"{spec.datapoints.namespace}/{spec.datapoints.metric}"

        def decide(_: PipelineState, stamp: Stamper) -> list[Event]:
            tag = f"{phase}-{extensions}"
            if breached:
                return [
                    stamp(
                        AlarmFired,
                        where.key(f"alarm-history-{tag}"),
                        **where.fields(),
                        alarm_name=breached[0],
                        region=where.region,
                        reason="in ALARM during the bake (alarm history backstop)",
                    )
                ]
            if verdict == "pass" and seen >= spec.datapoints.minimum:
                events: list[Event] = [
                    stamp(
                        DatapointsReached,
                        where.key(f"datapoints-{tag}"),
                        **where.fields(),
                        metric=metric,
                        required=spec.datapoints.minimum,
                        seen=seen,
                    )
                ]
            else:
                action = (
                    "proceed" if alone == "pass" else ("extend" if alone == "extend" else "hold")
                )
                events = [
                    stamp(
                        DatapointsInsufficient,
                        where.key(f"datapoints-{tag}"),
                        **where.fields(),
                        metric=metric,
                        required=spec.datapoints.minimum,
                        seen=seen,
                        action=action,
                    )
                ]
            if health.unconfirmed and verdict in ("extend", "hold"):
                events.append(
                    stamp(
                        AlarmsUnconfirmed,
                        where.key(f"unconfirmed-{tag}"),
                        **where.fields(),
                        region=where.region,
                        problems=health.unconfirmed,
                        action="extend" if verdict == "extend" else "hold",
                    )
                )
            if verdict == "pass":
                events.append(
                    stamp(
                        BakeCompleted,
                        where.key(f"baked-{phase}"),
                        **where.fields(),
                        phase=BAKE_PHASE[phase],
                    )
                )
            return events

        self.log.record(where.pipeline_id, now, decide)
        if verdict == "rollback":
            return {
                **self._progress(
                    spec,
                    where,
                    change,
                    batch=0,
                    done=True,
                    extensions=extensions,
                    verdict="rollback",
                )
            }
        next_extensions = extensions + (1 if verdict in ("extend", "hold") else 0)
        progress_out = self._progress(
            spec, where, change, batch=0, done=True, extensions=next_extensions, verdict=verdict
        )
        if verdict in ("extend", "hold"):
            progress_out["bake_seconds"] = extension_seconds(
                seen=seen,
                required=spec.datapoints.minimum,
                baked_seconds=(now - start).total_seconds(),
                bake_seconds=progress_out["bake_seconds"],
            )
        return progress_out
