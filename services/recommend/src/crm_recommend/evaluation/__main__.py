"""`python -m crm_recommend.evaluation --dataset movielens-100k`: the offline comparison.

Reads the data set under CRM_DATA_DIR (nothing is downloaded), tunes every model on a
validation split of the training data, prints the test table beside published figures."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from crm_recommend.evaluation import benchmark
from crm_recommend.evaluation.datasets import DATASETS


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m crm_recommend.evaluation",
        description="Tune every model on validation, print the test table beside published rows.",
    )
    parser.add_argument("--dataset", choices=DATASETS, default="movielens-100k")
    parser.add_argument(
        "--models",
        help="comma-separated candidates to run (default: all of "
        + ", ".join(c.label for c in benchmark.CANDIDATES)
        + ")",
    )
    parser.add_argument("--json", type=Path, help="also write every row, grid included, here")
    args = parser.parse_args(argv)
    candidates = benchmark.CANDIDATES
    if args.models:
        wanted = set(args.models.split(","))
        known = {c.label for c in candidates}
        if wanted - known:
            parser.error(f"unknown models {sorted(wanted - known)}; choose from {sorted(known)}")
        candidates = tuple(c for c in candidates if c.label in wanted)
        for candidate in candidates:
            missing = set(candidate.blends) - wanted
            if missing:
                parser.error(f"{candidate.label} blends {sorted(missing)}: run them too")
    rows = benchmark.run(candidates=candidates)
    print()
    print(benchmark.table(rows))
    if args.json:
        args.json.write_text(json.dumps([row.as_dict() for row in rows], indent=2) + "\n")


if __name__ == "__main__":
    main()
