"""Reads of the current run's scores: per customer, lists and the dashboard summary."""
