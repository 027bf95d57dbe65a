"""Match keys that make likely duplicates meet: canonical email, phone, name and address.

Keys are hashes, never the personal data itself, so a key in an index, a cursor or a
log line reveals nothing.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_GMAIL = frozenset({"gmail.com", "googlemail.com"})
_NON_ALNUM = re.compile(r"[^a-z0-9]")


def email_key(email: str | None) -> str | None:
    """`Jo.Doe+shop@googlemail.com` and `jodoe@gmail.com` reach the same inbox."""
    if not email:
        return None
    local, _, domain = email.lower().partition("@")
    local = local.split("+", 1)[0]
    if domain in _GMAIL:
        local, domain = local.replace(".", ""), "gmail.com"
    return _digest(f"{local}@{domain}")


def phone_key(phone: str | None) -> str | None:
    """The last nine digits: the same number written with or without a country prefix."""
    if not phone:
        return None
    digits = re.sub(r"\D", "", phone)
    return _digest(digits[-9:]) if len(digits) >= 6 else None


def _fold(text: str | None) -> str:
    if not text:
        return ""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NON_ALNUM.sub("", ascii_text.lower())


def name_address_key(
    first_name: str | None,
    last_name: str | None,
    postal_code: str | None,
    address_line1: str | None,
) -> str | None:
    """Same person at the same address, ignoring case, accents, spaces and punctuation."""
    parts = [_fold(first_name), _fold(last_name), _fold(postal_code), _fold(address_line1)]
    if not all(parts):
        return None
    return _digest("|".join(parts))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]
