"""Review keywords on 200,000 reviews and ticket grouping on 2,000 tickets, each beside a
baseline measured in the same run.

A synthetic shop: `CRM_BENCH_TOPIC_REVIEWS` reviews (default 200,000) over 5,000 products
of Zipf-like popularity. Each product has 4 words of its own; a review has 2 of them among
8 words drawn from a shared vocabulary of 2,000 everyday words. 2,000 complaint tickets
come from 20 planted themes of 6 words each, 3 of them per ticket among 10 everyday words.

- keywords: both start from the same TF-IDF fit (timed once, reported). Ours: the mean
  row of every product as one sparse product (`group_sums`), then `top_terms`; baseline:
  the mean row of each product by slicing its rows (a pandas groupby over row indices),
  top terms the same way. Both must agree; the report gives the share of products whose
  4 planted words are their top 4, and the time of the whole product step of a run
  (`product_topics`: fit, keywords, ratings and trends, reviewers' sums).
- grouping, ours: `crm_analytics.topics.keywords.group_similar` (average linkage, cut at
  the run's default similarity); baseline: connected components of the graph of ticket
  pairs at least as similar (the other common recipe). The report gives both times and
  the adjusted Rand index of each against the planted themes.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from sklearn.metrics import adjusted_rand_score

from bench.common import write_result
from crm_analytics.topics import keywords as kw
from crm_analytics.topics.pipeline import TopicParameters, product_topics

REVIEWS = int(os.environ.get("CRM_BENCH_TOPIC_REVIEWS", "200000"))
PRODUCTS = 5000
OWN_WORDS = 4
EVERYDAY = 2000
TICKETS = 2000
THEMES = 20
ROUNDS = 2
PARAMS = TopicParameters(as_of=dt.date(2026, 12, 1))


def _words(random: np.random.Generator, count: int, length: int = 7) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    found: set[str] = set()
    while len(found) < count:
        found.add("".join(random.choice(letters, size=length)))
    return sorted(found)


def synthetic_reviews(seed: int = 2026) -> tuple[pd.DataFrame, dict[str, set[str]]]:
    random = np.random.default_rng(seed)
    vocabulary = _words(random, EVERYDAY + PRODUCTS * OWN_WORDS)
    everyday = np.array(vocabulary[:EVERYDAY])
    own = np.array(vocabulary[EVERYDAY:]).reshape(PRODUCTS, OWN_WORDS)
    popularity = 1.0 / np.arange(1, PRODUCTS + 1) ** 0.8
    product = random.choice(PRODUCTS, size=REVIEWS, p=popularity / popularity.sum())
    picks = random.integers(0, OWN_WORDS, size=(REVIEWS, 2))
    fillers = random.integers(0, EVERYDAY, size=(REVIEWS, 6))
    texts = [" ".join([*own[p][picks[i]], *everyday[fillers[i]]]) for i, p in enumerate(product)]
    reviews = pd.DataFrame(
        {
            "id": np.arange(REVIEWS).astype(str),
            "customer_id": (np.arange(REVIEWS) % (REVIEWS // 3)).astype(str),
            "product_id": [f"p{p}" for p in product],
            "rating": random.integers(1, 6, size=REVIEWS),
            "review_text": texts,
            "occurred_at": pd.Timestamp("2026-06-01", tz="UTC")
            + pd.to_timedelta(random.integers(0, 150, size=REVIEWS), unit="D"),
        }
    )
    planted = {f"p{p}": set(own[p]) for p in np.unique(product)}
    return reviews, planted


def baseline_keywords(
    matrix: kw.TermMatrix, reviews: pd.DataFrame, top: int
) -> dict[str, list[str]]:
    """Per product the top terms of its mean row, one product at a time."""
    found: dict[str, list[str]] = {}
    for product, rows in reviews.groupby("product_id").indices.items():
        mean = np.asarray(matrix.rows[rows].mean(axis=0)).ravel()
        nonzero = np.flatnonzero(mean)
        names = matrix.terms[nonzero]
        order = np.lexsort((names, -mean[nonzero]))[:top]
        found[str(product)] = [str(names[i]) for i in order]
    return found


def our_keywords(matrix: kw.TermMatrix, reviews: pd.DataFrame, top: int) -> dict[str, list[str]]:
    products = pd.Index(pd.unique(reviews["product_id"]))
    sums, counts = kw.group_sums(
        matrix.rows,
        products.get_indexer(reviews["product_id"]).astype(np.int64),
        np.arange(len(reviews), dtype=np.int64),
        len(products),
    )
    found = kw.top_terms(sums, counts, matrix.terms, top)
    return {
        str(product): [keyword.term for keyword in keywords]
        for product, keywords in zip(products, found, strict=True)
    }


def synthetic_tickets(seed: int = 7) -> tuple[list[str], np.ndarray[Any, Any]]:
    random = np.random.default_rng(seed)
    vocabulary = _words(random, 500 + THEMES * 6)
    everyday = np.array(vocabulary[:500])
    themes = np.array(vocabulary[500:]).reshape(THEMES, 6)
    label = random.integers(0, THEMES, size=TICKETS)
    texts = []
    for theme in label:
        words = [*random.choice(themes[theme], 3, replace=False), *random.choice(everyday, 10)]
        texts.append(" ".join(words))
    return texts, label


def components_groups(texts: list[str], similarity: float) -> np.ndarray[Any, Any]:
    matrix = kw.term_matrix(texts, PARAMS.max_terms).rows
    graph = sp.csr_matrix(matrix @ matrix.T)
    graph.data = (graph.data >= similarity).astype(np.int8)
    graph.eliminate_zeros()
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels)


def _labels(groups: list[kw.TicketGroup], count: int) -> np.ndarray[Any, Any]:
    labels = np.arange(count) + len(groups)  # ungrouped tickets: each its own group
    for number, group in enumerate(groups):
        labels[group.members] = number
    return labels


def main() -> None:
    started = time.perf_counter()
    reviews, planted = synthetic_reviews()
    print(
        f"{len(reviews):,} reviews of {len(planted):,} products "
        f"({time.perf_counter() - started:.1f} s)"
    )
    start = time.perf_counter()
    matrix = kw.term_matrix(reviews["review_text"].tolist(), PARAMS.max_terms)
    fit_seconds = time.perf_counter() - start
    ours_times: list[float] = []
    baseline_times: list[float] = []
    step_times: list[float] = []
    ours: dict[str, list[str]] = {}
    baseline: dict[str, list[str]] = {}
    for _ in range(ROUNDS):
        start = time.perf_counter()
        ours = our_keywords(matrix, reviews, PARAMS.keywords)
        ours_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        baseline = baseline_keywords(matrix, reviews, PARAMS.keywords)
        baseline_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        product_topics(reviews, PARAMS)
        step_times.append(time.perf_counter() - start)
        print(
            f"keywords: fit {fit_seconds:.2f} s, ours {ours_times[-1]:.3f} s, per-product "
            f"{baseline_times[-1]:.2f} s; whole product step {step_times[-1]:.2f} s"
        )
    assert ours == baseline
    recovered = sum(set(ours[p][:OWN_WORDS]) == words for p, words in planted.items())

    texts, themes = synthetic_tickets()
    group_times: list[float] = []
    component_times: list[float] = []
    groups: list[kw.TicketGroup] = []
    components: np.ndarray[Any, Any] = np.zeros(0)
    for _ in range(ROUNDS):
        start = time.perf_counter()
        groups = kw.group_similar(
            texts,
            min_similarity=PARAMS.ticket_similarity,
            min_size=1,
            top=PARAMS.keywords,
            max_terms=PARAMS.max_terms,
        )
        group_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        components = components_groups(texts, PARAMS.ticket_similarity)
        component_times.append(time.perf_counter() - start)
        print(f"grouping: ours {group_times[-1]:.2f} s, components {component_times[-1]:.2f} s")
    ours_ari = adjusted_rand_score(themes, _labels(groups, len(texts)))
    components_ari = adjusted_rand_score(themes, components)
    print(f"adjusted Rand index: ours {ours_ari:.3f}, components {components_ari:.3f}")
    path = write_result(
        "analytics_topics",
        {
            "reviews": len(reviews),
            "products": len(planted),
            "fit_seconds": fit_seconds,
            "keywords_seconds": min(ours_times),
            "baseline_keywords_seconds": min(baseline_times),
            "keywords_ratio": min(baseline_times) / min(ours_times),
            "product_step_seconds": min(step_times),
            "planted_keywords_recovered": recovered / len(planted),
            "tickets": TICKETS,
            "themes": THEMES,
            "grouping_seconds": min(group_times),
            "components_seconds": min(component_times),
            "grouping_ari": ours_ari,
            "components_ari": components_ari,
            "groups": len([group for group in groups if len(group.members) > 1]),
            "components": len(np.unique(components)),
        },
    )
    print(f"wrote {path}")
