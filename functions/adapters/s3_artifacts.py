"""Build artifacts in S3: immutable objects whose sha256 is checked before a rollback."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from domain.errors import ArtifactReadError
from domain.events import Artifact
from domain.ports import ArtifactStore

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client


_MISSING = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})


class S3ArtifactStore(ArtifactStore):
    """`verify` streams the object at the artifact's s3:// URI and compares its sha256; a
    missing object or other bytes verify as False (the rollback then fails, recorded); a read
    that fails otherwise (throttled, denied, cut off) raises ArtifactReadError, so the
    rollback tries again rather than call good bytes bad."""

    def __init__(self, *, client: S3Client | None = None) -> None:
        self._client: S3Client = client or boto3.client("s3")

    def verify(self, artifact: Artifact) -> bool:
        parts = urlsplit(artifact.uri)
        if parts.scheme != "s3" or not parts.netloc or not parts.path.strip("/"):
            return False
        digest = hashlib.sha256()
        try:
            body = self._client.get_object(Bucket=parts.netloc, Key=parts.path.lstrip("/"))["Body"]
            for chunk in iter(lambda: body.read(1 << 20), b""):
                digest.update(chunk)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING:
                return False
            raise ArtifactReadError(f"{artifact.uri}: {error}") from None
        except BotoCoreError as error:
            raise ArtifactReadError(f"{artifact.uri}: {error}") from None
        return f"sha256:{digest.hexdigest()}" == artifact.checksum
