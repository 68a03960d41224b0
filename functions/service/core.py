"""The engine's shared parts: its ports, the clock, and the helpers every concern uses."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.catalogue import DEFAULT_CATALOGUE, Catalogue
from domain.errors import (
    NotifyError,
    ShipwaveError,
    UnknownPipelineError,
)
from domain.events import (
    Artifact,
    BakePhase,
    Event,
    PersonPaged,
)
from domain.ports import (
    AlarmReader,
    ArtifactStore,
    Builder,
    DeployTarget,
    Executions,
    IntegrationTestRuns,
    Notifier,
    SourceControl,
    Workflow,
)
from domain.rollout import (
    BlockerCheck,
    bake_seconds,
)
from domain.spec import PipelineSpec, StepSpec
from domain.state import ChangeState, PipelineState, ScopeState
from domain.validation import (
    in_flight,
    pipeline_spec,
    progress_within_bounds,
    stage_of,
    step_of,
)
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

BAKE_PHASE: dict[str, BakePhase] = {"one-box": "one-box", "rolling": "fleet", "bake": "wave"}
PRODUCTION = "production"


def environment(spec: PipelineSpec, stage: str) -> str:
    """Production waves share production; each pre-production stage is its own environment."""
    for candidate in spec.stages:
        if candidate.name == stage:
            return PRODUCTION if candidate.production else stage
    raise UnknownPipelineError(f"pipeline {spec.pipeline_id!r} has no stage {stage!r}")


def not_overridden(
    check: BlockerCheck, state: PipelineState, change_id: str, stage: str, suffix: str = ""
) -> BlockerCheck:
    """A blocker a person overrode for this change at this stage no longer holds it."""
    change = state.changes.get(change_id)
    overridden = {o.blocker for o in (change.overrides if change else ()) if o.stage == stage}
    kept = tuple(b for b in check.blocked if f"{b.blocker}{suffix}" not in overridden)
    return BlockerCheck(kept, check.wait_seconds if kept else 0)


def in_area(scope: str, area: str) -> bool:
    """Whether a scope is `area` itself or one of its AZs/cells ("eu-west-1/euw1-az2")."""
    return scope == area or scope.startswith(area + "/")


def scope_of(state: PipelineState, where: Where) -> ScopeState | None:
    stage = state.stages.get(where.stage)
    return stage.scopes.get(where.scope) if stage else None


class EngineCore:
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
        reviews: SourceControl | None = None,
        notifier: Notifier | None = None,
        builder: Builder | None = None,
        tests: IntegrationTestRuns | None = None,
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
        self.builder = builder
        self.tests = tests
        self.pause = pause

    def environment_of(self, account: str) -> str:
        """Which environment an alarm event's account belongs to (production unless mapped)."""
        return self.accounts.get(account, PRODUCTION)

    def _send_pages(self, recorded: tuple[Event, ...]) -> None:
        """Publish the pages just recorded (a retried handler publishes them again)."""
        for event in recorded:
            if isinstance(event, PersonPaged):
                if self.notifier is None:
                    raise NotifyError(
                        f"page {event.subject!r} is recorded but no notifier is configured"
                    )
                self.notifier.send(event)

    def spec_of(self, pipeline_id: str) -> PipelineSpec:
        """The pipeline's spec; UnknownPipelineError when this controller does not run it."""
        return self._spec(pipeline_id)

    def _spec(self, pipeline_id: str) -> PipelineSpec:
        """The pipeline's spec; UnknownPipelineError when this controller does not run it."""
        return pipeline_spec(self.specs, pipeline_id)

    def _checked(
        self, where: Where, progress: Mapping[str, Any] | None = None
    ) -> tuple[PipelineSpec, PipelineState, ChangeState]:
        """The step's input checked before anything is recorded: its pipeline is run here,
        its change is in flight, its stage, step, region and scope are its spec's, its
        progress within bounds (InvalidStepError otherwise). With the state it read."""
        spec = self._spec(where.pipeline_id)
        if progress is not None:
            progress_within_bounds(progress)
        state = self.log.state(where.pipeline_id)
        change = in_flight(state, where.change_id)
        if where.scope:
            step_of(spec, where.stage, where.step, where.region, where.scope)
        else:
            stage_of(spec, where.stage)
        return spec, state, change

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
