"""Offline evaluation of recommendation models: metrics, splits, tuning and benchmarks."""

from crm_recommend.evaluation.metrics import (
    RankingMetrics,
    catalogue_coverage,
    hits_at_k,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
)
from crm_recommend.evaluation.offline import (
    Evaluation,
    Interactions,
    Tuning,
    evaluate,
    fit_and_evaluate,
    grid,
    tune,
)
from crm_recommend.evaluation.split import stratified_split

__all__ = [
    "Evaluation",
    "Interactions",
    "RankingMetrics",
    "Tuning",
    "catalogue_coverage",
    "evaluate",
    "fit_and_evaluate",
    "grid",
    "hits_at_k",
    "map_at_k",
    "ndcg_at_k",
    "precision_at_k",
    "ranking_metrics",
    "recall_at_k",
    "stratified_split",
    "tune",
]
