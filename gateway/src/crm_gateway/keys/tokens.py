"""The shape of an API key, `crm_<id>_<secret>`, and how its secret is kept."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "crm_"
_KEY = re.compile(r"^crm_([0-9a-f]{12})_([A-Za-z0-9_\-]{32,128})$")


@dataclass(frozen=True)
class NewKey:
    key_id: str
    token: str
    secret_sha256: str


def new_key() -> NewKey:
    """A fresh key: a public id to find it by and 256 random bits only its holder knows."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, f"{PREFIX}{key_id}_{secret}", digest(secret))


def parse(token: str) -> tuple[str, str] | None:
    """The id and secret of a well-formed key, else None."""
    match = _KEY.match(token)
    return (match[1], match[2]) if match else None


def digest(secret: str) -> str:
    # The secret is random and long: a fast hash is enough, no password stretching needed.
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, secret_sha256: str) -> bool:
    return hmac.compare_digest(digest(secret), secret_sha256)
