"""A person's actions on running pipelines, each by the caller's identity and with a reason:
pause and resume a pipeline or a whole team, abort a change, retry a failed one. The
decisions are `domain.operations`; this records them and does what follows (an abort's
rollbacks and the stop of its execution, a retry's new execution)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from domain.conventions import START_AT
from domain.errors import PipelineNotFoundError, ShipwaveError
from domain.events import Artifact, BatchDeployed, OneBoxDeployed
from domain.identity import Principal, authorize
from domain.operations import (
    OperatorInputError,
    abort,
    give_emergency_approval,
    override_blocker,
    pause,
    resume,
    retry,
)
from domain.ports import Executions
from domain.spec import PipelineSpec
from domain.state import PipelineState, evolve
from service.pipeline_log import PipelineLog

Result = dict[str, Any]


class Recovery(Protocol):
    """A person's recovery of a stage whose rollback failed (the engine's)."""

    def recover(self, pipeline_id: str, stage: str, version: str, *, by: str, why: str) -> Any: ...

    def unblock(self, pipeline_id: str, stage: str, *, by: str, why: str) -> Any: ...


class Operations:
    def __init__(
        self,
        log: PipelineLog,
        specs: Mapping[str, PipelineSpec],
        *,
        clock: Callable[[], datetime],
        revert_stage: Callable[[str, str, str, Mapping[str, Artifact | None], str], Any]
        | None = None,
        executions: Executions | None = None,
        recovery: Recovery | None = None,
    ) -> None:
        self.log = log
        self.specs = specs
        self.clock = clock
        self._revert_stage = revert_stage
        self.executions = executions
        self.recovery = recovery

    def _spec(self, pipeline_id: str, principal: Principal) -> PipelineSpec:
        spec = self.specs.get(pipeline_id)
        if spec is None:
            raise PipelineNotFoundError(f"pipeline {pipeline_id!r} is not deployed here")
        authorize(spec, principal)
        self.log.state(pipeline_id)  # a pipeline without events is refused here
        return spec

    def _team(self, team: str, principal: Principal) -> list[str]:
        pipelines = sorted(s.pipeline_id for s in self.specs.values() if s.team == team)
        if not pipelines:
            raise PipelineNotFoundError(f"team {team!r} has no pipeline deployed here")
        for pipeline in pipelines:  # every pipeline first: a team acts whole or not at all
            authorize(self.specs[pipeline], principal)
        return pipelines

    def pause(
        self, principal: Principal, why: str, *, pipeline: str | None = None, team: str = ""
    ) -> Result:
        return self._switch(pause, "paused", principal, why, pipeline=pipeline, team=team)

    def resume(
        self, principal: Principal, why: str, *, pipeline: str | None = None, team: str = ""
    ) -> Result:
        return self._switch(resume, "resumed", principal, why, pipeline=pipeline, team=team)

    def _switch(
        self,
        decide: Callable[..., Any],
        done: str,
        principal: Principal,
        why: str,
        *,
        pipeline: str | None,
        team: str,
    ) -> Result:
        if (pipeline is None) == (not team):
            raise OperatorInputError("name a pipeline or a team, not both")
        if pipeline is not None:
            self._spec(pipeline, principal)
            self.log.record(
                pipeline,
                self.clock(),
                lambda state, stamp: decide(state, stamp, by=principal.name, why=why),
            )
            return {done: [pipeline], "unchanged": [], "by": principal.name}
        changed, unchanged = [], []
        for name in self._team(team, principal):
            try:
                self.log.record(
                    name,
                    self.clock(),
                    lambda state, stamp: decide(
                        state, stamp, by=principal.name, why=why, team=team
                    ),
                )
                changed.append(name)
            except OperatorInputError as error:  # already so: said, not an error of the team
                unchanged.append(f"{name}: {error}")
            except PipelineNotFoundError:
                unchanged.append(f"{name}: no change has reached it yet")
        return {done: changed, "unchanged": unchanged, "by": principal.name}

    def abort(self, principal: Principal, pipeline: str, change: str, why: str) -> Result:
        """Record the abort, roll back every stage the change is deployed in, stop its
        execution. A rollback that fails is raised after the others were tried (the stage
        stays held and people are paged, as for any failed rollback)."""
        self._spec(pipeline, principal)
        self.log.record(
            pipeline,
            self.clock(),
            lambda state, stamp: abort(state, stamp, change_id=change, by=principal.name, why=why),
        )
        state = self.log.state(pipeline)
        stages = [
            stage.stage
            for stage in state.stages.values()
            if any(
                scope.change_id == change and scope.deployed is not None
                for scope in stage.scopes.values()
            )
        ]
        rolled: list[str] = []
        stopped = False
        if self._revert_stage is not None:
            before = self._before(pipeline, change)
            # the execution first, so that no step of it deploys again behind the rollbacks
            if self.executions is not None:
                moving = state.changes.get(change)
                stopped = self.executions.stop(
                    pipeline,
                    change,
                    f"aborted by {principal}: {why}",
                    name=moving.execution if moving else None,
                )
            failures: list[str] = []
            for stage in stages:
                earlier = before.stages.get(stage)
                targets = {
                    name: scope.deployed
                    for name, scope in (earlier.scopes.items() if earlier else ())
                }
                for name in state.stages[stage].scopes:
                    targets.setdefault(name, None)  # nothing ran there before it: removed
                try:
                    self._revert_stage(
                        pipeline, change, stage, targets, f"aborted by {principal}: {why}"
                    )
                    rolled.append(stage)
                except ShipwaveError as error:
                    failures.append(f"{stage}: {error}")
            if failures:
                raise OperatorInputError(
                    f"{change} is aborted and its execution "
                    f"{'stopped' if stopped else 'was not running'}, but rollbacks failed: "
                    + "; ".join(failures)
                )
        return {
            "aborted": change,
            "rolled_back": rolled,
            "stages": stages,
            "stopped": stopped,
            "by": principal.name,
        }

    def retry(self, principal: Principal, pipeline: str, change: str, why: str) -> Result:
        """Run a failed change again from where it failed, in a new execution. The retry is
        recorded first, then the execution starts (named after the run, so starting it again
        starts nothing twice): when the start fails, the same retry again starts it."""
        spec = self._spec(pipeline, principal)
        if self.executions is None:
            raise OperatorInputError(
                "no executions can be started here: a local log's runs lived in the process "
                "that ran them (retry in that run, or on AWS through the operator endpoint)"
            )
        state = self.log.state(pipeline)
        pending = state.changes.get(change)
        recorded = pending is None or pending.status != "retrying"
        if recorded:
            state = self.log.record(
                pipeline,
                self.clock(),
                lambda state, stamp: retry(
                    state,
                    stamp,
                    stages=[s.name for s in spec.stages],
                    change_id=change,
                    by=principal.name,
                    why=why,
                ),
            ).state
        retried = state.changes[change]
        try:
            execution = self.executions.start(
                pipeline,
                change,
                {"pipeline_id": pipeline, "change_id": change, START_AT: retried.retried_from},
                name=retried.execution,
            )
        except ShipwaveError as error:
            raise OperatorInputError(
                f"{change}'s retry from {retried.retried_from} is recorded, but its execution "
                f"{retried.execution} could not start ({error}): run the same retry again"
            ) from None
        return {
            "retried": change,
            "from": retried.retried_from,
            "attempt": retried.attempt,
            "execution": execution,
            "recorded": recorded,  # False: this retry was recorded before (its start again)
            "paused": bool(state.paused),
            "by": principal.name,
        }

    def _before(self, pipeline: str, change: str) -> PipelineState:
        """The pipeline as it was just before the change first deployed anywhere: what each
        scope ran then is what an abort returns it to."""
        state = PipelineState(pipeline_id=pipeline)
        for event in self.log.events(pipeline):
            if isinstance(event, OneBoxDeployed | BatchDeployed) and event.change_id == change:
                break
            state = evolve(state, event)
        return state

    def emergency(
        self, principal: Principal, pipeline: str, change: str, reason: str, bake_factor: float
    ) -> Result:
        spec = self._spec(pipeline, principal)
        recorded = self.log.record(
            pipeline,
            self.clock(),
            lambda state, stamp: give_emergency_approval(
                state,
                stamp,
                change_id=change,
                by=principal.name,
                person=principal.person,
                reason=reason,
                bake_factor=bake_factor,
                senior_approvers=spec.emergency_approvers,
            ),
        )
        found = recorded.state.change(change)
        approved = found.emergency if found else None
        return {
            "change": change,
            "by": principal.name,
            "approved": bool(approved),
            "approvers": list(approved.approvers) if approved else [principal.name],
            "bake_factor": approved.bake_factor if approved else bake_factor,
        }

    def override(
        self, principal: Principal, pipeline: str, stage: str, change: str, blocker: str, why: str
    ) -> Result:
        self._spec(pipeline, principal)
        self.log.record(
            pipeline,
            self.clock(),
            lambda state, stamp: override_blocker(
                state,
                stamp,
                stage=stage,
                change_id=change,
                blocker=blocker,
                by=principal.name,
                why=why,
            ),
        )
        return {"overridden": blocker, "stage": stage, "change": change, "by": principal.name}

    def _recovery(self) -> Recovery:
        if self.recovery is None:
            raise OperatorInputError("no recovery here: this controller has no deploy targets")
        return self.recovery

    def recover(
        self, principal: Principal, pipeline: str, stage: str, version: str, why: str
    ) -> Result:
        """Redeploy a named earlier artifact to the scopes of a stage whose rollback failed,
        or to a stage no change holds while the pipeline is paused."""
        self._spec(pipeline, principal)
        if not why.strip():
            raise OperatorInputError("a recovery needs a reason (--why)")
        done = dict(self._recovery().recover(pipeline, stage, version, by=principal.name, why=why))
        return {**done, "by": principal.name}

    def unblock(self, principal: Principal, pipeline: str, stage: str, why: str) -> Result:
        """Release a stage held by a failed rollback, once none of its scopes runs it."""
        self._spec(pipeline, principal)
        if not why.strip():
            raise OperatorInputError("an unblock needs a reason (--why)")
        done = dict(self._recovery().unblock(pipeline, stage, by=principal.name, why=why))
        return {**done, "by": principal.name}
