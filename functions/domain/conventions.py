"""The names the stacks and the handlers find each other by, without cross-stack references.

The platform owner's stacks (the controller, one per region) and each team's stacks (its
pipelines, its alarms and deploy role per region) are deployed apart and never import each
other's outputs: each side derives the other's names from these conventions.
"""

from __future__ import annotations

#: the folder of Parameter Store where each pipeline stack puts its spec
SPECS_PATH = "/shipwave/pipelines"

#: IAM: a role name has at most 64 characters
ROLE_NAME_MAX = 64

DEPLOY_ROLE_PREFIX = "shipwave-deploy-"


def spec_parameter_name(pipeline_id: str) -> str:
    return f"{SPECS_PATH}/{pipeline_id}"


def deploy_role_name(region: str) -> str:
    """The platform's role in `region`: reads alarms and copies artifacts for every team."""
    return f"{DEPLOY_ROLE_PREFIX}{region}"


def team_deploy_role_name(team: str, region: str) -> str:
    """A team's role in `region`: deploys that team's targets and nothing else."""
    return f"{DEPLOY_ROLE_PREFIX}{team}-{region}"


def team_name_max(regions: tuple[str, ...]) -> int:
    """The longest team name whose deploy role name fits IAM in every one of `regions`."""
    longest = max((len(region) for region in regions), default=0)
    return ROLE_NAME_MAX - len(team_deploy_role_name("", "")) - longest


#: every build project of a pipeline is named with this prefix (the controller's rule on
#: CodeBuild's build state changes matches it)
BUILD_PROJECT_PREFIX = "shipwave-build-"
#: the environment variables a build is started with, echoed back in its end's event
BUILD_PIPELINE_VARIABLE = "SHIPWAVE_PIPELINE_ID"
BUILD_CHANGE_VARIABLE = "SHIPWAVE_CHANGE_ID"
#: an integration test run's stage (a build without it is the pipeline's build)
BUILD_STAGE_VARIABLE = "SHIPWAVE_STAGE"


def build_project_name(pipeline_id: str) -> str:
    """The pipeline's CodeBuild project (CodeBuild allows 2-150 characters)."""
    return f"{BUILD_PROJECT_PREFIX}{pipeline_id}"


def test_project_name(pipeline_id: str) -> str:
    """The project that runs the pipeline's integration tests against a stage."""
    return f"{BUILD_PROJECT_PREFIX}{pipeline_id}-tests"


#: Step Functions: an execution's name has at most 80 characters
EXECUTION_NAME_MAX = 80


def execution_name(change_id: str, attempt: int = 1) -> str:
    """A change's execution is named after it (so a retried intake starts nothing twice); a
    person's retry of it runs as `<change>-retry-<n>` (names are unique per state machine)."""
    if attempt <= 1:
        return change_id[:EXECUTION_NAME_MAX]
    suffix = f"-retry-{attempt}"
    return change_id[: EXECUTION_NAME_MAX - len(suffix)] + suffix


def is_execution(execution: str, name: str) -> bool:
    """Whether an execution's ARN (or bare name) is the execution named `name`."""
    return execution == name or execution.endswith(f":{name}")


#: the execution input's field a person's retry names where the run starts (absent: a
#: merge's run, from the review)
START_AT = "start_at"
