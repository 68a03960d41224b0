"""Deploying: one-box and rolling batches of one scope."""

from __future__ import annotations

from domain.errors import (
    DeployTargetError,
    InvalidStepError,
)
from domain.events import (
    BatchDeployed,
    Event,
    HealthCheckFailed,
    HealthCheckPassed,
    OneBoxDeployed,
    Stamper,
)
from domain.state import PipelineState
from service.core import (
    PRODUCTION,
    HealthCheckFailedError,
    Progress,
    Where,
    environment,
    in_area,
    scope_of,
)
from service.gates import GateSteps
from service.rollback import RollbackSteps


class DeploySteps(GateSteps, RollbackSteps):
    def deploy(self, where: Where, phase: str, progress: Progress) -> Progress:
        spec, state, change = self._checked(where, progress)
        artifact = self._artifact(change)
        if environment(spec, where.stage) == PRODUCTION and not int(progress.get("batch", 0)):
            # Every production step starts in each region only inside its window.
            window = self.window(where)
            if not window["open"]:
                return self._progress(
                    spec,
                    where,
                    change,
                    batch=0,
                    done=False,
                    extensions=0,
                    verdict="pending",
                    wait_seconds=int(window["wait_seconds"]),
                )
        stage_state = state.stages.get(where.stage)
        runs_in_region = any(
            scope.change_id == where.change_id and in_area(scope.scope, where.region)
            for scope in (stage_state.scopes.values() if stage_state else ())
        )
        if runs_in_region:
            # Only once this change runs in the region (this scope, or an AZ before it) can a
            # region's alarm be its fault; from then on every next batch asks the alarms.
            wait = self._hold_while_unconfirmed(spec, where, one_box=phase == "one-box")
            if wait:
                return self._progress(
                    spec,
                    where,
                    change,
                    batch=int(progress.get("batch", 0)),
                    done=False,
                    extensions=0,
                    verdict="pending",
                    wait_seconds=wait,
                )
        target = self.targets(spec)
        env = environment(spec, where.stage)
        try:
            if phase == "one-box":
                result = target.one_box(env, where.scope, artifact, spec.one_box_percent)
                batch = 0
            else:
                batch = int(progress.get("batch", 0)) + 1
                result = target.next_batch(env, where.scope, artifact, spec.rolling, batch)
        except DeployTargetError as error:
            raise HealthCheckFailedError(f"{where.scope}: deployment failed: {error}") from None

        def decide(state: PipelineState, stamp: Stamper) -> list[Event]:
            recorded = scope_of(state, where)
            if (
                recorded is not None
                and recorded.change_id == where.change_id
                and recorded.deployed == artifact
                and (phase == "one-box" or recorded.batch >= batch)
            ):
                # A retried step (its first attempt recorded it, then crashed): the target
                # changed nothing more, and the first attempt's record stands. Health seen
                # now still counts: unhealthy boxes fail the step below.
                return []
            events: list[Event] = []
            if phase == "one-box":
                events.append(
                    stamp(
                        OneBoxDeployed,
                        where.key("onebox"),
                        **where.fields(),
                        artifact=artifact,
                        traffic_percent=result.fleet_percent_on_new,
                    )
                )
            else:
                events.append(
                    stamp(
                        BatchDeployed,
                        where.key(f"batch{batch}"),
                        **where.fields(),
                        artifact=artifact,
                        batch=batch,
                        boxes=result.boxes,
                        fleet_percent_on_new=result.fleet_percent_on_new,
                        healthy_percent=result.healthy_percent,
                    )
                )
            if result.unhealthy:
                events.append(
                    stamp(
                        HealthCheckFailed,
                        where.key(f"health{batch}"),
                        **where.fields(),
                        boxes=result.unhealthy,
                        reason=result.reason or "health check failed",
                    )
                )
            else:
                events.append(
                    stamp(
                        HealthCheckPassed,
                        where.key(f"health{batch}"),
                        **where.fields(),
                        boxes=result.boxes,
                    )
                )
            return events

        recorded = self.log.record(where.pipeline_id, self.clock(), decide)
        now = recorded.state.change(where.change_id)
        if now is not None and now.status == "aborted":
            # a person aborted the change while this batch was going out: what it put there
            # is what the abort rolls back, so this step returns the scope itself
            self._rollback_scope(spec, where, f"aborted while deploying: {now.reason}")
            raise InvalidStepError(
                f"change {where.change_id!r} was aborted while {where.scope} deployed: rolled back"
            )
        if result.unhealthy:
            raise HealthCheckFailedError(
                f"{where.scope}: {len(result.unhealthy)} new box(es) unhealthy: {result.reason}"
            )
        return self._progress(
            spec,
            where,
            change,
            batch=batch,
            done=result.done or phase == "one-box",
            extensions=0,
            verdict="pending",
        )
