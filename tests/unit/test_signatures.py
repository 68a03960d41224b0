"""The request signature check, against the test values GitHub publishes."""

from __future__ import annotations

import pytest

from domain.signatures import is_signed, signature

# GitHub Docs, "Validating webhook deliveries", "Testing the webhook payload validation":
# secret "It's a Secret to Everybody", payload "Hello, World!", and this signature.
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_PAYLOAD = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_githubs_published_example_is_signed() -> None:
    assert signature(GITHUB_SECRET, GITHUB_PAYLOAD) == GITHUB_SIGNATURE
    assert is_signed(GITHUB_SECRET, GITHUB_PAYLOAD, GITHUB_SIGNATURE)


@pytest.mark.parametrize(
    ("secret", "body", "header"),
    [
        (GITHUB_SECRET, b"Hello, World?", GITHUB_SIGNATURE),  # another body
        ("another secret", GITHUB_PAYLOAD, GITHUB_SIGNATURE),  # another secret
        (GITHUB_SECRET, GITHUB_PAYLOAD, None),  # unsigned
        (GITHUB_SECRET, GITHUB_PAYLOAD, ""),
        (GITHUB_SECRET, GITHUB_PAYLOAD, GITHUB_SIGNATURE.removeprefix("sha256=")),  # no scheme
        (GITHUB_SECRET, GITHUB_PAYLOAD, "sha1=" + "0" * 40),  # the retired SHA-1 header
        ("", GITHUB_PAYLOAD, signature("", GITHUB_PAYLOAD)),  # no secret: nothing is signed
    ],
)
def test_anything_else_is_not_signed(secret: str, body: bytes, header: str | None) -> None:
    assert not is_signed(secret, body, header)
