"""Where each region's copy of an artifact is, and what vouches for an image."""

from __future__ import annotations

import pytest

from domain.artifacts import (
    ArtifactLocationError,
    artifact_bucket,
    digest_vouches,
    regional_copy,
    s3_location,
)
from domain.events import Artifact

SUM = "sha256:" + "ab" * 32


def artifact(uri: str) -> Artifact:
    return Artifact(version="v2", checksum=SUM, uri=uri)


def test_a_region_deploys_the_same_key_from_its_own_shipwave_bucket() -> None:
    home = artifact(f"s3://{artifact_bucket('111122223333', 'us-east-1')}/orders/v2.zip")
    copy = regional_copy(home, "ap-southeast-3")
    assert copy.uri == "s3://shipwave-artifacts-111122223333-ap-southeast-3/orders/v2.zip"
    assert (copy.version, copy.checksum) == (home.version, home.checksum)
    assert regional_copy(home, "us-east-1") == home
    assert regional_copy(copy, "us-east-1") == home


@pytest.mark.parametrize(
    "uri",
    [
        "s3://my-team-bucket/orders/v2.zip",
        "s3://shipwave-artifacts-1111-us-east-1/orders/v2.zip",  # not an account id
        "s3://shipwave-artifacts-111122223333/orders/v2.zip",  # no region
    ],
)
def test_an_s3_artifact_outside_the_shipwave_buckets_has_no_known_copies(uri: str) -> None:
    with pytest.raises(ArtifactLocationError, match="not in a shipwave artifact bucket"):
        regional_copy(artifact(uri), "eu-west-1")


@pytest.mark.parametrize("uri", ["s3://", "s3://bucket", "s3://bucket/"])
def test_an_s3_uri_without_an_object_is_refused(uri: str) -> None:
    with pytest.raises(ArtifactLocationError, match="names no S3 object"):
        s3_location(artifact(uri))


def test_an_image_by_digest_is_the_same_everywhere_and_vouched_for_by_its_digest() -> None:
    image = artifact(f"111122223333.dkr.ecr.us-east-1.amazonaws.com/orders@{SUM}")
    assert regional_copy(image, "eu-west-1") == image
    assert digest_vouches(image) is True
    other = Artifact(version="v2", checksum="sha256:" + "cd" * 32, uri=image.uri)
    assert digest_vouches(other) is False
    assert digest_vouches(artifact("111122223333.dkr.ecr.us-east-1.amazonaws.com/orders:v2")) is (
        None
    )
    assert digest_vouches(artifact("s3://b/k")) is None
