"""Recommendation quality on MovieLens 100k beside Microsoft Recommenders' published table.

Protocol of the Recommenders benchmark notebook: every rating is a positive, a
stratified random 75/25 split by item with seed 42, top 10 per user with training items
excluded, metrics as Recommenders defines them (binary relevance, MAP over the user's
number of test items). Each model is tuned on a validation split cut from the training
set only (the grids are in `crm_recommend.evaluation.benchmark.CANDIDATES`), refitted on
the training set and scored once on the test split. Baselines: the published best row
(BiVAE) and popularity measured in the same run. Reads `CRM_DATA_DIR/movielens-100k`;
takes a minute or two.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench.common import write_result
from crm_recommend.evaluation import benchmark

GOAL_NDCG = 0.49


def main() -> None:
    data_dir = os.environ.get("CRM_DATA_DIR")
    if not data_dir or not (Path(data_dir) / "movielens-100k" / "u.data").exists():
        raise SystemExit(
            "Set CRM_DATA_DIR to the folder holding movielens-100k/u.data "
            "(e.g. CRM_DATA_DIR=../shared/data); nothing is downloaded."
        )
    rows = benchmark.run(Path(data_dir))
    print()
    print(benchmark.table(rows))
    by_label = {row.label: row for row in rows}
    served = by_label[benchmark.SERVED].test.metrics
    popularity = by_label["popularity"].test.metrics
    best_name, best = max(benchmark.PUBLISHED.items(), key=lambda item: item[1]["ndcg"])
    ours = {metric: getattr(served, metric) for metric in benchmark.METRICS}
    result: dict[str, Any] = {
        "benchmark": "recommend_quality",
        "dataset": "movielens-100k",
        "k": benchmark.K,
        "served": benchmark.SERVED,
        "served_test": served.as_dict(),
        "best_published": {"name": best_name, **best},
        "ratio_to_best_published": {m: round(ours[m] / best[m], 3) for m in benchmark.METRICS},
        "popularity_test": popularity.as_dict(),
        "ratio_to_popularity": {
            m: round(ours[m] / getattr(popularity, m), 3) for m in benchmark.METRICS
        },
        "above_every_published_row": all(
            ours[m] > figures[m]
            for figures in benchmark.PUBLISHED.values()
            for m in benchmark.METRICS
        ),
        "goal_ndcg": GOAL_NDCG,
        "rows": [row.as_dict() for row in rows],
        "published": benchmark.PUBLISHED,
    }
    path = write_result("recommend_quality", result)
    print(f"\nserved model {benchmark.SERVED}: nDCG@10 {served.ndcg:.4f}; results in {path}")


if __name__ == "__main__":
    main()
