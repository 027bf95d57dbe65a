"""Summarise bench/results/*.json into the figures table of docs/benchmarks.md."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bench.common import RESULTS

DOC = Path(__file__).parent.parent / "docs" / "benchmarks.md"
START, END = "<!-- results -->", "<!-- /results -->"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _rows() -> list[str]:
    rows = []
    if imported := _load("customer_import"):
        rows.append(
            f"| bulk import, {imported['rows']:,} customers, PostgreSQL | "
            f"{imported['ours_rows_per_s']:,.0f} rows/s ({imported['ours_seconds']:.2f} s) | "
            f"raw asyncpg COPY {imported['raw_rows_per_s']:,.0f} rows/s "
            f"({imported['raw_seconds']:.2f} s) | **{imported['ratio']:.2f}x** | ≥ 0.5x |"
        )
    if read := _load("customer_read"):
        ours, raw = read["service"], read["raw_asyncpg"]
        rows.append(
            f"| `GET /v1/customers/{{id}}`, PostgreSQL, {read['connections']} connections | "
            f"{ours['requests_per_s']:,.0f} req/s, p50 {ours['p50_ms']} ms, "
            f"p99 {ours['p99_ms']} ms | raw asyncpg endpoint {raw['requests_per_s']:,.0f} req/s, "
            f"p50 {raw['p50_ms']} ms, p99 {raw['p99_ms']} ms | **{read['ratio']:.2f}x** | ≥ 0.5x |"
        )
    rows.extend(_orders_ingest_rows())
    rows.extend(_analytics_rows())
    rows.extend(_recommend_rows())
    rows.extend(_gateway_rows())
    rows.extend(_mixed_load_rows())
    rows.extend(_dashboard_rows())
    return rows


def _dashboard_rows() -> list[str]:
    dashboard = _load("dashboard_aggregates")
    if dashboard is None:
        return []
    histogram, sales = dashboard["distribution"], dashboard["orders_summary"]
    return [
        f"| `GET /v1/scores/distribution`, {dashboard['bins']}-bin CLV histogram, "
        f"{dashboard['customers']:,} customers, PostgreSQL | "
        f"{histogram['ours_seconds'] * 1000:,.0f} ms | the values fetched and counted "
        f"with numpy {histogram['baseline_seconds'] * 1000:,.0f} ms | "
        f"**{histogram['ratio']:.2f}x** | ≥ 1x |",
        f"| `GET /v1/orders/summary`, {dashboard['weeks']} weeks of "
        f"{dashboard['orders']:,} orders, PostgreSQL | "
        f"{sales['ours_seconds'] * 1000:,.0f} ms | the window's orders fetched and grouped "
        f"with pandas {sales['baseline_seconds'] * 1000:,.0f} ms | "
        f"**{sales['ratio']:.2f}x** | ≥ 1x |",
    ]


def _mixed_load_rows() -> list[str]:
    load = _load("mixed_load")
    if load is None:
        return []
    alone, mixed = load["storefront_alone"], load["mixed"]
    storefront, backoffice, marketing = mixed["storefront"], mixed["backoffice"], mixed["marketing"]
    growth = ", ".join(f"{name} {rss['growth']:+.0f}" for name, rss in load["rss_mib"].items())
    return [
        f"| mixed load through the gateway, demo stack ({load['customers']:,} customers, "
        f"PostgreSQL), {load['seconds']:g} s, load average {load.get('load_average_1min', '?')}: "
        "storefront recommendations "
        f"({storefront['clients']} clients), back-office creates ({backoffice['clients']}), "
        f"marketing CSV exports + score pages ({marketing['clients']}) at once | storefront "
        f"{storefront['requests_per_s']:,.0f} req/s, p99 {storefront['p99_ms']} ms; back office "
        f"{backoffice['requests_per_s']:,.0f} req/s, p99 {backoffice['p99_ms']} ms; marketing "
        f"{marketing['requests_per_s']:,.1f} req/s, p99 {marketing['p99_ms']} ms; "
        f"**{load['errors']} errors**; RSS growth MiB: {growth} | the same storefront calls "
        f"alone {alone['requests_per_s']:,.0f} req/s, p99 {alone['p99_ms']} ms | "
        f"**{load['ratio']:.2f}x** | 0 errors |"
    ]


def _gateway_rows() -> list[str]:
    proxy = _load("gateway_proxy")
    if proxy is None:
        return []
    goal = f"≥ {proxy['goal']['ratio']}x, ≤ {proxy['goal']['added_p50_ms']:g} ms p50 added"
    trivial, customer = proxy["trivial_upstream"], proxy["customer_service"]
    rows = []
    for label, run in (
        ("a bare FastAPI JSON endpoint", trivial),
        ("the customer service's `GET /v1/customers/{id}` (SQLite)", customer),
    ):
        hop, direct = run["gateway"], run["direct"]
        added = run["one_connection_added_p50_ms"]["gateway"]
        rows.append(
            f"| gateway in front of {label}, {proxy['connections']} connections | "
            f"{hop['requests_per_s']:,.0f} req/s, {added} ms p50 added on one connection | "
            f"the same endpoint called directly {direct['requests_per_s']:,.0f} req/s | "
            f"**{run['versus_direct']['gateway']['ratio']:.2f}x** | {goal} |"
        )
    clients = ", ".join(
        f"{name.removeprefix('proxy_')} {versus['ratio']:.2f}x"
        for name, versus in trivial["versus_direct"].items()
        if name != "gateway"
    )
    rows.append(
        f"| minimal proxies, same endpoint, same run | {clients} | "
        f"direct {trivial['direct']['requests_per_s']:,.0f} req/s | - | "
        "the gateway's client is chosen by it |"
    )
    return rows


def _orders_ingest_rows() -> list[str]:
    ingest = _load("orders_ingest")
    if ingest is None:
        return []
    events, orders, feeds = ingest["interactions"], ingest["orders"], ingest["export"]
    return [
        f"| `POST /v1/interactions/batch`, {events['rows']:,} interactions in NDJSON batches "
        f"of {events['batch_size']:,}, PostgreSQL | {events['ours_rows_per_s']:,} rows/s "
        f"({events['ours_seconds']:.1f} s) | raw asyncpg COPY {events['raw_rows_per_s']:,} "
        f"rows/s ({events['raw_seconds']:.1f} s) | **{events['ratio']:.2f}x** | ≥ 0.5x |",
        f"| `POST /v1/orders/import`, {orders['rows']:,} orders ({orders['lines']:,} lines), "
        f"PostgreSQL | {orders['ours_rows_per_s']:,} orders/s ({orders['ours_seconds']:.1f} s) "
        f"| raw asyncpg COPY {orders['raw_rows_per_s']:,} orders/s "
        f"({orders['raw_seconds']:.1f} s) | **{orders['ratio']:.2f}x** | ≥ 0.5x |",
        *(
            f"| `GET /v1/export/{name}`, {feed['rows']:,} rows, NDJSON stream | "
            f"{feed['rows_per_s']:,} rows/s | raw `COPY (SELECT ...) TO STDOUT` "
            f"{feed['raw_copy_out_rows_per_s']:,} rows/s | "
            f"{feed['rows_per_s'] / feed['raw_copy_out_rows_per_s']:.2f}x | - |"
            for name, feed in feeds.items()
            if name != "products"
        ),
    ]


def _recommend_rows() -> list[str]:
    rows = []
    if quality := _load("recommend_quality"):
        ours, best = quality["served_test"], quality["best_published"]
        popular = quality["popularity_test"]
        ratio = quality["ratio_to_best_published"]
        rows.append(
            f"| recommendation quality, MovieLens 100k, top 10, served model "
            f"`{quality['served']}` | nDCG@10 {ours['ndcg']:.4f}, MAP {ours['map']:.4f}, "
            f"P@10 {ours['precision']:.4f}, R@10 {ours['recall']:.4f} | published best "
            f"{best['name']} nDCG@10 {best['ndcg']:.4f} (popularity, same run: "
            f"{popular['ndcg']:.4f}) | **{ratio['ndcg']:.2f}x** | nDCG@10 ≥ "
            f"{quality['goal_ndcg']}, above every published row |"
        )
    if training := _load("recommend_training"):
        rows.append(
            f"| ALS training, {training['users']:,} customers x {training['items']:,} "
            f"products, {training['interactions']:,} interactions, "
            f"{training['threads']} threads | {training['als_seconds']:.1f} s | scipy sparse "
            f"products of the same factors x iterations {training['sparse_products_seconds']:.1f}"
            f" s; popularity fit {training['popularity_seconds']:.2f} s | "
            f"{training['ratio_to_sparse_products']:.2f}x | - |"
        )
    if serving := _load("recommend_serving"):
        ours, bare = serving["service"], serving["bare_fastapi"]
        rows.append(
            f"| `GET /v1/recommendations/{{id}}`, {serving['products']:,} products x "
            f"{serving['customers']:,} customers in memory, {serving['connections']} "
            f"connections | {ours['requests_per_s']:,.0f} req/s, p50 {ours['p50_ms']} ms, "
            f"p99 {ours['p99_ms']} ms at the client"
            + (
                f", p99 ≤ {serving['at_service']['p99_at_most_ms']:g} ms at the service"
                if "at_service" in serving
                else ""
            )
            + " | bare FastAPI JSON endpoint "
            f"{bare['requests_per_s']:,.0f} req/s, p50 "
            f"{bare['p50_ms']} ms, p99 {bare['p99_ms']} ms | **{serving['ratio']:.2f}x** | "
            f"≥ 0.7x, p99 ≤ {serving['goal_p99_ms']} ms |"
        )
    return rows


def _analytics_rows() -> list[str]:
    rows = []
    if fit := _load("analytics_clv"):
        ours, paper = fit["bgnbd"]["ours"], fit["bgnbd"]["published"]
        holdout = fit["holdout"]
        rows.append(
            f"| BG/NBD fit, CDNOW sample ({fit['customers']:,} customers) | "
            f"r {ours['r']:.3f}, alpha {ours['alpha']:.3f}, a {ours['a']:.3f}, b {ours['b']:.3f}, "
            f"LL {ours['log_likelihood']:.1f} (published {paper['r']}, {paper['alpha']}, "
            f"{paper['a']}, {paper['b']}, {paper['log_likelihood']}) in "
            f"{fit['bgnbd']['ours_seconds'] * 1000:.0f} ms; holdout repeat purchases "
            f"{holdout['expected_total']:,.0f} expected vs {holdout['actual_total']:,} actual, "
            f"MAE {holdout['mae']:.3f} | scipy Nelder-Mead on the same likelihood "
            f"{fit['bgnbd']['nelder_mead_seconds'] * 1000:.0f} ms | "
            f"**{fit['bgnbd']['ratio']:.1f}x** | published parameters |"
        )
    if scoring := _load("analytics_scoring"):
        ours, pandas = scoring["ours"], scoring["pandas_rfm"]
        rows.append(
            f"| scoring run, {scoring['customers']:,} customers, {scoring['lines']:,} order "
            f"lines (RFM, BG/NBD + Gamma-Gamma fits, CLV, tiers, customer models) | "
            f"{ours['seconds']:.1f} s, "
            f"peak {ours['peak_rss_mib']:,.0f} MiB | pandas groupby of the RFM aggregation "
            f"alone {pandas['seconds']:.1f} s, peak {pandas['peak_rss_mib']:,.0f} MiB | "
            f"{scoring['ratio']:.2f}x the time (RFM part {scoring['rfm_ratio']:.2f}x) | "
            f"≤ 60 s, ≤ 4 GiB |"
        )
        if "models_seconds" in scoring:
            rows.append(
                f"| … of which the customer models (clusters, churn, spend forecast) | "
                f"{scoring['models_seconds']:.1f} s of the {ours['seconds']:.1f} s | the run "
                f"without them {ours['seconds'] - scoring['models_seconds']:.1f} s | "
                f"{ours['seconds'] / (ours['seconds'] - scoring['models_seconds']):.2f}x the "
                f"time | ≤ 60 s in all |"
            )
    rows.extend(_customer_model_rows())
    rows.extend(_topic_rows())
    if basket := _load("analytics_basket"):
        ours = basket["ours"]
        rows.append(
            f"| basket rules, {basket['orders']:,} orders, {basket['lines']:,} lines, "
            f"{basket['products']:,} products (sparse XᵀX pair count) | "
            f"{ours['seconds']:.2f} s, {ours['report']['rules']:,} rules, "
            f"{basket['planted_in_top_100']}/{basket['planted_pairs']} planted pairs in the "
            f"top 100 by lift | pandas self-merge pair count "
            f"{basket['pandas_self_merge']['seconds']:.2f} s, "
            f"same rules: {'yes' if basket['same_rules'] else 'NO'} | "
            f"**{basket['ratio']:.1f}x** | ≤ 10 s |"
        )
        low = basket["low_support"]
        rows.append(
            f"| basket rules, same orders, no support minimum (pairs in ≥ "
            f"{low['parameters']['min_orders']} orders) | {low['ours']['seconds']:.2f} s, "
            f"{low['ours']['report']['pairs']:,} pairs counted, "
            f"{low['ours']['report']['rules']:,} rules kept | pandas self-merge pair count "
            f"{low['pandas_self_merge']['seconds']:.2f} s, same rules: "
            f"{'yes' if low['same_rules'] else 'NO'} | **{low['ratio']:.1f}x** | ≤ 10 s |"
        )
    return rows


def _topic_rows() -> list[str]:
    topics = _load("analytics_topics")
    if topics is None:
        return []
    return [
        f"| review keywords, {topics['reviews']:,} reviews of {topics['products']:,} products "
        f"(sparse mean per product after the TF-IDF fit of {topics['fit_seconds']:.1f} s) | "
        f"{topics['keywords_seconds']:.2f} s, planted words are the top 4 of "
        f"{topics['planted_keywords_recovered']:.0%} of the products; the run's whole product "
        f"step {topics['product_step_seconds']:.1f} s | the same keywords, one product at a "
        f"time {topics['baseline_keywords_seconds']:.2f} s | "
        f"**{topics['keywords_ratio']:.1f}x** | ≤ 30 s |",
        f"| grouping of {topics['tickets']:,} complaint tickets, {topics['themes']} planted "
        f"themes (TF-IDF, average linkage) | {topics['grouping_seconds']:.2f} s, adjusted Rand "
        f"index {topics['grouping_ari']:.3f} | connected components at the same similarity "
        f"{topics['components_seconds']:.2f} s, ARI {topics['components_ari']:.3f} | "
        f"{topics['components_seconds'] / topics['grouping_seconds']:.2f}x the time | "
        f"ARI ≥ 0.8, ≤ 10 s |",
    ]


def _customer_model_rows() -> list[str]:
    models = _load("analytics_models")
    if models is None:
        return []
    cdnow, clustered = models["cdnow"], models["clustering"]
    boosted, tree = cdnow["churn"]["gradient_boosting"], cdnow["churn"]["decision_tree"]
    spend = cdnow["forecast"]
    ours, plain = clustered["ours"], clustered["plain_kmeans"]
    return [
        f"| churn model, CDNOW master ({boosted['customers']:,} customers validated, "
        f"h = {cdnow['horizon_days']} days, time split) | AUC {boosted['auc']:.3f}, precision "
        f"{boosted['precision']:.2f}, recall {boosted['recall']:.2f}, trained in "
        f"{boosted['seconds']:.2f} s | decision tree AUC {tree['auc']:.3f} in "
        f"{tree['seconds']:.2f} s; recency alone AUC {cdnow['churn']['recency_auc']:.3f} | "
        f"**{cdnow['churn']['auc_ratio']:.3f}x** the AUC | AUC ≥ the baselines |",
        f"| spend forecast, CDNOW master, next {cdnow['horizon_days']} days | MAE "
        f"{spend['model']['mae']:.2f}, RMSE {spend['model']['rmse']:.2f} in "
        f"{spend['seconds']:.2f} s | BG/NBD x Gamma-Gamma MAE {spend['bgnbd']['mae']:.2f}, "
        f"RMSE {spend['bgnbd']['rmse']:.2f}; naive mean MAE {spend['naive_mean']['mae']:.2f} | "
        f"**{spend['mae_ratio_bgnbd']:.2f}x** (BG/NBD MAE / ours) | beat the naive mean |",
        f"| clustering, {clustered['customers']:,} customers (5 planted kinds) | k = {ours['k']} "
        f"by silhouette over 2..8, {ours['seconds']:.1f} s, adjusted Rand "
        f"{ours['adjusted_rand']:.3f} | plain scikit-learn KMeans, k fixed at {plain['k']}, "
        f"{plain['seconds']:.1f} s, adjusted Rand {plain['adjusted_rand']:.3f} | "
        f"**{clustered['ratio']:.2f}x** | ≤ 30 s |",
    ]


def write() -> None:
    table = "\n".join(
        [
            "| benchmark | ours | baseline (same run) | ratio | goal |",
            "| --- | --- | --- | --- | --- |",
            *_rows(),
        ]
    )
    text = DOC.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    DOC.write_text(pattern.sub(f"{START}\n{table}\n{END}", text))
    print(f"summary written to {DOC}")
