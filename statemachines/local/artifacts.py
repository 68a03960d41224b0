"""The local runtime's artifact store: S3's naming on a folder.

Artifacts keep their S3 address (`s3://shipwave-artifacts-<account>-<region>/<key>`), so the
build's report and the deploy steps read exactly as on AWS; the bytes live under
`<root>/<bucket>/<key>`. One folder serves every region here: each region's copy is the home
object. An object is written once (as under S3 Object Lock): writing a key again refuses.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

from domain.artifacts import S3Location, s3_location
from domain.errors import ArtifactReadError
from domain.events import Artifact
from domain.ports import ArtifactStore


class ArtifactExistsError(ArtifactReadError):
    """An artifact's key was written before: artifacts are immutable."""


class LocalArtifactStore(ArtifactStore):
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, location: S3Location) -> Path:
        return self.root / location.bucket / location.key

    def put(self, location: S3Location, content: bytes) -> str:
        """Store the bytes once; returns their sha256 (hex)."""
        target = self.path(location)
        if target.exists():
            raise ArtifactExistsError(f"{location.uri} exists: artifacts are written once")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(content)
        partial.rename(target)
        return hashlib.sha256(content).hexdigest()

    def verify(self, artifact: Artifact, environment: str, region: str) -> bool:
        location = s3_location(artifact)
        if location is None:
            return False  # not an artifact of this store: nothing vouches for it
        try:
            content = self.path(location).read_bytes()
        except FileNotFoundError:
            return False
        except OSError as error:
            raise ArtifactReadError(f"{location.uri}: unreadable ({error})") from None
        return f"sha256:{hashlib.sha256(content).hexdigest()}" == artifact.checksum

    def unpack(self, artifact: Artifact, into: Path) -> None:
        """Unpack the artifact's zip into `into`, once its bytes hash to its checksum (a copy
        that is not the artifact is never served)."""
        location = s3_location(artifact)
        if location is None:
            raise ArtifactReadError(f"{artifact.uri!r} is not in the local artifact store")
        try:
            content = self.path(location).read_bytes()
        except OSError as error:
            raise ArtifactReadError(f"{location.uri}: unreadable ({error})") from None
        digest = f"sha256:{hashlib.sha256(content).hexdigest()}"
        if digest != artifact.checksum:
            raise ArtifactReadError(
                f"{location.uri} hashes to {digest}, not {artifact.checksum}: not served"
            )
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            archive.extractall(into)
