"""Alarms: what the watched alarms say, and an alarm that fires against in-flight scopes."""

from __future__ import annotations

from domain.alarm_health import (
    Health,
    Watched,
    assess,
    watched_by_step,
)
from domain.errors import (
    AlarmReadError,
    PipelineNotFoundError,
)
from domain.events import (
    AlarmFired,
)
from domain.spec import PipelineSpec
from service.core import (
    PRODUCTION,
    EngineCore,
    Where,
    environment,
    in_area,
)


class AlarmSteps(EngineCore):
    def alarm_changed(
        self, alarm_name: str, region: str, reason: str, environment_name: str = PRODUCTION
    ) -> list[str]:
        """An alarm went to ALARM in an environment: every affected bake in the region fails
        at once (and every affected deployment stops at its next batch). Returns the scopes
        told."""
        told: list[str] = []
        for spec in self.specs.values():
            names = spec.alarm_names
            team_wide = alarm_name == names.team_aggregate
            service_wide = alarm_name == names.high_severity_composite
            one_box_only = alarm_name == names.one_box_composite
            if not (team_wide or service_wide or one_box_only):
                continue
            try:
                state = self.log.state(spec.pipeline_id)
            except PipelineNotFoundError:
                continue  # never run: nothing of it bakes (a read that fails raises: retried)
            for stage_state in state.stages.values():
                if environment(spec, stage_state.stage) != environment_name:
                    continue
                for scope in stage_state.scopes.values():
                    in_region = in_area(scope.scope, region)
                    busy = scope.activity.startswith(
                        ("one-box", "rolling", "baking", "bake extended", "held")
                    )
                    if not (in_region and busy and scope.change_id):
                        continue
                    if one_box_only and "one-box" not in scope.activity:
                        continue
                    where = Where(
                        spec.pipeline_id,
                        scope.change_id,
                        stage_state.stage,
                        "",
                        region,
                        scope.scope,
                    )
                    self._alarm_fired(where, alarm_name, reason)
                    if scope.bake_token:
                        self.workflow.fail(
                            scope.bake_token,
                            "AlarmFired",
                            f"alarm {alarm_name} in {region}: {reason}",
                        )
                    told.append(f"{spec.pipeline_id}:{stage_state.stage}:{scope.scope}")
        return told

    def _alarm_fired(self, where: Where, alarm_name: str, reason: str) -> None:
        now = self.clock()
        self.log.record(
            where.pipeline_id,
            now,
            lambda _, stamp: [
                stamp(
                    AlarmFired,
                    where.key(f"alarm:{alarm_name}:{now.isoformat()}"),
                    **where.fields(),
                    alarm_name=alarm_name,
                    region=where.region,
                    reason=reason,
                )
            ],
        )

    def _health(self, spec: PipelineSpec, stage: str, watched: Watched) -> Health:
        """What the watched alarms say; a read that fails (after the client's retries) leaves
        them unconfirmed, never "not in alarm"."""
        try:
            statuses = self.alarms.states(environment(spec, stage), watched.region, watched.names)
        except AlarmReadError as error:
            return assess(watched, None, read_error=str(error))
        return assess(watched, statuses)

    @staticmethod
    def _watched(spec: PipelineSpec, where: Where, phase: str) -> Watched:
        return watched_by_step(spec, where.region, one_box=phase == "one-box")
