"""Review and feedback topics of one run, from the copies' reviews, ratings and tickets.

Pure: DataFrames in, plain rows out. Runs on the scoring worker, off the event loop.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from crm_analytics.topics import keywords as kw
from crm_analytics.topics import trends

REVIEW_COLUMNS = ["id", "customer_id", "product_id", "rating", "review_text", "occurred_at"]
TICKET_COLUMNS = ["id", "kind", "subject", "body", "created_at"]
TICKET_KINDS = ("complaint", "feedback")


@dataclass(frozen=True)
class TopicParameters:
    as_of: dt.date
    keywords: int = 10
    max_terms: int = 20_000
    trend_months: int = 24
    ticket_similarity: float = 0.1
    ticket_min_group: int = 2
    ticket_limit: int = 2000
    examples: int = 3


@dataclass(frozen=True)
class ReviewerTerms:
    """Per reviewer (customer id as text) the sum of their reviews' TF-IDF rows and the
    number of reviews: what segment keywords are computed from once memberships exist."""

    customer_ids: list[str]
    sums: sp.csr_matrix
    counts: npt.NDArray[np.int64]
    terms: npt.NDArray[np.str_]


@dataclass(frozen=True)
class TopicsResult:
    products: list[dict[str, Any]] = field(default_factory=list)
    ticket_groups: list[dict[str, Any]] = field(default_factory=list)
    reviewers: ReviewerTerms | None = None
    fit: dict[str, Any] = field(default_factory=dict)


def _keywords(found: Sequence[kw.Keyword]) -> list[dict[str, Any]]:
    return [dataclasses.asdict(keyword) for keyword in found]


def _until(as_of: dt.date) -> pd.Timestamp:
    return pd.Timestamp(as_of, tz="UTC") + pd.Timedelta(days=1)


def _month_label(month: int) -> str:
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def product_topics(
    reviews: pd.DataFrame, parameters: TopicParameters
) -> tuple[list[dict[str, Any]], ReviewerTerms | None]:
    """Per product: its keywords against the whole review corpus, its ratings and their
    monthly trend; and the reviewers' term sums for segment keywords."""
    reviews = reviews[pd.to_datetime(reviews["occurred_at"], utc=True) < _until(parameters.as_of)]
    rated = reviews[reviews["rating"].notna()]
    ratings = pd.DataFrame(
        {
            "product_id": rated["product_id"],
            "rated_at": rated["occurred_at"],
            "rating": rated["rating"].astype(np.float64),
        }
    )
    monthly = trends.monthly_ratings(ratings, parameters.as_of, parameters.trend_months)
    slopes = trends.slopes(monthly).set_index("product_id")
    overall = ratings.groupby("product_id")["rating"].agg(["count", "mean"])

    written = reviews[reviews["review_text"].notna()].reset_index(drop=True)
    matrix = kw.term_matrix(written["review_text"].tolist(), parameters.max_terms)
    products = pd.Index(pd.unique(written["product_id"]))
    product_rows = products.get_indexer(written["product_id"]).astype(np.int64)
    sums, counts = kw.group_sums(
        matrix.rows, product_rows, np.arange(len(written), dtype=np.int64), len(products)
    )
    keywords = dict(
        zip(products, kw.top_terms(sums, counts, matrix.terms, parameters.keywords), strict=True)
    )
    written_counts = dict(zip(products, counts.tolist(), strict=True))

    months_of: dict[str, list[dict[str, Any]]] = {}
    for product_id, month, count, average in zip(
        monthly["product_id"],
        monthly["month"],
        monthly["ratings"],
        monthly["average_rating"],
        strict=True,
    ):
        months_of.setdefault(str(product_id), []).append(
            {
                "month": _month_label(int(month)),
                "ratings": int(count),
                "average_rating": round(float(average), 4),
            }
        )
    slope_of = dict(
        zip(
            slopes.index,
            zip(slopes["slope_per_month"], slopes["direction"], strict=True),
            strict=True,
        )
    )
    rating_counts = overall["count"].to_dict()
    rating_means = overall["mean"].to_dict()
    rows: list[dict[str, Any]] = []
    for product_id in sorted({*products, *overall.index}, key=str):
        slope, direction = slope_of.get(product_id, (None, "unknown"))
        mean = rating_means.get(product_id)
        rows.append(
            {
                "product_id": str(product_id),
                "reviews": int(written_counts.get(product_id, 0)),
                "ratings": int(rating_counts.get(product_id, 0)),
                "average_rating": None if mean is None else round(float(mean), 4),
                "keywords": _keywords(keywords.get(product_id, [])),
                "trend": months_of.get(str(product_id), []),
                "slope_per_month": (
                    None if slope is None or pd.isna(slope) else round(float(slope), 6)
                ),
                "direction": str(direction),
            }
        )

    by_customer = written[written["customer_id"].notna()]
    reviewers = pd.Index(pd.unique(by_customer["customer_id"]))
    customer_sums, customer_counts = kw.group_sums(
        matrix.rows,
        reviewers.get_indexer(by_customer["customer_id"]).astype(np.int64),
        by_customer.index.to_numpy(dtype=np.int64),
        len(reviewers),
    )
    reviewer_terms = ReviewerTerms(
        [str(customer) for customer in reviewers], customer_sums, customer_counts, matrix.terms
    )
    return rows, reviewer_terms


def ticket_groups(tickets: pd.DataFrame, parameters: TopicParameters) -> list[dict[str, Any]]:
    """Groups of similar tickets of each kind, among the latest `ticket_limit` of it."""
    created = pd.to_datetime(tickets["created_at"], utc=True)
    tickets = tickets[created < _until(parameters.as_of)]
    found: list[dict[str, Any]] = []
    for kind in TICKET_KINDS:
        of_kind = tickets[tickets["kind"] == kind]
        latest = of_kind.sort_values(["created_at", "id"]).tail(parameters.ticket_limit)
        texts = (latest["subject"].fillna("") + ". " + latest["body"].fillna("")).tolist()
        ids = latest["id"].astype(str).tolist()
        for group in kw.group_similar(
            texts,
            min_similarity=parameters.ticket_similarity,
            min_size=parameters.ticket_min_group,
            top=parameters.keywords,
            max_terms=parameters.max_terms,
        ):
            found.append(
                {
                    "kind": kind,
                    "ticket_ids": [ids[i] for i in group.members],
                    "keywords": _keywords(group.keywords),
                }
            )
    return found


def compute_topics(
    reviews: pd.DataFrame, tickets: pd.DataFrame, parameters: TopicParameters
) -> TopicsResult:
    products, reviewers = product_topics(reviews, parameters)
    groups = ticket_groups(tickets, parameters)
    fit = {
        "reviews": int(reviews["review_text"].notna().sum()),
        "ratings": int(reviews["rating"].notna().sum()),
        "products": len(products),
        "vocabulary": 0 if reviewers is None else len(reviewers.terms),
        "tickets": len(tickets),
        "ticket_groups": len(groups),
    }
    return TopicsResult(products, groups, reviewers, fit)


def segment_keywords(
    reviewers: ReviewerTerms, memberships: pd.DataFrame, top: int
) -> list[dict[str, Any]]:
    """Per segment (`memberships`: `segment_id`, `customer_id` as text) the keywords of
    its members' reviews, with how many reviews and reviewers they come from."""
    if memberships.empty or not reviewers.customer_ids:
        return []
    index = pd.Index(reviewers.customer_ids)
    position = index.get_indexer(memberships["customer_id"].astype(str))
    members = memberships[position >= 0]
    position = position[position >= 0].astype(np.int64)
    if members.empty:
        return []
    segments = pd.Index(pd.unique(members["segment_id"]))
    segment_rows = segments.get_indexer(members["segment_id"]).astype(np.int64)
    indicator = sp.csr_matrix(
        (np.ones(len(position)), (segment_rows, position)),
        shape=(len(segments), len(index)),
    )
    sums = sp.csr_matrix(indicator @ reviewers.sums)
    review_counts = np.asarray(indicator @ reviewers.counts, dtype=np.int64).ravel()
    reviewer_counts = np.bincount(segment_rows, minlength=len(segments))
    found = kw.top_terms(sums, review_counts, reviewers.terms, top)
    return [
        {
            "segment_id": str(segment),
            "reviews": int(review_counts[i]),
            "reviewers": int(reviewer_counts[i]),
            "keywords": _keywords(found[i]),
        }
        for i, segment in enumerate(segments)
    ]
