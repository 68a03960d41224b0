"""Where an artifact's bytes are in each region, and what vouches for them.

A Lambda function's code can be updated only from an S3 bucket in the function's own region,
so each target region keeps its own copy of every S3 artifact: the same key in that region's
shipwave artifact bucket, `shipwave-artifacts-<account>-<region>`. The build uploads to the
home region's bucket; the deploy step copies the object into the target region before it
deploys it there and verifies the copy's sha256 (a copy is never trusted unread).

A container image named by digest (`...@sha256:<hex>`) carries its own checksum: the registry
serves those bytes or none, so the digest in its address vouches for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from domain.errors import DeployTargetError
from domain.events import Artifact

BUCKET_PREFIX = "shipwave-artifacts"
_BUCKET = re.compile(
    rf"^{BUCKET_PREFIX}-(?P<account>\d{{12}})-(?P<region>[a-z]{{2}}(-[a-z]+)+-\d+)$"
)
_DIGEST = re.compile(r"@(?P<digest>sha256:[0-9a-f]{64})$")


class ArtifactLocationError(DeployTargetError):
    """The artifact is not where shipwave can find its copies: it cannot be deployed."""


def artifact_bucket(account: str, region: str) -> str:
    return f"{BUCKET_PREFIX}-{account}-{region}"


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def s3_location(artifact: Artifact) -> S3Location | None:
    """The artifact's S3 object, or None when it is not an S3 artifact."""
    parts = urlsplit(artifact.uri)
    if parts.scheme != "s3":
        return None
    key = parts.path.lstrip("/")
    if not parts.netloc or not key:
        raise ArtifactLocationError(f"{artifact.version}: {artifact.uri!r} names no S3 object")
    return S3Location(parts.netloc, key)


def regional_copy(artifact: Artifact, region: str) -> Artifact:
    """The artifact as it is stored in `region`. An S3 artifact must be in a shipwave
    artifact bucket (else where its regional copies are cannot be told: refused); anything
    else (an image by digest) is the same everywhere."""
    location = s3_location(artifact)
    if location is None:
        return artifact
    match = _BUCKET.match(location.bucket)
    if match is None:
        raise ArtifactLocationError(
            f"{artifact.version}: {artifact.uri!r} is not in a shipwave artifact bucket "
            f"({BUCKET_PREFIX}-<account>-<region>): its copy in {region} cannot be found"
        )
    bucket = artifact_bucket(match.group("account"), region)
    return replace(artifact, uri=S3Location(bucket, location.key).uri)


def digest_vouches(artifact: Artifact) -> bool | None:
    """For an image by digest: whether its digest is the artifact's checksum. None for an
    artifact whose bytes must be read to be verified."""
    match = _DIGEST.search(artifact.uri)
    if match is None:
        return None
    return match.group("digest") == artifact.checksum
