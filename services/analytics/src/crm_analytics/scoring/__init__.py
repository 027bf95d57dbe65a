"""The scoring maths of the analytics service: pure functions on DataFrames, no I/O."""

from crm_analytics.scoring.pipeline import ScoringParameters, ScoringResult, score_customers

__all__ = ["ScoringParameters", "ScoringResult", "score_customers"]
