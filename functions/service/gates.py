"""Gates before and during deployment: the stage preflight and blockers, each region's window,
holds while alarms cannot vouch, pages for long holds."""

from __future__ import annotations

from datetime import datetime

from domain.alarm_health import (
    watched_at_stage_entry,
    watched_by_step,
)
from domain.errors import UnknownPipelineError
from domain.events import (
    BlockerCleared,
    BlockerHit,
    Event,
    PersonPaged,
    Stamper,
)
from domain.rollout import (
    Blocked,
    BlockerCheck,
    check_alarm_blockers,
    check_window,
    recheck_seconds,
    with_pause,
)
from domain.spec import PipelineSpec
from domain.state import PipelineState
from service.alarms import AlarmSteps
from service.core import (
    PRODUCTION,
    AlarmFiredError,
    Progress,
    Where,
    environment,
    not_overridden,
)


class GateSteps(AlarmSteps):
    def stage_blockers(
        self, pipeline_id: str, change_id: str, stage: str, regions: tuple[str, ...]
    ) -> Progress:
        """At stage entry: every alarm the stage will watch exists, has its actions enabled
        and (the service's own metrics) reports data; before a production stage also no team
        aggregate or company-wide alarm in ALARM."""
        spec = self._spec(pipeline_id)
        production = environment(spec, stage) == PRODUCTION
        blocking = {spec.alarm_names.team_aggregate, *spec.alarm_names.blockers}
        in_alarm: list[tuple[str, str]] = []
        unconfirmed: list[str] = []
        for region in regions:
            health = self._health(
                spec, stage, watched_at_stage_entry(spec, region, production=production)
            )
            if production:
                in_alarm += [(name, region) for name in health.in_alarm if name in blocking]
            unconfirmed += health.unconfirmed
        state = self.log.state(pipeline_id)
        stage_state = state.stages.get(stage)
        kinds = ("aggregate-alarm", "company-alarm", "alarm-health", "paused")
        held_since = [
            b.since
            for b in (stage_state.blocked if stage_state else ())
            if b.change_id == change_id and b.blocker in kinds
        ]
        check = not_overridden(
            with_pause(
                state,
                check_alarm_blockers(
                    alarms_in_alarm=tuple(dict.fromkeys(in_alarm)),
                    team_aggregate=spec.alarm_names.team_aggregate,
                    unconfirmed=tuple(dict.fromkeys(unconfirmed)),
                    blocked_for_seconds=(
                        (self.clock() - min(held_since)).total_seconds() if held_since else 0.0
                    ),
                ),
            ),
            state,
            change_id,
            stage,
        )
        self._record_blockers(pipeline_id, change_id, stage, check, kinds=kinds)
        return {"blocked": check.is_blocked, "wait_seconds": check.wait_seconds}

    def window(self, where: Where) -> Progress:
        spec = self._spec(where.pipeline_id)
        region = self.catalogue.region(where.region)
        if region is None:
            raise UnknownPipelineError(f"region {where.region!r} is not in the catalogue")
        check = not_overridden(
            check_window(self.clock(), region, spec.window),
            self.log.state(where.pipeline_id),
            where.change_id,
            where.stage,
            suffix=f":{where.region}",
        )
        self._record_blockers(
            where.pipeline_id,
            where.change_id,
            where.stage,
            check,
            kinds=("time-window",),
            suffix=f":{where.region}",
        )
        return {"open": not check.is_blocked, "wait_seconds": check.wait_seconds}

    def _record_blockers(
        self,
        pipeline_id: str,
        change_id: str,
        stage: str,
        check: BlockerCheck,
        *,
        kinds: tuple[str, ...],
        suffix: str = "",
    ) -> None:
        now = self.clock()

        def decide(state: PipelineState, stamp: Stamper) -> list[Event]:
            stage_state = state.stages.get(stage)
            current = {
                b.blocker
                for b in (stage_state.blocked if stage_state else ())
                if b.change_id == change_id
            }
            wanted = {f"{b.blocker}{suffix}": b for b in check.blocked}
            events: list[Event] = []
            for name, blocked in wanted.items():
                if name not in current:
                    events.append(
                        stamp(
                            BlockerHit,
                            f"{change_id}:{stage}:{name}:{now.isoformat()}",
                            stage=stage,
                            change_id=change_id,
                            blocker=name,
                            reason=blocked.reason,
                            inputs=blocked.inputs,
                        )
                    )
            for name in sorted(current):
                if (
                    name not in wanted
                    and name.removesuffix(suffix) in kinds
                    and (not suffix or name.endswith(suffix))
                ):
                    events.append(
                        stamp(
                            BlockerCleared,
                            f"{change_id}:{stage}:{name}:cleared:{now.isoformat()}",
                            stage=stage,
                            change_id=change_id,
                            blocker=name,
                        )
                    )
            return events

        self.log.record(pipeline_id, now, decide)
        self._page_long_blocks(pipeline_id, change_id, stage, now)

    def _page_long_blocks(
        self, pipeline_id: str, change_id: str, stage: str, now: datetime
    ) -> None:
        """A stage held longer than the pipeline allows (by anything but its time window)
        pages people, once per blocker and hold."""
        limit = self._spec(pipeline_id).page_after_blocked_seconds

        def decide(state: PipelineState, stamp: Stamper) -> list[Event]:
            stage_state = state.stages.get(stage)
            paged = {page.key for page in state.pages}
            events: list[Event] = []
            for blocker in stage_state.blocked if stage_state else ():
                held = (now - blocker.since).total_seconds()
                key = f"{change_id}:{stage}:{blocker.blocker}:page:{blocker.since.isoformat()}"
                if (
                    blocker.change_id != change_id
                    or blocker.blocker.startswith("time-window")
                    or blocker.blocker == "paused"  # a person chose it: nobody to page
                    or held < limit
                    or key in paged
                ):
                    continue
                events.append(
                    stamp(
                        PersonPaged,
                        key,
                        stage=stage,
                        change_id=change_id,
                        subject=(
                            f"{pipeline_id}: {stage} blocked {held / 3600:.1f} h by "
                            f"{blocker.blocker}"
                        ),
                        message=(
                            f"{change_id} has waited at {stage} since "
                            f"{blocker.since.isoformat()}: {blocker.reason}"
                        ),
                    )
                )
            return events

        self._send_pages(self.log.record(pipeline_id, now, decide).events)

    def _hold_while_unconfirmed(self, spec: PipelineSpec, where: Where, *, one_box: bool) -> int:
        """Before the next batch: an alarm in ALARM rolls back; alarms that cannot vouch hold
        the batch (recorded as a blocker of the scope) and say how long to wait; 0 goes on."""
        health = self._health(
            spec, where.stage, watched_by_step(spec, where.region, one_box=one_box)
        )
        if health.in_alarm:
            self._alarm_fired(where, health.in_alarm[0], "in ALARM during deployment")
            raise AlarmFiredError(f"alarm {health.in_alarm[0]} is in ALARM in {where.region}")
        stage_state = self.log.state(where.pipeline_id).stages.get(where.stage)
        name = f"alarm-health:{where.scope}"
        since = [
            b.since
            for b in (stage_state.blocked if stage_state else ())
            if b.change_id == where.change_id and b.blocker == name
        ]
        problems = health.unconfirmed
        check = BlockerCheck((), 0)
        if problems:
            held_for = (self.clock() - since[0]).total_seconds() if since else 0.0
            reason = f"{where.scope}: the next batch waits: {'; '.join(problems)}"
            inputs = tuple((f"problem {n}", p) for n, p in enumerate(problems, start=1))
            check = BlockerCheck(
                (Blocked("alarm-health", reason, inputs),), recheck_seconds(held_for)
            )
        self._record_blockers(
            where.pipeline_id,
            where.change_id,
            where.stage,
            check,
            kinds=("alarm-health",),
            suffix=f":{where.scope}",
        )
        return check.wait_seconds
