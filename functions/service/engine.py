"""The deployment engine: what each step of a pipeline's state machine does.

Every method records its transitions through `PipelineLog` before it returns (so the state
machine never moves on past an unrecorded transition) and uses keys that make a retried
invocation record nothing twice. Decisions come from the pure core (`domain.rollout`,
`domain.conveyor`); this layer reads the world through ports and writes the log.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain import conveyor
from domain.alarm_health import (
    Health,
    Watched,
    assess,
    merge,
    watched_at_stage_entry,
    watched_by_step,
)
from domain.catalogue import DEFAULT_CATALOGUE, Catalogue
from domain.errors import (
    AlarmReadError,
    ArtifactReadError,
    DeployTargetError,
    NotifyError,
    ShipwaveError,
    TransientDeployError,
)
from domain.events import (
    AlarmFired,
    AlarmsUnconfirmed,
    Artifact,
    ArtifactBuilt,
    BakeCompleted,
    BakePhase,
    BakeStarted,
    BatchDeployed,
    BlockerCleared,
    BlockerHit,
    ChangeReceived,
    Commit,
    DatapointsInsufficient,
    DatapointsReached,
    Event,
    HealthCheckFailed,
    HealthCheckPassed,
    OneBoxDeployed,
    PersonPaged,
    RollbackCompleted,
    RollbackFailed,
    RollbackStarted,
    ScopeAdopted,
    Stamper,
)
from domain.ports import (
    MAX_EVENTS_PER_APPEND,
    AlarmReader,
    ArtifactStore,
    DeployTarget,
    Executions,
    Notifier,
    ReviewSource,
    Workflow,
)
from domain.recovery import decide_unblock, plan_recovery, recovered
from domain.rollout import (
    Blocked,
    BlockerCheck,
    bake_seconds,
    bake_verdict,
    check_alarm_blockers,
    check_window,
    extension_seconds,
    recheck_seconds,
)
from domain.spec import PipelineSpec, StepSpec
from domain.state import ChangeState, PipelineState, ScopeState
from service.pipeline_log import PipelineLog
from service.review_gate import ReviewGate

Clock = Callable[[], datetime]
Progress = dict[str, Any]


class AlarmFiredError(ShipwaveError):
    """A watched alarm is in ALARM: the scope rolls back."""


class HealthCheckFailedError(ShipwaveError):
    """New boxes failed their health checks: the scope rolls back."""


class RollbackFailedError(ShipwaveError):
    """The scope could not be returned to its last known-good artifact."""


class ChecksumMismatchError(RollbackFailedError):
    """The known-good artifact's bytes no longer match its checksum."""


class UnknownPipelineError(ShipwaveError):
    """A step names a pipeline this controller does not run."""


@dataclass(frozen=True)
class Where:
    """One scope of one step of one change."""

    pipeline_id: str
    change_id: str
    stage: str
    step: str
    region: str
    scope: str

    def key(self, what: str) -> str:
        return f"{self.change_id}:{self.stage}:{self.scope}:{what}"

    def fields(self) -> dict[str, str]:
        return {"stage": self.stage, "scope": self.scope, "change_id": self.change_id}


#: a rollback tries this many times (2, 4, 8 s apart) before it is declared failed
ROLLBACK_ATTEMPTS = 4
ROLLBACK_BACKOFF_SECONDS = 2.0

_BAKE_PHASE: dict[str, BakePhase] = {"one-box": "one-box", "rolling": "fleet", "bake": "wave"}
PRODUCTION = "production"


def environment(spec: PipelineSpec, stage: str) -> str:
    """Production waves share production; each pre-production stage is its own environment."""
    for candidate in spec.stages:
        if candidate.name == stage:
            return PRODUCTION if candidate.production else stage
    raise UnknownPipelineError(f"pipeline {spec.pipeline_id!r} has no stage {stage!r}")


def _not_overridden(
    check: BlockerCheck, state: PipelineState, change_id: str, stage: str, suffix: str = ""
) -> BlockerCheck:
    """A blocker a person overrode for this change at this stage no longer holds it."""
    change = state.changes.get(change_id)
    overridden = {o.blocker for o in (change.overrides if change else ()) if o.stage == stage}
    kept = tuple(b for b in check.blocked if f"{b.blocker}{suffix}" not in overridden)
    return BlockerCheck(kept, check.wait_seconds if kept else 0)


def _within(scope: str, area: str) -> bool:
    """Whether a scope is `area` itself or one of its AZs/cells ("eu-west-1/euw1-az2")."""
    return scope == area or scope.startswith(area + "/")


def _scope_state(state: PipelineState, where: Where) -> ScopeState | None:
    stage = state.stages.get(where.stage)
    return stage.scopes.get(where.scope) if stage else None


class Engine:
    def __init__(
        self,
        *,
        log: PipelineLog,
        specs: Mapping[str, PipelineSpec],
        targets: Callable[[PipelineSpec], DeployTarget],
        alarms: AlarmReader,
        artifacts: ArtifactStore,
        workflow: Workflow,
        executions: Executions,
        clock: Clock,
        catalogue: Catalogue = DEFAULT_CATALOGUE,
        accounts: Mapping[str, str] | None = None,
        reviews: ReviewSource | None = None,
        notifier: Notifier | None = None,
        pause: Callable[[float], None] = time.sleep,
    ) -> None:
        self.log = log
        self.specs = specs
        self.targets = targets
        self.alarms = alarms
        self.artifacts = artifacts
        self.workflow = workflow
        self.executions = executions
        self.clock = clock
        self.catalogue = catalogue
        self.accounts = dict(accounts or {})
        self.review_gate = ReviewGate(log, reviews, clock)
        self.notifier = notifier
        self.pause = pause

    def environment_of(self, account: str) -> str:
        """Which environment an alarm event's account belongs to (production unless mapped)."""
        return self.accounts.get(account, PRODUCTION)

    # --- intake -----------------------------------------------------------------------------

    def receive(
        self,
        pipeline_id: str,
        change_id: str,
        *,
        source: str,
        commits: tuple[Commit, ...],
        artifact: Artifact,
    ) -> str:
        """Record a merged, built change and start its execution; returns the execution id.

        The execution's first state is the review gate: nothing of the change deploys until
        every commit its artifact holds is approved in the source system's review record."""
        spec = self._spec(pipeline_id)

        def decide(state: PipelineState, stamp: Stamper) -> list[Event]:
            if change_id in state.changes or state.change(change_id) is not None:
                return []
            return [
                stamp(
                    ChangeReceived,
                    f"{change_id}:received",
                    change_id=change_id,
                    source=source,
                    repository=spec.repository,
                    branch=spec.branch,
                    commits=commits,
                ),
                stamp(ArtifactBuilt, f"{change_id}:built", change_id=change_id, artifact=artifact),
            ]

        self.log.record(pipeline_id, self.clock(), decide)
        return self.executions.start(
            pipeline_id, change_id, {"pipeline_id": pipeline_id, "change_id": change_id}
        )

    def review(self, pipeline_id: str, change_id: str) -> Progress:
        """`Source · Review`: pass, hold (with when to look again) or superseded."""
        return self.review_gate.check(self._spec(pipeline_id), change_id)

    def adopt(self, pipeline_id: str, artifact: Artifact) -> int:
        """Record that every scope of the pipeline already runs `artifact` (onboarding an
        existing service): it becomes each scope's known-good artifact. Returns the count."""
        spec = self._spec(pipeline_id)
        scopes = spec.scopes()
        for start in range(0, len(scopes), MAX_EVENTS_PER_APPEND):
            chunk = scopes[start : start + MAX_EVENTS_PER_APPEND]

            def decide(
                _: PipelineState, stamp: Stamper, chunk: tuple[tuple[str, str], ...] = chunk
            ) -> list[Event]:
                return [
                    stamp(
                        ScopeAdopted,
                        f"adopt:{artifact.version}:{stage}:{scope}",
                        stage=stage,
                        scope=scope,
                        artifact=artifact,
                    )
                    for stage, scope in chunk
                ]

            self.log.record(pipeline_id, self.clock(), decide)
        return len(scopes)

    # --- deploying ---------------------------------------------------------------------------

    def deploy(self, where: Where, phase: str, progress: Progress) -> Progress:
        spec = self._spec(where.pipeline_id)
        state = self.log.state(where.pipeline_id)
        change = self._change(state, where.change_id)
        artifact = self._artifact(change)
        scope_state = _scope_state(state, where)
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
        if scope_state is not None and scope_state.change_id == where.change_id:
            # Only once this change runs here can an alarm be its fault.
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

        def decide(_: PipelineState, stamp: Stamper) -> list[Event]:
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

        self.log.record(where.pipeline_id, self.clock(), decide)
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

    def rollback(self, where: Where, reason: str) -> Progress:
        """Return the scope to its last known-good artifact, checksum verified first. A
        region-wide bake's scope is the region: every AZ/cell of it this change deployed to
        in the stage goes back."""
        return {"rolled_back": self._rollback_scopes(where, reason, within=where.scope)}

    def rollback_stage(self, pipeline_id: str, change_id: str, stage: str, reason: str) -> Progress:
        """Roll back every scope of the stage where this change is deployed."""
        where = Where(pipeline_id, change_id, stage, "", "", "")
        return {"rolled_back": self._rollback_scopes(where, reason, within=None)}

    def _rollback_scopes(self, where: Where, reason: str, *, within: str | None) -> list[str]:
        """Roll back the stage's scopes this change is deployed to (those `within` a scope or
        region, or all). Every scope is attempted even when one fails; then the failures are
        raised."""
        stage_state = self.log.state(where.pipeline_id).stages.get(where.stage)
        scopes = [
            scope.scope
            for scope in (stage_state.scopes.values() if stage_state else ())
            if scope.change_id == where.change_id
            and scope.deployed is not None
            and (within is None or _within(scope.scope, within))
        ]
        spec = self._spec(where.pipeline_id)
        failures: list[RollbackFailedError] = []
        for scope in scopes:
            at = Where(
                where.pipeline_id, where.change_id, where.stage, "", scope.split("/")[0], scope
            )
            try:
                self._rollback_scope(spec, at, reason)
            except RollbackFailedError as error:
                failures.append(error)
        if len(failures) == 1:
            raise failures[0]  # its own kind (a checksum mismatch stays one)
        if failures:
            raise RollbackFailedError("; ".join(str(error) for error in failures))
        return scopes

    def _rollback_scope(self, spec: PipelineSpec, where: Where, reason: str) -> None:
        state = self.log.state(where.pipeline_id)
        scope_state = _scope_state(state, where)
        if (
            scope_state is None
            or scope_state.change_id != where.change_id
            or scope_state.deployed is None
        ):
            # Nothing of this change runs there: never deployed, already rolled back, or a
            # region-wide bake that deployed nothing itself.
            return
        to_artifact = scope_state.known_good
        from_artifact = scope_state.deployed
        # After a failed rollback (the scope's own), the stage's rollback is a new attempt:
        # its own keys, while a retried invocation of one attempt still records once.
        attempt = f"-{scope_state.failed_rollbacks + 1}" if scope_state.failed_rollbacks else ""
        if scope_state.last_alarm and reason.startswith("AlarmFired"):
            reason = f"alarm {scope_state.last_alarm} fired"
        self.log.record(
            where.pipeline_id,
            self.clock(),
            lambda _, stamp: [
                stamp(
                    RollbackStarted,
                    where.key(f"rollback{attempt}"),
                    **where.fields(),
                    from_artifact=from_artifact,
                    to_artifact=to_artifact,
                    reason=reason,
                )
            ],
        )
        failure = self._return_to(spec, where.stage, where.scope, to_artifact)
        if failure:
            page_key = where.key("page-rollback-failed")

            def failed(state: PipelineState, stamp: Stamper) -> list[Event]:
                events: list[Event] = [
                    stamp(
                        RollbackFailed,
                        where.key(f"rollback-failed{attempt}"),
                        **where.fields(),
                        reason=failure,
                    )
                ]
                if any(page.key == page_key for page in state.pages):
                    return events  # people were told of this scope already (first attempt)
                return [
                    *events,
                    stamp(
                        PersonPaged,
                        page_key,
                        stage=where.stage,
                        change_id=where.change_id,
                        subject=(
                            f"{where.pipeline_id}: rollback failed in {where.stage} {where.scope}"
                        ),
                        message=(
                            f"The rollback of {where.change_id} in {where.scope} failed: "
                            f"{failure}. The stage stays blocked and the failed version may "
                            f"still serve there. Recover with: shipwave rollback "
                            f"{where.pipeline_id} {where.stage} --to VERSION, then shipwave "
                            f"unblock {where.pipeline_id} {where.stage}."
                        ),
                    ),
                ]

            recorded = self.log.record(where.pipeline_id, self.clock(), failed)
            self._send_pages(recorded.events)
            raise (ChecksumMismatchError if "checksum" in failure else RollbackFailedError)(
                f"{where.scope}: {failure}"
            )
        self.log.record(
            where.pipeline_id,
            self.clock(),
            lambda _, stamp: [
                stamp(
                    RollbackCompleted,
                    where.key(f"rolled-back{attempt}"),
                    **where.fields(),
                    artifact=to_artifact,
                )
            ],
        )

    def _return_to(
        self, spec: PipelineSpec, stage: str, scope: str, artifact: Artifact | None
    ) -> str:
        """Put the scope back on `artifact`, its checksum verified first; errors that may pass
        (throttled, unavailable, unreadable store) are tried again with back-off. Returns
        why it failed, or "" when the scope runs `artifact` now."""
        failure = ""
        for attempt in range(1, ROLLBACK_ATTEMPTS + 1):
            try:
                target = self.targets(spec)
                if artifact is not None and not self.artifacts.verify(artifact):
                    return f"checksum of {artifact.version} does not match {artifact.checksum}"
                target.roll_back(environment(spec, stage), scope, artifact, spec.rolling)
                return ""
            except (TransientDeployError, ArtifactReadError) as error:
                failure = f"{error} (tried {attempt} times)"
                if attempt < ROLLBACK_ATTEMPTS:
                    self.pause(ROLLBACK_BACKOFF_SECONDS * 2 ** (attempt - 1))
            except DeployTargetError as error:
                return str(error)
        return failure

    def _send_pages(self, recorded: tuple[Event, ...]) -> None:
        """Publish the pages just recorded (a retried handler publishes them again)."""
        for event in recorded:
            if isinstance(event, PersonPaged):
                if self.notifier is None:
                    raise NotifyError(
                        f"page {event.subject!r} is recorded but no notifier is configured"
                    )
                self.notifier.send(event)

    # --- a person recovers -------------------------------------------------------------------

    def recover(self, pipeline_id: str, stage: str, version: str, *, by: str, why: str) -> Progress:
        """`shipwave rollback`: redeploy a named earlier artifact (checksum verified) to the
        scopes of a stage whose rollback failed; recorded with who and why."""
        spec = self._spec(pipeline_id)
        plan = plan_recovery(
            self.log.state(pipeline_id), stage=stage, version=version, by=by, why=why
        )
        done: list[str] = []
        failures: list[str] = []
        for scope in plan.scopes:
            failure = self._return_to(spec, stage, scope, plan.artifact)
            if failure:
                failures.append(f"{scope}: {failure}")
            else:
                done.append(scope)
        if done:
            self.log.record(
                pipeline_id,
                self.clock(),
                lambda _, stamp: recovered(
                    stamp, plan, stage=stage, scopes=tuple(done), by=by, why=why
                ),
            )
        if failures:
            raise RollbackFailedError("recovery failed in " + "; ".join(failures))
        return {"recovered": done, "artifact": plan.artifact.version}

    def unblock(self, pipeline_id: str, stage: str, *, by: str, why: str) -> Progress:
        """`shipwave unblock`: release a stage held by a failed rollback once none of its
        scopes runs the failed change; the newest waiting change takes it."""
        self._spec(pipeline_id)
        result = self.log.record(
            pipeline_id,
            self.clock(),
            lambda state, stamp: decide_unblock(state, stamp, stage=stage, by=by, why=why),
        )
        hand = conveyor.handoffs(result.events)
        for change, token in hand.supersede:
            self.workflow.fail(token, "Superseded", f"a newer change took {stage} after {change}")
        resumed = [
            change
            for change, token in hand.resume
            if self.workflow.resume(token, {"holder": change})
        ]
        return {
            "unblocked": stage,
            "next": [change for change, _ in hand.resume],
            "resumed": resumed,
        }

    # --- baking ------------------------------------------------------------------------------

    def bake_plan(self, where: Where) -> Progress:
        spec = self._spec(where.pipeline_id)
        change = self._change(self.log.state(where.pipeline_id), where.change_id)
        return self._progress(
            spec, where, change, batch=0, done=True, extensions=0, verdict="pending"
        )

    def bake_start(self, where: Where, phase: str, progress: Progress, token: str) -> Progress:
        spec = self._spec(where.pipeline_id)
        now = self.clock()
        seconds = int(progress.get("bake_seconds", 0))
        extensions = int(progress.get("extensions", 0))
        self.log.record(
            where.pipeline_id,
            now,
            lambda _, stamp: [
                stamp(
                    BakeStarted,
                    where.key(f"bake-{phase}-{extensions}"),
                    **where.fields(),
                    phase=_BAKE_PHASE[phase],
                    duration_seconds=seconds,
                    ends_at=now + timedelta(seconds=seconds),
                    metric=f"{spec.datapoints.namespace}/{spec.datapoints.metric}",
                    min_datapoints=spec.datapoints.minimum,
                    callback_token=token,
                )
            ],
        )
        # Alarms without data yet (a one-box just started) are expected here: the bake's end
        # decides on them. An alarm already in ALARM ends the bake at once.
        alarming = self._health(spec, where.stage, self._watched(spec, where, phase)).in_alarm
        if alarming:
            self._alarm_fired(where, alarming[0], "already in ALARM when the bake started")
            self.workflow.fail(token, "AlarmFired", f"alarm {alarming[0]} in {where.region}")
        return {"baking": where.scope}

    def bake_check(self, where: Where, phase: str, progress: Progress) -> Progress:
        """At bake end: the alarm history backstop and the datapoint requirement."""
        spec = self._spec(where.pipeline_id)
        state = self.log.state(where.pipeline_id)
        change = self._change(state, where.change_id)
        scope_state = _scope_state(state, where)
        now = self.clock()
        start = (scope_state.bake_started_at if scope_state else None) or now
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
                        *self.alarms.breached(env, where.region, composites, start, now),
                    )
                )
            )
            seen = self.alarms.datapoints(
                env, where.region, spec.datapoints, where.scope, start, now
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
                        phase=_BAKE_PHASE[phase],
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

    # --- blockers ----------------------------------------------------------------------------

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
        kinds = ("aggregate-alarm", "company-alarm", "alarm-health")
        held_since = [
            b.since
            for b in (stage_state.blocked if stage_state else ())
            if b.change_id == change_id and b.blocker in kinds
        ]
        check = _not_overridden(
            check_alarm_blockers(
                alarms_in_alarm=tuple(dict.fromkeys(in_alarm)),
                team_aggregate=spec.alarm_names.team_aggregate,
                unconfirmed=tuple(dict.fromkeys(unconfirmed)),
                blocked_for_seconds=(
                    (self.clock() - min(held_since)).total_seconds() if held_since else 0.0
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
        check = _not_overridden(
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

    # --- alarms --------------------------------------------------------------------------------

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
            except ShipwaveError:
                continue
            for stage_state in state.stages.values():
                if environment(spec, stage_state.stage) != environment_name:
                    continue
                for scope in stage_state.scopes.values():
                    in_region = _within(scope.scope, region)
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

    @staticmethod
    def _watched(spec: PipelineSpec, where: Where, phase: str) -> Watched:
        return watched_by_step(spec, where.region, one_box=phase == "one-box")

    # --- helpers -------------------------------------------------------------------------------

    def spec_of(self, pipeline_id: str) -> PipelineSpec:
        """The pipeline's spec; UnknownPipelineError when this controller does not run it."""
        return self._spec(pipeline_id)

    def _spec(self, pipeline_id: str) -> PipelineSpec:
        spec = self.specs.get(pipeline_id)
        if spec is None:
            raise UnknownPipelineError(f"pipeline {pipeline_id!r} is not run by this controller")
        return spec

    @staticmethod
    def _change(state: PipelineState, change_id: str) -> ChangeState:
        change = state.changes.get(change_id)
        if change is None:
            raise UnknownPipelineError(
                f"pipeline {state.pipeline_id!r}: change {change_id!r} is not moving"
            )
        return change

    @staticmethod
    def _artifact(change: ChangeState) -> Artifact:
        if change.artifact is None:
            raise UnknownPipelineError(f"change {change.change_id!r} has no built artifact")
        return change.artifact

    def _step(self, spec: PipelineSpec, where: Where) -> StepSpec:
        for stage in spec.stages:
            if stage.name == where.stage:
                for step in stage.steps:
                    if step.name == where.step:
                        return step
        raise UnknownPipelineError(
            f"pipeline {spec.pipeline_id!r} has no step {where.stage}/{where.step}"
        )

    def _progress(
        self,
        spec: PipelineSpec,
        where: Where,
        change: ChangeState,
        *,
        batch: int,
        done: bool,
        extensions: int,
        verdict: str,
        wait_seconds: int = 0,
    ) -> Progress:
        factor = change.emergency.bake_factor if change.emergency else None
        return {
            "batch": batch,
            "done": done,
            "bake_seconds": bake_seconds(
                self._step(spec, where).bake_seconds, factor, spec.min_emergency_bake_seconds
            ),
            "extensions": extensions,
            "verdict": verdict,
            "wait_seconds": wait_seconds,
        }
