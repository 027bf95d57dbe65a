"""Learned customer models of a run: clusters, churn risk and the spend forecast."""
