"""`Build`: the reviewed change's head commit becomes its artifact (SPEC practice 3).

The state machine's `Build` task is a callback: `start_build` starts the pipeline's build
(CodeBuild, or the local builder) and records it with the task's token; the build's end
(CodeBuild's "Build State Change" event) reaches `build_finished`, which records
`ArtifactBuilt` or `BuildFailed` and resumes or fails the waiting task. A build that never
reports (the task times out) or cannot start ends the change as `build-failed` through
`build_abandoned`, with the reason.
"""

from __future__ import annotations

from domain import builds
from domain.builds import BuildReport, NotBuilt
from domain.errors import BuildStartError
from domain.events import Event, Stamper
from domain.ports import BuildRequest
from domain.state import ChangeState, PipelineState
from service.core import EngineCore, Progress

#: the error a failed build fails the `Build` task with (the state machine catches it)
BUILD_FAILED = "BuildFailed"


class BuildSteps(EngineCore):
    def start_build(self, pipeline_id: str, change_id: str, token: str) -> Progress:
        """Start the change's build and record it; the task waits for the build's end."""
        spec = self._spec(pipeline_id)
        state = self.log.state(pipeline_id)
        change = builds.to_build(state, change_id)
        if change.artifact is not None:
            # the build's end was recorded while this task was retried: hand it on again
            self._hand_off(change, token)
            return {"build_id": change.build_id, "started": False}
        if self.builder is None:
            raise BuildStartError(f"pipeline {pipeline_id!r}: no builder is configured")
        build_id = change.build_id or self.builder.start(
            BuildRequest(
                pipeline_id=pipeline_id,
                change_id=change_id,
                repository=spec.repository,
                commit_id=change.head,
                build=spec.build,
                attempt=change.attempt,
            )
        )
        self.log.record(
            pipeline_id,
            self.clock(),
            lambda state, stamp: builds.decide_started(
                state, stamp, change_id=change_id, build_id=build_id, token=token
            ),
        )
        return {"build_id": build_id, "started": True}

    def build_finished(self, pipeline_id: str, change_id: str, report: BuildReport) -> Progress:
        """Record what the ended build means and resume (or fail) the waiting task."""
        self._spec(pipeline_id)
        recorded = self.log.record(
            pipeline_id,
            self.clock(),
            lambda state, stamp: builds.decide_finished(
                state, stamp, change_id=change_id, report=report
            ),
        )
        change = recorded.state.change(change_id)
        if change is not None and change.build_id != report.build_id:
            # decide_finished records nothing for a build the ended change never recorded
            return {
                "pipeline_id": pipeline_id,
                "change_id": change_id,
                "build_id": report.build_id,
                "status": change.status,
                "recorded": [],
                "ignored": f"change {change_id} ended {change.status} before this build was "
                "recorded: nothing waits for it, and nothing deploys it",
            }
        self._hand_off(change)
        return {
            "pipeline_id": pipeline_id,
            "change_id": change_id,
            "build_id": report.build_id,
            "status": change.status if change else "unknown",
            "recorded": [type(e).__name__ for e in recorded.events],
        }

    def build_abandoned(self, pipeline_id: str, change_id: str, reason: str) -> Progress:
        """The `Build` task ended without a recorded outcome (timed out, could not start):
        the change ends build-failed, with the reason."""
        self._spec(pipeline_id)

        def decide(state: PipelineState, stamp: Stamper) -> list[Event]:
            change = state.changes.get(change_id)
            if change is None or change.artifact is not None:
                return []
            phase = "TIMEOUT" if "States.Timeout" in reason else "START"
            why = NotBuilt(phase=phase, reason=reason or "the build did not report its end")
            return [builds.failed(stamp, change_id, change.build_id, why)]

        recorded = self.log.record(pipeline_id, self.clock(), decide)
        change = recorded.state.change(change_id)
        return {"change_id": change_id, "status": change.status if change else "unknown"}

    def _hand_off(self, change: ChangeState | None, token: str = "") -> None:
        """Resume the `Build` task with the artifact, or fail it with why the build failed."""
        if change is None:
            return
        token = token or change.build_token
        if not token:
            return
        if change.artifact is not None:
            artifact = change.artifact
            self.workflow.resume(
                token,
                {"version": artifact.version, "checksum": artifact.checksum, "uri": artifact.uri},
            )
        elif change.status == "build-failed":
            self.workflow.fail(token, BUILD_FAILED, change.reason)
