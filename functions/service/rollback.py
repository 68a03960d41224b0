"""Rollback: a scope or a stage back to its known-good artifact, retried, paged when it fails;
a person's recovery."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from domain.errors import (
    ArtifactReadError,
    DeployTargetError,
    TransientDeployError,
)
from domain.events import (
    Artifact,
    Event,
    PersonPaged,
    RollbackCompleted,
    RollbackFailed,
    RollbackStarted,
    Stamper,
)
from domain.recovery import decide_unblock, plan_recovery, recovered
from domain.spec import PipelineSpec
from domain.state import PipelineState
from domain.validation import stage_of, step_of
from service.core import (
    ROLLBACK_ATTEMPTS,
    ROLLBACK_BACKOFF_SECONDS,
    ChecksumMismatchError,
    EngineCore,
    Progress,
    RollbackFailedError,
    Where,
    environment,
    in_area,
    scope_of,
)
from service.steps import hand_off


class RollbackSteps(EngineCore):
    def rollback(self, where: Where, reason: str) -> Progress:
        """Return the scope to its last known-good artifact, checksum verified first. A
        region-wide bake's scope is the region: every AZ/cell of it this change deployed to
        in the stage goes back. A rollback is never refused for the change's state (it may
        be what ends it); its stage, step and scope must be its pipeline's."""
        step_of(self._spec(where.pipeline_id), where.stage, where.step, where.region, where.scope)
        return {"rolled_back": self._rollback_scopes(where, reason, within=where.scope)}

    def rollback_stage(self, pipeline_id: str, change_id: str, stage: str, reason: str) -> Progress:
        """Roll back every scope of the stage where this change is deployed."""
        stage_of(self._spec(pipeline_id), stage)
        where = Where(pipeline_id, change_id, stage, "", "", "")
        return {"rolled_back": self._rollback_scopes(where, reason, within=None)}

    def revert_stage(
        self,
        pipeline_id: str,
        change_id: str,
        stage: str,
        targets: Mapping[str, Artifact | None],
        reason: str,
    ) -> Progress:
        """An abort: every scope of the stage this change runs in goes back to what ran there
        before the change came (`targets`, by scope), a stage it already passed too."""
        stage_of(self._spec(pipeline_id), stage)
        where = Where(pipeline_id, change_id, stage, "", "", "")
        return {"rolled_back": self._rollback_scopes(where, reason, within=None, targets=targets)}

    def _rollback_scopes(
        self,
        where: Where,
        reason: str,
        *,
        within: str | None,
        targets: Mapping[str, Artifact | None] | None = None,
    ) -> list[str]:
        """Roll back the stage's scopes this change is deployed to (those `within` a scope or
        region, or all). Every scope is attempted even when one fails; then the failures are
        raised."""
        stage_state = self.log.state(where.pipeline_id).stages.get(where.stage)
        scopes = [
            scope.scope
            for scope in (stage_state.scopes.values() if stage_state else ())
            if scope.change_id == where.change_id
            and scope.deployed is not None
            and (within is None or in_area(scope.scope, within))
        ]
        spec = self._spec(where.pipeline_id)
        failures: list[RollbackFailedError] = []
        for scope in scopes:
            at = Where(
                where.pipeline_id, where.change_id, where.stage, "", scope.split("/")[0], scope
            )
            try:
                if targets is not None and scope in targets:
                    self._rollback_scope(spec, at, reason, to=targets[scope])
                else:
                    self._rollback_scope(spec, at, reason)
            except RollbackFailedError as error:
                failures.append(error)
        if len(failures) == 1:
            raise failures[0]  # its own kind (a checksum mismatch stays one)
        if failures:
            raise RollbackFailedError("; ".join(str(error) for error in failures))
        return scopes

    def _rollback_scope(
        self,
        spec: PipelineSpec,
        where: Where,
        reason: str,
        *,
        to: Artifact | Literal["known-good"] | None = "known-good",
    ) -> None:
        state = self.log.state(where.pipeline_id)
        scope_state = scope_of(state, where)
        if (
            scope_state is None
            or scope_state.change_id != where.change_id
            or scope_state.deployed is None
        ):
            # Nothing of this change runs there: never deployed, already rolled back, or a
            # region-wide bake that deployed nothing itself.
            return
        to_artifact = scope_state.known_good if to == "known-good" else to
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
                region = scope.split("/", maxsplit=1)[0]
                if artifact is not None and not self.artifacts.verify(
                    artifact, environment(spec, stage), region
                ):
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

    def recover(self, pipeline_id: str, stage: str, version: str, *, by: str, why: str) -> Progress:
        """`shipwave rollback`: redeploy a named earlier artifact (checksum verified) to the
        scopes of a stage whose rollback failed, or of a paused pipeline's stage no change
        holds (`domain.recovery.plan_recovery`); recorded with who and why."""
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
        taking, resumed = hand_off(self.workflow, result.events)
        return {
            "unblocked": stage,
            "next": taking,
            "resumed": resumed,
        }
