"""`<Stage> · Integration tests`: the team's tests against the stage the change deployed.

A callback task, like the build: `start_tests` starts the run (CodeBuild's test project, or
the local runner) and records it with the task's token; the run's end (CodeBuild's "Build
State Change" event) reaches `tests_finished`, which records the passed run and resumes the
task, or the failed tests' names and fails it (the stage then rolls back). A run that never
reports, or cannot start, fails the stage through `tests_abandoned`.
"""

from __future__ import annotations

from domain import integration
from domain.builds import BuildReport, failure
from domain.errors import IntegrationTestRunError
from domain.events import Event, IntegrationTestsFailed, IntegrationTestsPassed, Stamper
from domain.ports import IntegrationTestRequest
from domain.state import PipelineState
from service.core import EngineCore, Progress

#: the error a failed run fails the task with (the state machine catches it)
TESTS_FAILED = "IntegrationTestsFailed"


class IntegrationTestSteps(EngineCore):
    def start_tests(self, pipeline_id: str, change_id: str, stage: str, token: str) -> Progress:
        spec = self._spec(pipeline_id)
        state = self.log.state(pipeline_id)
        change = integration.to_test(state, change_id, stage)
        if self.tests is None:
            raise IntegrationTestRunError(f"pipeline {pipeline_id!r}: no integration test runner")
        assert change.artifact is not None  # to_test checked it
        tests = spec.integration_tests
        run_id = self.tests.start(
            IntegrationTestRequest(
                pipeline_id=pipeline_id,
                change_id=change_id,
                stage=stage,
                repository=spec.repository,
                commit_id=change.head,
                artifact=change.artifact,
                command=tests.command,
                endpoint=tests.endpoints.get(stage, ""),
                entry=spec.build.entry,
                timeout_minutes=tests.timeout_minutes,
                attempt=change.attempt,
            )
        )
        self.log.record(
            pipeline_id,
            self.clock(),
            lambda state, stamp: integration.decide_started(
                state, stamp, change_id=change_id, stage=stage, run_id=run_id, token=token
            ),
        )
        return {"run_id": run_id, "stage": stage}

    def tests_finished(
        self, pipeline_id: str, change_id: str, stage: str, report: BuildReport
    ) -> Progress:
        """Record the run's end and resume (or fail) the waiting task."""
        self._spec(pipeline_id)
        status = report.status
        failed: tuple[str, ...] = ()
        reason = ""
        if status != "SUCCEEDED":
            reason = failure(report, integration.TEST_PHASE_MEANING).reason
        if status in ("SUCCEEDED", "FAILED") and self.tests is not None:
            try:
                failed = self.tests.failed_tests(report.build_id)
            except IntegrationTestRunError as error:  # fail closed: what is not known to pass fails
                status, reason = "FAILED", f"the test report could not be read ({error})"
        recorded = self.log.record(
            pipeline_id,
            self.clock(),
            lambda state, stamp: integration.decide_finished(
                state,
                stamp,
                change_id=change_id,
                stage=stage,
                run_id=report.build_id,
                status=status,
                failed_tests=failed,
                reason=reason,
                log_url=report.log_url,
            ),
        )
        change = recorded.state.change(change_id)
        token = change.test_token if change else ""
        for event in recorded.events:
            if token and isinstance(event, IntegrationTestsPassed):
                self.workflow.resume(token, {"stage": stage, "tests": "passed"})
            elif token and isinstance(event, IntegrationTestsFailed):
                names = ", ".join(event.failed_tests) or event.reason
                self.workflow.fail(token, TESTS_FAILED, f"{stage}: {names}")
        return {
            "pipeline_id": pipeline_id,
            "change_id": change_id,
            "stage": stage,
            "recorded": [type(e).__name__ for e in recorded.events],
            "failed_tests": list(failed),
        }

    def tests_abandoned(
        self, pipeline_id: str, change_id: str, stage: str, reason: str
    ) -> Progress:
        """The task ended without a recorded end (timed out, could not start): recorded as
        failed tests, so the stage's rollback and failure say why."""
        self._spec(pipeline_id)

        def decide(state: PipelineState, stamp: Stamper) -> list[Event]:
            change = state.changes.get(change_id)
            if change is None or reason.startswith(TESTS_FAILED):
                return []  # its end was recorded (the run's failure is this task's error)
            return [
                stamp(
                    IntegrationTestsFailed,
                    f"{change_id}:{stage}:tests-abandoned:{change.test_run or 'none'}",
                    stage=stage,
                    change_id=change_id,
                    run_id=change.test_run,
                    failed_tests=(),
                    reason=reason or "the integration tests did not report their end",
                )
            ]

        recorded = self.log.record(pipeline_id, self.clock(), decide)
        change = recorded.state.change(change_id)
        return {
            "change_id": change_id,
            "stage": stage,
            "error": TESTS_FAILED,
            "cause": change.reason if change and change.reason else reason,
        }
