"""A deterministic synthetic shop for demos, tests and benchmarks.

The same seed always gives the same shop. Customers come in planted groups (country,
locale, tags, consent rates) so tests can assert that the structure is found again.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

FIRST_NAMES = (
    "Ada Alan Amara Anna Ben Carla Chen Clara David Elena Emil Eva Felix Fatima Grace Hana "
    "Hugo Ines Ivan Jana Jonas Julia Kai Lara Leon Lina Luca Maria Mateo Mia Nina Noah Olga "
    "Omar Paul Priya Rosa Sam Sara Sofia Tom Uma Vera Yusuf Zoe"
).split()
LAST_NAMES = (
    "Adams Bauer Becker Brown Costa Dubois Fischer Garcia Hansen Ito Jensen Kim Klein Kowalski "
    "Lee Lopez Martin Meyer Moreau Muller Nagy Novak Olsen Petit Rossi Santos Schmidt Silva "
    "Smith Tanaka Taylor Wagner Weber Wilson Young Zimmermann"
).split()
STREETS = "Main Street|Oak Avenue|Station Road|Market Square|Lindenweg|Rue de la Paix".split("|")

# Planted groups: where customers live, and how they behave towards marketing.
GROUPS: tuple[dict[str, Any], ...] = (
    {"country": "DE", "locale": "de-DE", "city": "Berlin", "email_consent": 0.7, "weight": 0.35},
    {"country": "FR", "locale": "fr-FR", "city": "Lyon", "email_consent": 0.5, "weight": 0.2},
    {"country": "GB", "locale": "en-GB", "city": "Leeds", "email_consent": 0.6, "weight": 0.25},
    {"country": "US", "locale": "en-US", "city": "Austin", "email_consent": 0.4, "weight": 0.2},
)
TAGS = ("newsletter", "vip", "wholesale", "b2b", "gift-buyer", "student")


def customers(count: int, seed: int = 42) -> Iterator[dict[str, Any]]:
    """`count` customers as CustomerCreate-shaped dicts, each with a unique email and ref."""
    rng = random.Random(seed)
    weights = [group["weight"] for group in GROUPS]
    for n in range(count):
        group = rng.choices(GROUPS, weights)[0]
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        tags = sorted({rng.choice(TAGS) for _ in range(rng.randint(0, 2))})
        yield {
            "external_ref": f"shop-{seed}-{n:07d}",
            "email": f"{first}.{last}.{n}@example.com".lower(),
            "first_name": first,
            "last_name": last,
            "phone": f"+{rng.randint(30, 49)}{rng.randint(100_000_000, 999_999_999)}",
            "address": {
                "line1": f"{rng.randint(1, 200)} {rng.choice(STREETS)}",
                "city": group["city"],
                "postal_code": f"{rng.randint(10_000, 99_999)}",
                "country": group["country"],
            },
            "locale": group["locale"],
            "tags": tags,
            "consents": [
                {
                    "channel": "email",
                    "granted": rng.random() < group["email_consent"],
                    "source": "signup",
                }
            ],
        }
