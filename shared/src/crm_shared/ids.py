"""Time-ordered UUIDs (RFC 9562 version 7): ids that sort by creation, for stable keyset pages."""

from __future__ import annotations

import os
import time
import uuid

_last_ms = 0
_last_rand = 0


def uuid7() -> uuid.UUID:
    """A UUIDv7; strictly increasing within this process even inside one millisecond."""
    global _last_ms, _last_rand
    now_ms = time.time_ns() // 1_000_000
    if now_ms <= _last_ms:
        now_ms = _last_ms
        rand = _last_rand + 1
    else:
        rand = int.from_bytes(os.urandom(10), "big") >> 6  # 74 random bits
    _last_ms, _last_rand = now_ms, rand
    rand_a = (rand >> 62) & 0xFFF
    rand_b = rand & ((1 << 62) - 1)
    value = (now_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= rand_a << 64
    value |= 0b10 << 62
    value |= rand_b
    return uuid.UUID(int=value)
