"""The embedded local runtime: the very ASL CDK deploys, run on moto's interpreter.

    with LocalRuntime(specs, event_log=SQLiteEventStore(path), start=monday_9am) as runtime:
        runtime.adopt("create-order-application", "v1.0.0")
        runtime.merge("create-order-application", "v1.1.0")
        runtime.run()

Lambda tasks reach the real handlers (`functions/handlers/`) in process; time is virtual
(`clock.py`); the fleet and CloudWatch are simulated (`simulation.py`); the event log is the
store you pass (SQLite by default, or DynamoDB on moto through the AWS adapter).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol

import boto3
from moto import mock_aws

from adapters.dynamodb import DynamoDBEventStore
from adapters.eventbridge import EventBridgePublisher
from adapters.git_source import GitRepository, GitReviewSource
from adapters.memory import MemoryNotifications, OutboxNotifier
from adapters.sqlite import SQLiteEventStore
from adapters.sqlite_outbox import SQLiteOutbox, outbox_path
from adapters.stepfunctions import StepFunctionsExecutions, StepFunctionsWorkflow
from domain.artifacts import s3_location
from domain.builds import Built, outcome
from domain.errors import BuildStartError, ShipwaveError
from domain.events import Artifact
from domain.ports import BuildRequest, EventStore, NotificationPublisher
from domain.spec import PipelineSpec
from examples.reference import SERVICE_CODE
from handlers import runtime as handler_runtime
from handlers.observability import logger as handler_logger
from handlers.observability import metrics as handler_metrics
from service.engine import Engine, environment
from service.notifying import Feed
from service.operating import Operations
from service.pipeline_log import PipelineLog
from service.steps import PipelineSteps
from statemachines.generator import PLACEHOLDERS, substitute, to_json
from statemachines.local import clock as virtual
from statemachines.local import moto_patches
from statemachines.local.artifacts import LocalArtifactStore
from statemachines.local.builder import LocalBuild, LocalBuilder
from statemachines.local.simulation import (
    HostFaults,
    SimulatedCloudWatch,
    SimulatedFleet,
)
from statemachines.local.test_runs import LocalTestRunner
from statemachines.local.traffic import LocalTraffic

HOME_REGION = "us-east-1"
ACCOUNT = "123456789012"
#: each environment's account, as alarm events carry it (pre-production stages run apart)
ENVIRONMENT_ACCOUNTS = {
    "production": ACCOUNT,
    "alpha": "100000000001",
    "beta": "100000000002",
    "gamma": "100000000003",
    "zeta": "100000000004",
}
HANDLER_MODULES = (
    "build",
    "lease",
    "blockers",
    "deploy",
    "bake",
    "transition",
    "alarm",
    "intake",
    "executions",
)
#: execution statuses Step Functions reports to EventBridge that the controller acts on
_ENDED = ("FAILED", "TIMED_OUT", "ABORTED")
_PLACEHOLDER_FUNCTION = {
    "BuildFunctionArn": "build",
    "LeaseFunctionArn": "lease",
    "BlockersFunctionArn": "blockers",
    "DeployFunctionArn": "deploy",
    "BakeFunctionArn": "bake",
    "TransitionFunctionArn": "transition",
}


class HandlerCrashedError(RuntimeError):
    """An injected crash, before or after the handler's work, as a Lambda timeout or OOM
    would be."""


class InvocationFaults(Protocol):
    """Faults injected around each handler invocation (`statemachines/local/chaos.py`)."""

    def before(self, module: str, payload: Mapping[str, Any]) -> None:
        """Raise HandlerCrashedError to crash the invocation before the handler runs."""

    def duplicate(self, module: str, payload: Mapping[str, Any]) -> bool:
        """True: the invocation is delivered twice (at-least-once delivery)."""

    def after(self, module: str, payload: Mapping[str, Any]) -> None:
        """Raise HandlerCrashedError to crash the invocation after the handler's work."""


#: an event EventBridge could not deliver is retried with a backoff doubling from a minute to
#: an hour, for a day (the CDK app's target retry policy), then kept as a dead letter
REDELIVERY_FIRST_SECONDS = 60.0
REDELIVERY_MAX_SECONDS = 3600.0
REDELIVERY_FOR_SECONDS = 86400.0
#: a merge's notification is delivered to the intake at most this many times in a row
INTAKE_ATTEMPTS = 10


@dataclass
class Redelivery:
    function: str
    payload: dict[str, Any]
    first_failed: float  # virtual seconds
    due: float
    attempts: int
    error: str


@dataclass
class LambdaContextStandIn:
    """What Powertools reads from a Lambda context object."""

    function_name: str
    aws_request_id: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{HOME_REGION}:{ACCOUNT}:function:{self.function_name}"


@dataclass(frozen=True)
class ExecutionResult:
    pipeline_id: str
    change_id: str
    status: str
    arn: str


class LocalRuntime:
    def __init__(
        self,
        specs: Sequence[PipelineSpec],
        *,
        event_log: EventStore | Callable[[], EventStore],
        start: datetime,
        boxes_per_scope: int = 12,
        tick_seconds: float = 60.0,
        source_dir: Path | None = None,
        code: Mapping[str, Path] | None = None,
    ) -> None:
        self.specs: dict[str, PipelineSpec] = {spec.pipeline_id: spec for spec in specs}
        #: where each pipeline's git repository is (a temporary folder unless given)
        self.source_dir = source_dir.resolve() if source_dir is not None else None
        self._own_source_dir = source_dir is None
        #: repository → the folder whose files its first commit holds (default: the examples')
        self.code = dict(code) if code is not None else _example_code()
        self._commits: dict[str, str] = {}
        self._event_log = event_log
        self.clock = virtual.VirtualClock(start, tick_seconds=tick_seconds)
        self.boxes_per_scope = boxes_per_scope
        self.invocations: dict[str, int] = {}
        #: (handler module, action) → crashes still to inject after the handler ran
        self.crashes: dict[tuple[str, str], int] = {}
        #: faults around every invocation (None: none)
        self.faults: InvocationFaults | None = None
        #: events whose delivery failed, waiting to be delivered again
        self.redeliveries: list[Redelivery] = []
        #: events no delivery succeeded for, a day long (a dead-letter queue in AWS, which pages)
        self.dead_letters: list[Redelivery] = []
        self.notification_failures = 0  # publications that failed and were tried again
        #: deliveries that failed (and were retried), by function
        self.delivery_failures: dict[str, int] = {}
        self.executions: dict[str, ExecutionResult] = {}
        self._ends_delivered: set[str] = set()
        self._mock = mock_aws(
            config={
                "stepfunctions": {"execute_state_machine": True},
                "lambda": {"use_docker": False},
            }
        )

    # --- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> LocalRuntime:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": HOME_REGION,
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "POWERTOOLS_TRACE_DISABLED": "1",
            "POWERTOOLS_METRICS_DISABLED": "1",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_LOGGER_LOG_EVENT": "false",
        }.items():
            os.environ.setdefault(name, value)
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        # The interpreter logs every Fail state as an ERROR; a rollback is an expected outcome
        # and is reported through the event log instead.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        # the handlers' logger was made at import, before the level above was set: a local
        # run logs what the environment asks (warnings unless POWERTOOLS_LOG_LEVEL says more)
        handler_logger.setLevel(os.environ["POWERTOOLS_LOG_LEVEL"])
        moto_patches.patch_interpreter()
        moto_patches.isolate_dynamodb()
        virtual.install(self.clock)
        self._mock.start()
        self.store = self._event_log() if callable(self._event_log) else self._event_log
        if isinstance(self.store, DynamoDBEventStore):
            self.store.create_table()
        self.sfn = boto3.client("stepfunctions", region_name=HOME_REGION)
        self._create_functions_and_machines()
        self.log = PipelineLog(self.store)
        self.fleet = SimulatedFleet(self.clock.now, boxes_per_scope=self.boxes_per_scope)
        self.cloudwatch = SimulatedCloudWatch(self.fleet, self.specs)
        if self.source_dir is None:
            self.source_dir = Path(tempfile.mkdtemp(prefix="shipwave-source-"))
        self.repositories: dict[str, GitRepository] = {}
        for spec in self.specs.values():
            if spec.repository not in self.repositories:
                self.repositories[spec.repository] = self._repository(spec)
        work = self.source_dir / ".shipwave"
        self.artifacts = LocalArtifactStore(work / "artifacts")
        self.builder = LocalBuilder(
            self.repositories,
            self.artifacts,
            work / "builds",
            account=ACCOUNT,
            region=HOME_REGION,
            clock=self.clock.now,
        )
        self.integration = LocalTestRunner(
            self.repositories,
            self.artifacts,
            work / "tests",
            account=ACCOUNT,
            region=HOME_REGION,
            clock=self.clock.now,
        )
        self.traffic = LocalTraffic(self.specs, self.artifacts, self.repositories, self._commit_of)
        self.fleet.profiler = self.traffic
        self.reviews = GitReviewSource(self.repositories)
        self.outbox = OutboxNotifier()
        workflow = StepFunctionsWorkflow(client=self.sfn)
        self.engine = Engine(
            log=self.log,
            specs=self.specs,
            targets=self.fleet.target,
            alarms=self.cloudwatch,
            artifacts=self.artifacts,
            workflow=workflow,
            executions=_KnownExecutions(self, self.machines, client=self.sfn),
            clock=self.clock.now,
            accounts={account: env for env, account in ENVIRONMENT_ACCOUNTS.items()},
            reviews=self.reviews,
            notifier=self.outbox,
            builder=self.builder,
            tests=self.integration,
            pause=lambda seconds: None,  # retries back off in virtual time: no wall wait
        )
        handler_runtime.use(
            handler_runtime.Services(
                steps=PipelineSteps(self.log, workflow, self.clock.now, specs=self.specs),
                engine=self.engine,
            )
        )
        moto_patches.route_lambda(self._invoke)
        self.clock.on_tick(self.cloudwatch.tick)
        self.clock.on_tick(self._deliver_build_reports)
        self.clock.on_tick(self._deliver_execution_ends)
        self.clock.on_tick(self._redeliver)
        self.notifications = self._feed()
        #: what a person does (pause, resume, abort), as the operator endpoint does on AWS
        self.operations = Operations(
            self.log,
            self.specs,
            clock=self.clock.now,
            revert_stage=self.engine.revert_stage,
            executions=self.engine.executions,
            recovery=self.engine,
        )
        self.clock.on_tick(self._publish_notifications)
        self.cloudwatch.listeners.append(self._deliver_alarm)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        moto_patches.route_lambda(None)
        handler_runtime.use(None)
        virtual.install(None)
        self._mock.stop()
        if self._own_source_dir and self.source_dir is not None:
            shutil.rmtree(self.source_dir, ignore_errors=True)

    def _create_functions_and_machines(self) -> None:
        iam = boto3.client("iam", region_name=HOME_REGION)
        role = iam.create_role(RoleName="shipwave-local", AssumeRolePolicyDocument="{}")["Role"]
        functions = boto3.client("lambda", region_name=HOME_REGION)
        arns: dict[str, str] = {}
        for name in HANDLER_MODULES:
            arns[name] = functions.create_function(
                FunctionName=f"shipwave-{name}",
                Runtime="python3.13",
                Role=role["Arn"],
                Handler=f"handlers.{name}.handler",
                Code={"ZipFile": b"runs in process"},
            )["FunctionArn"]
        substitutions = {p: arns[_PLACEHOLDER_FUNCTION[p]] for p in PLACEHOLDERS}
        self.machines: dict[str, str] = {}
        for pipeline_id, spec in self.specs.items():
            self.machines[pipeline_id] = self.sfn.create_state_machine(
                name=f"shipwave-{pipeline_id}",
                definition=substitute(to_json(spec), substitutions),
                roleArn=role["Arn"],
            )["stateMachineArn"]

    def _repository(self, spec: PipelineSpec) -> GitRepository:
        """The pipeline's repository; new, its first commit holds the service's code."""
        assert self.source_dir is not None
        repository = GitRepository(self.source_dir / spec.repository, branch=spec.branch)
        if not repository.has_commits():
            folder = self.code.get(spec.repository)
            files = (
                {
                    p.relative_to(folder).as_posix(): p.read_text()
                    for p in sorted(folder.rglob("*"))
                    if p.is_file() and "__pycache__" not in p.parts
                }
                if folder is not None
                else {"README.md": f"# {spec.service}\n"}
            )
            repository.commit(
                f"{spec.service}: first commit",
                author="developer",
                at=self.clock.now(),
                files=files,
            )
        return repository

    # --- Lambda and EventBridge, in process -----------------------------------------------

    def _invoke(self, function_name: str, payload: dict[str, Any]) -> Any:
        module_name = function_name.removeprefix("shipwave-")
        if module_name not in HANDLER_MODULES:
            raise LookupError(f"no local handler for function {function_name!r}")
        self.invocations[module_name] = self.invocations.get(module_name, 0) + 1
        module = __import__(f"handlers.{module_name}", fromlist=["handler"])
        faults = self.faults
        if faults is not None:
            faults.before(module_name, payload)
        context = LambdaContextStandIn(function_name, str(uuid.uuid4()))
        try:
            result = module.handler(payload, context)
            if faults is not None and faults.duplicate(module_name, payload):
                again = LambdaContextStandIn(function_name, str(uuid.uuid4()))
                result = module.handler(payload, again)
        finally:
            # Metrics are off here (no EMF consumer), and Powertools keeps what a disabled
            # flush does not print, until 100 values are printed anyway: drop them.
            handler_metrics.clear_metrics()
        if faults is not None:
            faults.after(module_name, payload)
        crash = (module_name, str(payload.get("action", "")))
        if self.crashes.get(crash, 0) > 0:
            self.crashes[crash] -= 1
            raise HandlerCrashedError(
                f"{function_name} crashed after its work (injected): the task is retried"
            )
        return result

    def _deliver(self, function: str, payload: dict[str, Any]) -> None:
        """An event EventBridge delivers to a function: under injected faults one that fails is
        delivered again later (`_redeliver`), as the target's retry policy does; without, a
        failure is a bug of ours and is raised to the test or run."""
        try:
            self._invoke(function, payload)
        except Exception as error:
            if self.faults is None:
                raise
            self._failed(function)
            now = self.clock.elapsed
            self.redeliveries.append(
                Redelivery(function, payload, now, now + REDELIVERY_FIRST_SECONDS, 1, _named(error))
            )
            self.clock.wake_at(now + REDELIVERY_FIRST_SECONDS)

    def _redeliver(self, previous: datetime, now: datetime) -> None:
        due = [r for r in self.redeliveries if r.due <= self.clock.elapsed]
        for redelivery in due:
            self.redeliveries.remove(redelivery)
            try:
                self._invoke(redelivery.function, redelivery.payload)
            except Exception as error:
                self._failed(redelivery.function)
                redelivery.attempts += 1
                redelivery.error = _named(error)
                wait = min(
                    REDELIVERY_MAX_SECONDS,
                    REDELIVERY_FIRST_SECONDS * 2 ** (redelivery.attempts - 1),
                )
                redelivery.due = self.clock.elapsed + wait
                if redelivery.due - redelivery.first_failed > REDELIVERY_FOR_SECONDS:
                    self.dead_letters.append(redelivery)
                else:
                    self.redeliveries.append(redelivery)
                    self.clock.wake_at(redelivery.due)

    def _failed(self, function: str) -> None:
        self.delivery_failures[function] = self.delivery_failures.get(function, 0) + 1

    def _deliver_alarm(self, alarm_name: str, environment: str, region: str, reason: str) -> None:
        """What the per-region forwarding rule and the controller's rule do in AWS."""
        self._deliver(
            "shipwave-alarm",
            {
                "source": "aws.cloudwatch",
                "detail-type": "CloudWatch Alarm State Change",
                "account": ENVIRONMENT_ACCOUNTS[environment],
                "region": region,
                "detail": {"alarmName": alarm_name, "state": {"value": "ALARM", "reason": reason}},
            },
        )

    def _deliver_build_reports(self, previous: datetime, now: datetime) -> None:
        """What the controller's rule on CodeBuild's build state changes does in AWS: each
        ended build's (and integration test run's) event goes to the build handler."""
        for reports in (self.builder.reports, self.integration.reports):
            while reports:
                self._deliver("shipwave-build", reports.popleft())

    def _deliver_execution_ends(self, previous: datetime, now: datetime) -> None:
        """What the controller's rule on `aws.states` status changes does in AWS: every
        execution that failed, timed out or was aborted is reported once, as EventBridge
        reports it (tests/fixtures/aws has the published shape)."""
        for execution in list(self.executions.values()):
            if execution.arn in self._ends_delivered:
                continue
            status = moto_patches.execution_status(execution.arn)
            if status not in _ENDED:
                continue
            self._ends_delivered.add(execution.arn)
            described = self.sfn.describe_execution(executionArn=execution.arn)
            detail = {
                "executionArn": execution.arn,
                "stateMachineArn": described["stateMachineArn"],
                "name": described["name"],
                "status": status,
                "input": described.get("input"),
                "inputDetails": {"included": True},
                "output": None,
                "outputDetails": None,
                "error": described.get("error"),
                "cause": described.get("cause"),
            }
            self._deliver(
                "shipwave-executions",
                {
                    "version": "0",
                    "id": str(uuid.uuid4()),
                    "detail-type": "Step Functions Execution Status Change",
                    "source": "aws.states",
                    "account": ACCOUNT,
                    "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "region": HOME_REGION,
                    "resources": [execution.arn],
                    "detail": detail,
                },
            )

    # --- what a user does -----------------------------------------------------------------

    def abort(self, change_id: str, cause: str = "stopped by hand") -> None:
        """Stop the change's execution, as StopExecution (or the console) does."""
        self.sfn.stop_execution(
            executionArn=self.executions[change_id].arn, error="Aborted", cause=cause
        )

    def adopt(self, pipeline_id: str, version: str) -> None:
        """The service already runs `version` everywhere: its commit is built (by the same
        builder, outside any pipeline), the fleet seeded, the artifact recorded known-good."""
        spec = self.specs[pipeline_id]
        artifact = self._build_version(spec, version)
        self.fleet.take(spec.service, artifact)
        self.fleet.seed(
            spec.service,
            [(environment(spec, stage), scope) for stage, scope in spec.scopes()],
            version,
        )
        self.engine.adopt(pipeline_id, artifact)

    def _build_version(self, spec: PipelineSpec, version: str) -> Artifact:
        repository = self.repositories[spec.repository]
        commit = repository.commit(
            f"release {version}",
            author="developer",
            at=self.clock.now(),
            files={"VERSION": f"{version}\n"},
        )
        build = self.builder.build_now(
            BuildRequest(
                pipeline_id=spec.pipeline_id,
                change_id=f"adopt-{version}",
                repository=spec.repository,
                commit_id=commit,
                build=spec.build,
            )
        )
        built = outcome(build.report(), pipeline_id=spec.pipeline_id)
        if not isinstance(built, Built):
            raise BuildStartError(
                f"{spec.pipeline_id}: {version} does not build ({built}); see {build.log}"
            )
        return built.artifact

    def merge(
        self,
        pipeline_id: str,
        version: str,
        *,
        hosts: HostFaults | None = None,
        reviewed: bool = True,
        author: str = "developer",
        approved_by: tuple[str, ...] | None = None,
        files: Mapping[str, str] | None = None,
        before: Sequence[tuple[str, str, tuple[str, ...]]] = (),
        lists: Literal["every commit", "the head only"] = "every commit",
    ) -> str:
        """A merge to main, as a developer makes it: a commit by `author` on the branch of the
        pipeline's git repository (`VERSION` set to `version`, and `files` changed), its
        approvals (`approved_by`, or "reviewer" when `reviewed`) as notes in
        `refs/notes/reviews`. The repository's notification of the moved branch goes to the
        intake, which starts the pipeline: review, build, stages. Returns the change's id.
        How the version serves customers comes from running its code; `hosts` says how its
        hosts behave beside it (failing health checks, a broken metrics agent).

        `before` are commits (message, author, approvers) the same push brings ahead of it (a
        fast-forwarded branch); with `lists="the head only"` the notification names only the
        new head, as CodeCommit's reference event does."""
        spec = self.specs[pipeline_id]
        self.fleet.hosts[version] = hosts or HostFaults()
        repository = self.repositories[spec.repository]
        now = self.clock.now()
        previous = repository.head()
        for message, by, approvers in before:
            earlier = repository.commit(message, author=by, at=now)
            for approver in approvers:
                repository.approve(earlier, approver, at=now)
        commit = repository.commit(
            f"release {version}",
            author=author,
            at=now,
            files={"VERSION": f"{version}\n", **(files or {})},
        )
        for approver in approved_by if approved_by is not None else (("reviewer",) * reviewed):
            repository.approve(commit, approver, at=now)
        notification = self.notification(spec, previous, commit)
        if lists == "the head only":
            notification["detail"]["commits"] = notification["detail"]["commits"][-1:]
        result = self._intake(notification)
        taken = [t for t in result.get("taken", []) if t["pipeline_id"] == pipeline_id]
        if not taken:
            raise LookupError(f"the merge started no change of {pipeline_id}: {result}")
        change = str(taken[0]["change_id"])
        self._commits[change] = commit
        self.executions[change] = ExecutionResult(
            pipeline_id, change, "RUNNING", taken[0]["execution"]
        )
        return change

    def _intake(self, notification: dict[str, Any]) -> Any:
        """The notification to the intake, delivered again (the same event) while it fails."""
        for attempt in range(INTAKE_ATTEMPTS):
            try:
                return self._invoke("shipwave-intake", notification)
            except Exception:
                if self.faults is None or attempt == INTAKE_ATTEMPTS - 1:
                    raise
                self._failed("shipwave-intake")
        raise AssertionError("unreachable")

    def notification(self, spec: PipelineSpec, previous: str | None, commit: str) -> dict[str, Any]:
        """The repository's event that its branch moved from `previous` to `commit` (as
        CodeCommit's reference event says it, with the commits `git log` lists)."""
        repository = self.repositories[spec.repository]
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Local Branch Moved",
            "source": "shipwave.local",
            "account": ACCOUNT,
            "time": self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": HOME_REGION,
            "resources": [],
            "detail": {
                "repository": spec.repository,
                "ref": f"refs/heads/{spec.branch}",
                "old_commit": previous,
                "new_commit": commit,
                "commits": [
                    {"commit_id": c, "author": a, "message": m}
                    for c, a, m in repository.log(previous, commit)
                ],
            },
        }

    def _commit_of(self, artifact: Artifact) -> str | None:
        """The commit the artifact was built from (None: no local build made it)."""
        location = s3_location(artifact)
        if location is None:
            return None
        arn = f"arn:aws:s3:::{location.bucket}/{location.key}"  # as the build reports it
        return next((b.commit_id for b in self.builder.builds.values() if b.location == arn), None)

    def build_of(self, change_id: str) -> LocalBuild | None:
        """The local build of the change, once started."""
        for build in self.builder.builds.values():
            if build.change_id == change_id:
                return build
        return None

    def commit_id(self, change_id: str) -> str:
        """The commit the local merge of `change_id` made."""
        return self._commits[change_id]

    def approve(self, pipeline_id: str, change_id: str, by: str) -> None:
        """A reviewer approves the change's commit after the fact, in its review note."""
        self.approve_commit(pipeline_id, self.commit_id(change_id), by)

    def approve_commit(self, pipeline_id: str, commit_id: str, by: str) -> None:
        """A reviewer approves one commit of the pipeline's repository after the fact."""
        repository = self.repositories[self.specs[pipeline_id].repository]
        repository.approve(commit_id, by, at=self.clock.now())

    def _feed(self) -> Feed:
        """What the table's stream and the notify function do on AWS: each new event's
        notification, in order. To the SQLite log's outbox (`events.db-outbox`, which
        `shipwave history` and the dashboard show), to moto's EventBridge for a DynamoDB
        log (the adapter the notify function uses), or kept in memory."""
        store = self.store
        inner = getattr(store, "inner", store)  # the chaos suite's flaky store wraps one
        if isinstance(inner, SQLiteEventStore):
            self.outbox_notifications: NotificationPublisher = SQLiteOutbox(outbox_path(inner.path))
            start = self.outbox_notifications.last_published
            return Feed(store, self.outbox_notifications, self.specs, published_up_to=start)
        if isinstance(inner, DynamoDBEventStore):
            self.outbox_notifications = EventBridgePublisher()
        else:
            self.outbox_notifications = MemoryNotifications()
        return Feed(store, self.outbox_notifications, self.specs)

    def _publish_notifications(self, previous: datetime, now: datetime) -> None:
        """A failed publication is tried again at the next tick, from where it failed (the
        stream's retry); nothing is skipped."""
        try:
            self.notifications.drain()
        except ShipwaveError as error:
            self.notification_failures += 1
            logging.getLogger("shipwave.local").warning("notification not published: %s", error)

    def run(self, *, until: Callable[[], bool] | None = None, max_days: float = 60) -> None:
        """Drive virtual time until every execution ended (or `until()` holds). Then the ends
        not yet reported (the last execution's, say) reach the controller, as EventBridge
        reports them, and what must be delivered again is."""
        limit = max_days * 86400
        self.clock.run_until(until or self.all_finished, max_elapsed=limit)
        if until is None:
            now = self.clock.now()
            self._deliver_execution_ends(now, now)
            if self.redeliveries:
                self.clock.run_until(self.all_finished, max_elapsed=limit)
        self._publish_notifications(self.clock.now(), self.clock.now())
        self.refresh()

    def run_for(self, seconds: float) -> None:
        target = self.clock.elapsed + seconds
        self.clock.run_until(
            lambda: self.clock.elapsed >= target or self.all_finished(), max_elapsed=target + 1
        )
        self.refresh()

    def wait(self, seconds: float) -> None:
        """Time passes whether or not an execution runs: the fleet serves, alarms evaluate
        (a person waits for an alarm's cause to clear before a retry, say)."""
        target = self.clock.elapsed + seconds
        self.clock.wake_at(target)
        self.clock.run_until(lambda: self.clock.elapsed >= target, max_elapsed=target + 1)
        self.refresh()

    def refresh(self) -> Mapping[str, ExecutionResult]:
        for change, execution in list(self.executions.items()):
            status = moto_patches.execution_status(execution.arn)
            self.executions[change] = ExecutionResult(
                execution.pipeline_id, change, status, execution.arn
            )
        return self.executions

    def all_finished(self) -> bool:
        """Every execution ended, and no event waits to be delivered again."""
        return not self.redeliveries and all(
            moto_patches.execution_status(e.arn) != "RUNNING" for e in self.executions.values()
        )

    def history(self, change_id: str) -> list[dict[str, Any]]:
        """The execution's history, as GetExecutionHistory returns it."""
        return moto_patches.execution_history(self.executions[change_id].arn)

    def states_entered(self, change_id: str) -> set[str]:
        names = set()
        for event in self.history(change_id):
            details = event.get("stateEnteredEventDetails")
            if details:
                names.add(details["name"])
        return names

    @staticmethod
    def dumps(value: Any) -> str:
        return json.dumps(value, default=str)


class _KnownExecutions(StepFunctionsExecutions):
    """Step Functions' executions, each one started also known to the runtime (a person's
    retry starts one outside a merge): `run()` waits for it, its end is reported."""

    def __init__(self, runtime: LocalRuntime, machines: dict[str, str], **kwargs: Any) -> None:
        super().__init__(machines, **kwargs)
        self._runtime = runtime

    def start(
        self,
        pipeline_id: str,
        change_id: str,
        execution_input: dict[str, object],
        *,
        name: str | None = None,
    ) -> str:
        arn = super().start(pipeline_id, change_id, execution_input, name=name)
        self._runtime.executions[change_id] = ExecutionResult(
            pipeline_id, change_id, "RUNNING", arn
        )
        return arn


def _named(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:500]


def _example_code() -> dict[str, Path]:
    return dict(SERVICE_CODE)
