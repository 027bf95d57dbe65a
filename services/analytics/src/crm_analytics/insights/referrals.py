"""Influence in the referral graph (no I/O).

`referral_influence(customers, revenue)` takes the customer copy (`id`, `status`,
`merged_into`, `referred_by`) and the net revenue per customer, and returns for every
customer in the graph (who referred someone or was referred):

- `referrals_direct`: customers they referred themselves;
- `referrals_downstream`: everyone below them, referred by them or by someone below;
- `referral_revenue`: the net revenue of those downstream customers;
- `referral_influence`: PageRank on the graph with each edge pointing from the referred
  customer to the referrer, scaled so that 1 is the average customer of the graph: a
  referrer of referrers scores above one who referred as many customers who refer nobody.

A merged customer's place is taken by the survivor (chains followed); deleted and erased
customers leave the graph with their edges, so the customers they referred start trees
of their own. A customer names at most one referrer, so the graph is a forest, except
for loops in bad data: on its condensation (each loop one node) a subtree sum counts
every downstream customer once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from crm_analytics.sync.models import DELETED, ERASED, LIVE, MERGED

REFERRAL_COLUMNS = (
    "referrals_direct",
    "referrals_downstream",
    "referral_revenue",
    "referral_influence",
)
# Merges are followed at most this far: a longer chain is a loop in the data.
MAX_MERGE_CHAIN = 50


@dataclass(frozen=True)
class ReferralParameters:
    damping: float = 0.85

    def __post_init__(self) -> None:
        if not 0 < self.damping < 1:
            raise ValueError("damping must be within (0, 1)")


@dataclass(frozen=True)
class ReferralResult:
    """One row per customer of the graph, index `customer_id`, columns
    `REFERRAL_COLUMNS`, most influential first; and a JSON-able report."""

    referrals: pd.DataFrame
    report: dict[str, Any] = field(default_factory=dict)


def _no_referrals() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "referrals_direct": pd.Series(dtype=np.int64),
            "referrals_downstream": pd.Series(dtype=np.int64),
            "referral_revenue": pd.Series(dtype=np.float64),
            "referral_influence": pd.Series(dtype=np.float64),
        }
    )
    frame.index.name = "customer_id"
    return frame


def current_holders(customers: pd.DataFrame) -> dict[str, str | None]:
    """Who stands for each customer that is not live: the survivor of a merge (through
    chains), or None for deleted and erased ones and for loops of merges."""
    moved = customers[customers["status"] != LIVE]
    status = dict(zip(customers["id"].tolist(), customers["status"].tolist(), strict=True))
    merged_into = {
        customer_id: survivor
        for customer_id, kind, survivor in zip(
            moved["id"].tolist(),
            moved["status"].tolist(),
            moved["merged_into"].tolist(),
            strict=True,
        )
        if kind == MERGED and isinstance(survivor, str)
    }

    def holder(customer_id: str) -> str | None:
        current = customer_id
        for _ in range(MAX_MERGE_CHAIN):
            if status.get(current) != MERGED:
                break
            survivor = merged_into.get(current)
            if survivor is None:
                return None
            current = survivor
        return current if status.get(current) == LIVE else None

    return {
        customer_id: holder(customer_id)
        for customer_id in moved["id"].tolist()
        if status[customer_id] in (MERGED, DELETED, ERASED)
    }


def referral_graph(customers: pd.DataFrame) -> nx.DiGraph:
    """Edges referrer → referred between live customers, after merges; self-referrals
    (a customer merged into their referrer) and referrers unknown to the copy dropped."""
    holders = current_holders(customers)
    live = set(customers.loc[customers["status"] == LIVE, "id"].tolist())
    referred = customers[(customers["status"] == LIVE) & customers["referred_by"].notna()]
    edges = []
    for customer_id, referrer in zip(
        referred["id"].tolist(), referred["referred_by"].tolist(), strict=True
    ):
        holder = holders.get(referrer, referrer)
        if holder is not None and holder in live and holder != customer_id:
            edges.append((holder, customer_id))
    graph = nx.DiGraph()
    graph.add_edges_from(edges)
    return graph


def _downstream(
    graph: nx.DiGraph, nodes: list[str], revenue: np.ndarray[Any, Any]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Customers below each of `nodes` and their revenue, each counted once.

    The strongly connected components (scipy, in C) condense the graph into a forest:
    a loop becomes one component, and every component has at most one parent, since
    every customer has at most one referrer. Subtree sums are then added up level by
    level, from the deepest components to the roots."""
    position = {node: index for index, node in enumerate(nodes)}
    edges = np.array(
        [(position[referrer], position[referred]) for referrer, referred in graph.edges],
        dtype=np.int64,
    ).reshape(-1, 2)
    source, target = edges[:, 0], edges[:, 1]
    adjacency = sparse.csr_matrix(
        (np.ones(len(edges), dtype=np.int8), (source, target)), shape=(len(nodes), len(nodes))
    )
    components, label = csgraph.connected_components(adjacency, directed=True, connection="strong")
    size = np.bincount(label, minlength=components).astype(np.int64)
    money = np.bincount(label, weights=revenue, minlength=components)
    parent = np.full(components, -1, dtype=np.int64)
    across = label[source] != label[target]
    parent[label[target[across]]] = label[source[across]]

    # Depth of each component by pointer jumping: log(depth) steps.
    depth = (parent >= 0).astype(np.int64)
    ancestor = parent.copy()
    while (ancestor >= 0).any():
        linked = np.flatnonzero(ancestor >= 0)
        above = ancestor[linked]
        depth[linked] += depth[above]
        ancestor[linked] = ancestor[above]
    order = np.argsort(-depth, kind="stable")
    levels = np.split(order, np.flatnonzero(np.diff(depth[order])) + 1)
    for level in levels:
        children = level[parent[level] >= 0]
        np.add.at(size, parent[children], size[children])
        np.add.at(money, parent[children], money[children])
    return size[label] - 1, money[label] - revenue


def referral_influence(
    customers: pd.DataFrame, revenue: pd.Series, params: ReferralParameters
) -> ReferralResult:
    started = time.perf_counter()
    graph = referral_graph(customers)
    if graph.number_of_nodes() == 0:
        return ReferralResult(_no_referrals(), {"customers": 0, "referrals": 0})
    nodes = list(graph.nodes)
    own_revenue = revenue.groupby(level=0).sum().reindex(nodes, fill_value=0.0)
    downstream, downstream_revenue = _downstream(
        graph, nodes, own_revenue.to_numpy(dtype=np.float64)
    )
    rank: dict[str, float] = nx.pagerank(graph.reverse(copy=False), alpha=params.damping)
    frame = pd.DataFrame(
        {
            "referrals_direct": [graph.out_degree(node) for node in nodes],
            "referrals_downstream": downstream,
            "referral_revenue": downstream_revenue,
            "referral_influence": [rank[node] * len(nodes) for node in nodes],
        },
        index=pd.Index(nodes, name="customer_id"),
    )
    frame = frame.sort_values(
        ["referral_influence", "referrals_downstream"], ascending=False, kind="stable"
    )
    report = {
        "customers": len(nodes),
        "referrals": graph.number_of_edges(),
        "referrers": int((frame["referrals_direct"] > 0).sum()),
        "seconds": time.perf_counter() - started,
    }
    return ReferralResult(frame, report)
