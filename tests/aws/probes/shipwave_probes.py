"""Entry points the harness runs inside a function's runtime (its asset, layers and
credentials) to drive one adapter path the way that function's handler would."""

from typing import Any

from adapters.aws_session import DeployRoles, aws_target
from adapters.pipeline_specs import ParameterSpecs
from adapters.s3_artifacts import S3ArtifactStore
from domain.events import Artifact


def copy_into(event: dict[str, Any], context: object) -> dict[str, Any]:
    """What the deploy step does before a Lambda target's one-box in a region, and what a
    rollback checks: the artifact's copy there, through that region's deploy role."""
    store = S3ArtifactStore(DeployRoles().s3_client)
    artifact = Artifact(**event["artifact"])
    copy = store.copy_into(artifact, event["environment"], event["region"])
    verified = store.verify(artifact, event["environment"], event["region"])
    return {"uri": copy.uri, "verified": verified}


def one_box(event: dict[str, Any], context: object) -> dict[str, Any]:
    """What the deploy step does for a Lambda target's one-box: the pipeline's spec from
    Parameter Store, the target reached through the team's deploy role of the region."""
    spec = ParameterSpecs()[event["pipeline_id"]]
    target = aws_target(spec, DeployRoles())
    result = target.one_box(
        event["environment"], event["scope"], Artifact(**event["artifact"]), event["percent"]
    )
    return {"fleet_percent_on_new": result.fleet_percent_on_new, "done": result.done}
