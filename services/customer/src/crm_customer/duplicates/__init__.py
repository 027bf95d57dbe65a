"""Likely duplicate customers, and merging two customers into one."""
