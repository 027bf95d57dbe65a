"""Scoring runs: sync, score off the event loop, swap the results in atomically."""
