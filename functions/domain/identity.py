"""Who acts on a pipeline: the caller's identity, never a name typed after a flag.

On AWS the operator endpoint (a Function URL with AWS_IAM auth) hands the handler the IAM
principal that signed the request; the pipeline lists, as patterns, the principals that may
act on it (`operators`). Locally, the identity is the OS user, shown as `local:<user>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

from domain.errors import ShipwaveError
from domain.spec import PipelineSpec

#: an IAM user or role, or an assumed role's session (what SigV4 authorization names)
_IAM_ARN = re.compile(r"arn:aws[a-z-]*:(iam|sts)::\d{12}:[A-Za-z0-9+=,.@_/-]+")


class NotAnOperatorError(ShipwaveError):
    """The caller may not act on this pipeline."""


class IdentityError(ShipwaveError):
    """The caller's identity is missing or malformed: nobody acts anonymously."""


@dataclass(frozen=True)
class Principal:
    name: str  # "arn:aws:sts::123456789012:assumed-role/oncall/ana" or "local:ana"
    kind: Literal["iam", "local"]

    def __str__(self) -> str:
        return self.name

    @property
    def person(self) -> str:
        """Who this is, as a pipeline names people (its emergency approvers, the authors of
        commits): the OS user; an IAM user's name; an assumed role's session name (SSO sets
        it to the person's user name)."""
        if self.kind == "local":
            return self.name.removeprefix("local:")
        return self.name.rsplit("/", 1)[-1]


def iam_principal(arn: object) -> Principal:
    if not isinstance(arn, str) or not _IAM_ARN.fullmatch(arn):
        raise IdentityError(f"the request carries no IAM principal (got {arn!r})")
    return Principal(arn, "iam")


def local_user(user: str) -> Principal:
    if not user.strip():
        raise IdentityError("the OS user is unknown")
    return Principal(f"local:{user.strip()}", "local")


def authorize(spec: PipelineSpec, principal: Principal) -> None:
    """An IAM principal must match one of the pipeline's operator patterns; a local user
    acts on a local log, which the OS user owns anyway."""
    if principal.kind == "local":
        return
    if not any(fnmatchcase(principal.name, pattern) for pattern in spec.operators):
        raise NotAnOperatorError(
            f"{principal.name} may not act on pipeline {spec.pipeline_id!r}: its operators are "
            f"{list(spec.operators) or '(none listed)'}"
        )
