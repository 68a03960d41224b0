"""AWS errors as shipwave's own: which failures may pass if tried again."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

from domain.errors import DeployTargetError, TransientDeployError

#: error codes AWS documents as throttling or service-side (retryable) failures
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ServiceException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServerError",
        "InternalError",
        "ResourceConflictException",  # Lambda: an update of the function is still in progress
    }
)


def is_transient(error: BaseException) -> bool:
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code", "") in TRANSIENT_CODES
    return isinstance(error, ConnectionError | ReadTimeoutError)


def deploy_error(error: ClientError | BotoCoreError, message: str) -> DeployTargetError:
    """The DeployTargetError (transient or not) to raise for an AWS failure."""
    kind = TransientDeployError if is_transient(error) else DeployTargetError
    return kind(message)
