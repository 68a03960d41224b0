"""The deployment engine: what each step of a pipeline's state machine does.

Every method records its transitions through `PipelineLog` before it returns (so the state
machine never moves on past an unrecorded transition) and uses keys that make a retried
invocation record nothing twice. Decisions come from the pure core (`domain.rollout`,
`domain.conveyor`, `domain.review`, `domain.alarm_health`, `domain.recovery`); the engine
reads the world through ports and writes the log.

One concern per module, so the room for a change to one gate is one file:

| module | what |
|---|---|
| `service/intake.py` | a merged change is recorded and started; the review gate; onboarding |
| `service/building.py` | the reviewed change's build: started, and its end recorded |
| `service/testing.py` | a stage's integration tests: started, and their end recorded |
| `service/gates.py` | the stage preflight and blockers, windows, holds while alarms cannot vouch |
| `service/deploying.py` | one-box and rolling batches of one scope |
| `service/baking.py` | the bake callback, its alarm backstop and datapoint requirement |
| `service/alarms.py` | what the watched alarms say; an alarm that fires against in-flight scopes |
| `service/rollback.py` | rollback of a scope or a stage, paged when it fails; a person's recovery |
| `service/core.py` | the ports, the clock and the helpers they share |
"""

from __future__ import annotations

from domain.errors import UnknownPipelineError
from service.baking import BakeSteps
from service.building import BuildSteps
from service.core import (
    PRODUCTION,
    AlarmFiredError,
    ChecksumMismatchError,
    HealthCheckFailedError,
    RollbackFailedError,
    Where,
    environment,
)
from service.deploying import DeploySteps
from service.intake import IntakeSteps
from service.rollback import RollbackSteps
from service.testing import IntegrationTestSteps

__all__ = [
    "PRODUCTION",
    "AlarmFiredError",
    "ChecksumMismatchError",
    "Engine",
    "HealthCheckFailedError",
    "RollbackFailedError",
    "UnknownPipelineError",
    "Where",
    "environment",
]


class Engine(IntakeSteps, BuildSteps, IntegrationTestSteps, DeploySteps, BakeSteps, RollbackSteps):
    """Every step the state machine calls, over the ports it was given."""
