"""Whether a request is signed with the shared secret, by GitHub's webhook scheme: the
`X-Hub-Signature-256` header is "sha256=" and the hex HMAC-SHA256 of the raw body, keyed with
the secret (GitHub Docs, "Validating webhook deliveries"). Compared in constant time; with no
secret or no header nothing is signed."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "x-hub-signature-256"
_PREFIX = "sha256="


def signature(secret: str, body: bytes) -> str:
    return _PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_signed(secret: str, body: bytes, header: str | None) -> bool:
    if not secret or not header or not header.startswith(_PREFIX):
        return False
    return hmac.compare_digest(signature(secret, body), header.strip())
