"""The analytics service: RFM scores, lifetime value, churn risk, clusters and segments."""
