"""The operator endpoint: a Lambda Function URL with AWS_IAM auth. Every request is signed
with the caller's AWS credentials (SigV4; `shipwave pause|resume|abort|retry --endpoint`); Lambda
checks the signature and hands over the IAM principal that signed it, which is who acts.
The pipeline's `operators` say which principals may act on it.

    POST /pipelines/{pipeline}/pause            {"why": "..."}
    POST /pipelines/{pipeline}/resume           {"why": "..."}
    POST /teams/{team}/pause | /teams/{team}/resume
    POST /pipelines/{pipeline}/changes/{change}/abort
    POST /pipelines/{pipeline}/changes/{change}/retry
    POST /pipelines/{pipeline}/changes/{change}/emergency   {"reason": "...", "bake_factor": 0.25}
    POST /pipelines/{pipeline}/stages/{stage}/changes/{change}/override
                                                {"blocker": "company-alarm", "why": "..."}
    POST /pipelines/{pipeline}/stages/{stage}/rollback   {"version": "v1.0.0", "why": "..."}
    POST /pipelines/{pipeline}/stages/{stage}/unblock    {"why": "..."}

Answers JSON: 200 with what was done; 400 a malformed request, 403 a caller without an IAM
principal or not among the pipeline's operators, 404 an unknown pipeline or team, 409 an act
that does not apply now (already paused, nothing to abort, a change that did not fail);
each says why in `error`.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.utilities.parser.models import LambdaFunctionUrlModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from domain.errors import PipelineNotFoundError, ShipwaveError
from domain.identity import IdentityError, NotAnOperatorError, Principal, iam_principal
from domain.operations import OperatorInputError
from handlers.observability import logger, metrics, tracer
from handlers.runtime import operations

app = LambdaFunctionUrlResolver()


class Act(BaseModel):
    model_config = ConfigDict(extra="forbid")

    why: str = Field(min_length=1, max_length=500)


class Emergency(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)
    bake_factor: float = Field(default=0.25, gt=0, lt=1)


class Override(Act):
    blocker: str = Field(min_length=1, max_length=200)


def _caller() -> Principal:
    """The principal Lambda's IAM auth verified; a request without one is refused (a URL
    deployed without AWS_IAM auth must not let anyone act anonymously)."""
    authorizer = app.current_event.request_context.authorizer
    iam = authorizer.iam if authorizer else None
    return iam_principal(iam.user_arn if iam else None)


def _why() -> str:
    return Act.model_validate(app.current_event.json_body or {}).why


def _done(result: dict[str, Any]) -> dict[str, Any]:
    metrics.add_metric(name="OperatorActions", unit="Count", value=1)
    logger.info("operator action", extra={"result": result})
    return result


@app.post("/pipelines/<pipeline>/pause")
def pause_pipeline(pipeline: str) -> dict[str, Any]:
    return _done(operations().pause(_caller(), _why(), pipeline=pipeline))


@app.post("/pipelines/<pipeline>/resume")
def resume_pipeline(pipeline: str) -> dict[str, Any]:
    return _done(operations().resume(_caller(), _why(), pipeline=pipeline))


@app.post("/teams/<team>/pause")
def pause_team(team: str) -> dict[str, Any]:
    return _done(operations().pause(_caller(), _why(), team=team))


@app.post("/teams/<team>/resume")
def resume_team(team: str) -> dict[str, Any]:
    return _done(operations().resume(_caller(), _why(), team=team))


@app.post("/pipelines/<pipeline>/changes/<change>/abort")
def abort_change(pipeline: str, change: str) -> dict[str, Any]:
    return _done(operations().abort(_caller(), pipeline, change, _why()))


@app.post("/pipelines/<pipeline>/changes/<change>/retry")
def retry_change(pipeline: str, change: str) -> dict[str, Any]:
    return _done(operations().retry(_caller(), pipeline, change, _why()))


@app.post("/pipelines/<pipeline>/changes/<change>/emergency")
def approve_emergency(pipeline: str, change: str) -> dict[str, Any]:
    asked = Emergency.model_validate(app.current_event.json_body or {})
    return _done(
        operations().emergency(_caller(), pipeline, change, asked.reason, asked.bake_factor)
    )


@app.post("/pipelines/<pipeline>/stages/<stage>/changes/<change>/override")
def override_blocker(pipeline: str, stage: str, change: str) -> dict[str, Any]:
    asked = Override.model_validate(app.current_event.json_body or {})
    return _done(
        operations().override(_caller(), pipeline, stage, change, asked.blocker, asked.why)
    )


class Recover(Act):
    version: str = Field(min_length=1, max_length=256)


@app.post("/pipelines/<pipeline>/stages/<stage>/rollback")
def recover_stage(pipeline: str, stage: str) -> dict[str, Any]:
    asked = Recover.model_validate(app.current_event.json_body or {})
    return _done(operations().recover(_caller(), pipeline, stage, asked.version, asked.why))


@app.post("/pipelines/<pipeline>/stages/<stage>/unblock")
def unblock_stage(pipeline: str, stage: str) -> dict[str, Any]:
    return _done(operations().unblock(_caller(), pipeline, stage, _why()))


def _refused(status: int, error: Exception) -> Response[str]:
    logger.warning("operator request refused", extra={"status": status, "error": str(error)})
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps({"error": str(error)}),
    )


#: the answer to each refusal, the most specific kind first (a ShipwaveError no other row
#: names is a failure to act, 503)
REFUSALS: tuple[tuple[type[Exception], int], ...] = (
    (ValidationError, 400),
    (IdentityError, 403),
    (NotAnOperatorError, 403),
    (PipelineNotFoundError, 404),
    (OperatorInputError, 409),
    (ShipwaveError, 503),
)


@app.exception_handler([kind for kind, _ in REFUSALS])  # type: ignore[untyped-decorator]
def _refusal(error: Exception) -> Response[str]:
    status = next(code for kind, code in REFUSALS if isinstance(error, kind))
    return _refused(status, error)


@app.exception_handler(json.JSONDecodeError)  # type: ignore[untyped-decorator]
def _not_json(error: json.JSONDecodeError) -> Response[str]:
    return _refused(400, ValueError(f"the body is not JSON: {error}"))


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    LambdaFunctionUrlModel.model_validate(event)  # a malformed event is refused here, whole
    return app.resolve(event, context)
