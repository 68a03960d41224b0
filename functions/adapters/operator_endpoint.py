"""The CLI's side of the operator endpoint: each request signed with the caller's AWS
credentials (SigV4, service `lambda`, as a Function URL with AWS_IAM auth requires)."""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from domain.errors import ShipwaveError
from domain.identity import IdentityError

#: a Function URL names its region: https://<id>.lambda-url.<region>.on.aws/
_FUNCTION_URL = re.compile(r"[a-z0-9]+\.lambda-url\.([a-z]{2}(-[a-z]+)+-\d)\.on\.aws")


class OperatorRefusedError(ShipwaveError):
    """The endpoint refused the act (its status and reason are the message)."""


class OperatorEndpointError(ShipwaveError):
    """The endpoint could not be reached or answered nonsense."""


def region_of(url: str) -> str | None:
    found = _FUNCTION_URL.fullmatch(urlsplit(url).netloc)
    return found.group(1) if found else None


class OperatorEndpoint:
    def __init__(
        self,
        url: str,
        *,
        region: str | None = None,
        session: botocore.session.Session | None = None,
        timeout: float = 330,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise OperatorEndpointError(f"operator endpoint {url!r} is not an http(s) URL")
        self.url = url.rstrip("/")
        self.session = session or botocore.session.get_session()
        found = (
            region
            or region_of(url)
            or os.environ.get("AWS_REGION")
            or self.session.get_config_variable("region")
        )
        if not found:
            raise OperatorEndpointError(
                f"operator endpoint {url!r}: its region is not in the URL; set AWS_REGION"
            )
        self.region = str(found)
        self.timeout = timeout

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        credentials = self.session.get_credentials()
        if credentials is None:
            raise IdentityError(
                "no AWS credentials: operator acts are signed with yours (aws sso login, "
                "AWS_PROFILE or the environment's keys)"
            )
        data = json.dumps(body).encode()
        request = AWSRequest(
            method="POST",
            url=self.url + path,
            data=data,
            headers={"Content-Type": "application/json"},
        )
        SigV4Auth(credentials.get_frozen_credentials(), "lambda", self.region).add_auth(request)
        prepared = urllib.request.Request(
            self.url + path, data=data, method="POST", headers=dict(request.headers.items())
        )
        try:
            with urllib.request.urlopen(prepared, timeout=self.timeout) as answer:
                return dict(json.loads(answer.read() or b"{}"))
        except urllib.error.HTTPError as error:
            text = error.read().decode(errors="replace")
            try:
                reason = json.loads(text).get("error") or json.loads(text).get("message") or text
            except ValueError:
                reason = text
            raise OperatorRefusedError(f"refused ({error.code}): {reason}") from None
        except (urllib.error.URLError, TimeoutError, ValueError) as error:
            raise OperatorEndpointError(f"operator endpoint {self.url}: {error}") from None
