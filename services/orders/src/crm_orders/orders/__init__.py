"""Orders with their lines, status lifecycle, refunds and per-customer summaries."""
