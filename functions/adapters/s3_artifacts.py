"""Build artifacts in S3: immutable objects, one copy per target region, each copy's sha256
checked before it is deployed and before every rollback (domain/artifacts.py says where)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from adapters.aws_errors import deploy_error
from domain.artifacts import S3Location, digest_vouches, regional_copy, s3_location
from domain.errors import ArtifactReadError, DeployTargetError, TransientDeployError
from domain.events import Artifact
from domain.ports import ArtifactStore

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

#: (environment, region) → an S3 client in that region, through its deploy role
S3ClientFactory = Callable[[str, str], "S3Client"]

_MISSING = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})


class S3ArtifactStore(ArtifactStore):
    """`verify` streams the region's copy and compares its sha256; a missing copy or other
    bytes verify as False (the rollback then fails, recorded); a read that fails otherwise
    (throttled, denied, cut off) raises ArtifactReadError, so the rollback tries again rather
    than call good bytes bad. `copy_into` puts the home object into a target region before it
    is deployed there, and verifies the copy."""

    def __init__(self, clients: S3ClientFactory) -> None:
        self._clients = clients

    def verify(self, artifact: Artifact, environment: str, region: str) -> bool:
        vouched = digest_vouches(artifact)
        if vouched is not None:
            return vouched
        location = s3_location(regional_copy(artifact, region))
        if location is None:
            return False  # neither an S3 object nor an image by digest: nothing vouches
        return self._sha256(self._clients(environment, region), location) == artifact.checksum

    def copy_into(self, artifact: Artifact, environment: str, region: str) -> Artifact:
        """The artifact's copy in `region`, verified: copied from the home bucket unless a
        copy with the artifact's bytes is already there."""
        source = s3_location(artifact)
        copy = regional_copy(artifact, region)
        target = s3_location(copy)
        if source is None or target is None:
            return artifact
        client = self._clients(environment, region)
        digest = self._sha256(client, target)
        if target != source and digest != artifact.checksum:
            try:
                client.copy_object(
                    Bucket=target.bucket,
                    Key=target.key,
                    CopySource={"Bucket": source.bucket, "Key": source.key},
                )
            except (ClientError, BotoCoreError) as error:
                raise deploy_error(
                    error, f"{artifact.version}: copy to {target.uri} failed ({error})"
                ) from None
            digest = self._sha256(client, target)  # the copy, read back
        if digest is None:
            raise TransientDeployError(f"{artifact.version}: {target.uri} is not readable yet")
        if digest != artifact.checksum:
            raise DeployTargetError(
                f"{artifact.version}: the copy {target.uri} hashes to {digest}, "
                f"not {artifact.checksum}"
            )
        return copy

    @staticmethod
    def _sha256(client: S3Client, location: S3Location) -> str | None:
        """The object's sha256 as an artifact checksum; None when it is not there."""
        digest = hashlib.sha256()
        try:
            body = client.get_object(Bucket=location.bucket, Key=location.key)["Body"]
            for chunk in iter(lambda: body.read(1 << 20), b""):
                digest.update(chunk)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise ArtifactReadError(f"{location.uri}: {error}") from None
        except BotoCoreError as error:
            raise ArtifactReadError(f"{location.uri}: {error}") from None
        return f"sha256:{digest.hexdigest()}"
