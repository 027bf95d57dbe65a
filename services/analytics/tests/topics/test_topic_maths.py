"""The topic maths on planted text: keywords find the planted words, planted complaint
themes are grouped apart, rising ratings give a positive slope."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pandas as pd

from crm_analytics.topics import keywords as kw
from crm_analytics.topics import trends
from crm_analytics.topics.pipeline import TopicParameters, compute_topics, segment_keywords

AS_OF = dt.date(2026, 6, 30)
FILLER = ["product", "order", "really", "quite", "bought", "week", "overall", "time", "got"]


def _sentence(rng: random.Random, theme: list[str], words: int = 8) -> str:
    picked = rng.sample(theme, 3) + rng.sample(FILLER, 4)
    rng.shuffle(picked)
    return " ".join(picked[:words])


def _reviews(rng: random.Random) -> pd.DataFrame:
    themes = {
        "kettle": ["boils", "quickly", "spout", "limescale", "whistle"],
        "jacket": ["waterproof", "zipper", "hood", "warm", "sleeves"],
        "lamp": ["bright", "dimmer", "bulb", "glow", "cozy"],
    }
    rows = []
    for product, theme in themes.items():
        for i in range(12):
            rows.append(
                {
                    "id": f"{product}-{i}",
                    "customer_id": f"c-{product}-{i % 4}",
                    "product_id": product,
                    "rating": 4,
                    "review_text": _sentence(rng, theme),
                    "occurred_at": pd.Timestamp("2026-05-01", tz="UTC"),
                }
            )
    return pd.DataFrame(rows)


def test_product_keywords_find_the_planted_words() -> None:
    reviews = _reviews(random.Random(7))
    result = compute_topics(reviews, _no_tickets(), TopicParameters(as_of=AS_OF, keywords=8))
    products = {row["product_id"]: row for row in result.products}
    assert set(products) == {"kettle", "jacket", "lamp"}
    planted = {
        "kettle": {"boils", "quickly", "spout", "limescale", "whistle"},
        "jacket": {"waterproof", "zipper", "hood", "warm", "sleeves"},
        "lamp": {"bright", "dimmer", "bulb", "glow", "cozy"},
    }
    for product, words in planted.items():
        found = [keyword["term"] for keyword in products[product]["keywords"]]
        # The planted words lead; words every product's reviews share come after them.
        assert set(found[:3]) <= words, (product, found)
        assert words <= set(found), (product, found)
        scores = [keyword["score"] for keyword in products[product]["keywords"]]
        assert scores == sorted(scores, reverse=True)
        assert products[product]["reviews"] == 12


def test_segment_keywords_come_from_the_members_reviews() -> None:
    reviews = _reviews(random.Random(11))
    result = compute_topics(reviews, _no_tickets(), TopicParameters(as_of=AS_OF, keywords=5))
    assert result.reviewers is not None
    memberships = pd.DataFrame(
        {
            "segment_id": ["outdoor"] * 4 + ["home"] * 8 + ["nobody"],
            "customer_id": [f"c-jacket-{i}" for i in range(4)]
            + [f"c-kettle-{i}" for i in range(4)]
            + [f"c-lamp-{i}" for i in range(4)]
            + ["c-never-reviewed"],
        }
    )
    found = {row["segment_id"]: row for row in segment_keywords(result.reviewers, memberships, 8)}
    assert set(found) == {"outdoor", "home"}
    jacket = {"waterproof", "zipper", "hood", "warm", "sleeves"}
    kettle = {"boils", "quickly", "spout", "limescale", "whistle"}
    lamp = {"bright", "dimmer", "bulb", "glow", "cozy"}
    outdoor = [keyword["term"] for keyword in found["outdoor"]["keywords"]]
    assert set(outdoor[:3]) <= jacket, outdoor
    assert jacket <= set(outdoor), outdoor
    assert (found["outdoor"]["reviews"], found["outdoor"]["reviewers"]) == (12, 4)
    home = {keyword["term"] for keyword in found["home"]["keywords"]}
    assert not home & jacket
    assert home & kettle, home
    assert home & lamp, home
    assert found["home"]["reviews"] == 24


def _no_tickets() -> pd.DataFrame:
    return pd.DataFrame(columns=["id", "kind", "subject", "body", "created_at"])


def test_two_planted_complaint_themes_are_grouped_apart() -> None:
    rng = random.Random(3)
    late = ["parcel", "courier", "delivery", "late", "tracking", "arrived"]
    charged = ["refund", "charged", "twice", "card", "payment", "money"]
    texts: list[str] = []
    themes: list[str] = []
    for i in range(30):
        theme, name = (late, "late") if i % 2 else (charged, "charged")
        texts.append(_sentence(rng, theme))
        themes.append(name)
    texts.append("the the and of")  # no word left once stop words go
    groups = kw.group_similar(texts, min_similarity=0.2, min_size=2, top=4, max_terms=1000)
    assert len(groups) == 2
    for group in groups:
        assert len({themes[i] for i in group.members}) == 1
        assert len(group.members) == 15
        theme = late if themes[group.members[0]] == "late" else charged
        assert {keyword.term for keyword in group.keywords} <= set(theme)
    assert len(texts) - 1 not in {i for group in groups for i in group.members}


def test_ticket_groups_per_kind_with_examples_most_central_first() -> None:
    rng = random.Random(5)
    rows = []
    for i in range(10):
        rows.append(
            {
                "id": f"t{i:02d}",
                "kind": "complaint" if i < 6 else "feedback",
                "subject": "Parcel late" if i < 6 else "Lovely packaging",
                "body": _sentence(
                    rng,
                    ["courier", "delivery", "tracking", "arrived"]
                    if i < 6
                    else ["packaging", "ribbon", "gift", "wrapped"],
                ),
                "created_at": pd.Timestamp("2026-06-01", tz="UTC") + pd.Timedelta(hours=i),
            }
        )
    tickets = pd.DataFrame(rows)
    parameters = TopicParameters(as_of=AS_OF, ticket_similarity=0.2)
    empty_reviews = pd.DataFrame(
        columns=["id", "customer_id", "product_id", "rating", "review_text", "occurred_at"]
    )
    result = compute_topics(empty_reviews, tickets, parameters)
    by_kind = {group["kind"]: group for group in result.ticket_groups}
    assert sorted(by_kind["complaint"]["ticket_ids"]) == [f"t{i:02d}" for i in range(6)]
    assert sorted(by_kind["feedback"]["ticket_ids"]) == [f"t{i:02d}" for i in range(6, 10)]
    assert "parcel" in {keyword["term"] for keyword in by_kind["complaint"]["keywords"]}

    limited = compute_topics(
        empty_reviews, tickets, TopicParameters(as_of=AS_OF, ticket_similarity=0.2, ticket_limit=3)
    )
    limited_ids = {i for group in limited.ticket_groups for i in group["ticket_ids"]}
    assert limited_ids <= {"t03", "t04", "t05", "t07", "t08", "t09"}


def test_rising_ratings_give_a_positive_slope() -> None:
    rows = []
    for month, stars in enumerate([2, 2, 3, 3, 4, 5], start=1):
        for day in (3, 17):
            rows.append(("rising", pd.Timestamp(2026, month, day, tz="UTC"), stars))
            rows.append(("falling", pd.Timestamp(2026, month, day, tz="UTC"), 6 - stars))
            rows.append(("steady", pd.Timestamp(2026, month, day, tz="UTC"), 4))
    rows.append(("single", pd.Timestamp(2026, 3, 1, tz="UTC"), 5))
    rows.append(("rising", pd.Timestamp(2026, 8, 1, tz="UTC"), 1))  # after as_of: left out
    ratings = pd.DataFrame(rows, columns=["product_id", "rated_at", "rating"])
    monthly = trends.monthly_ratings(ratings, AS_OF, months=24)
    rising = monthly[monthly["product_id"] == "rising"]
    assert rising["ratings"].tolist() == [2] * 6
    assert rising["average_rating"].tolist() == [2.0, 2.0, 3.0, 3.0, 4.0, 5.0]
    found = trends.slopes(monthly).set_index("product_id")
    expected = np.polyfit(np.arange(6), [2, 2, 3, 3, 4, 5], 1)[0]
    assert (
        found.loc["rising", "slope_per_month"] == np.float64(expected).round(12)
        or abs(found.loc["rising", "slope_per_month"] - expected) < 1e-9
    )
    assert found.loc["rising", "direction"] == "rising"
    assert found.loc["falling", "slope_per_month"] < 0
    assert found.loc["falling", "direction"] == "falling"
    assert found.loc["steady", "direction"] == "flat"
    assert found.loc["single", "direction"] == "unknown"
    assert pd.isna(found.loc["single", "slope_per_month"])

    window = trends.monthly_ratings(ratings, AS_OF, months=3)
    assert sorted(window["month"].unique().tolist()) == [
        2026 * 12 + 3,
        2026 * 12 + 4,
        2026 * 12 + 5,
    ]


def test_text_without_words_gives_no_keywords() -> None:
    matrix = kw.term_matrix(["and the of", "12 34"], max_terms=100)
    assert matrix.rows.shape == (2, 0)
    assert (
        kw.group_similar(["and", "the"], min_similarity=0.1, min_size=2, top=3, max_terms=10) == []
    )
