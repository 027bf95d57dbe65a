"""Bulk import of customers from CSV or NDJSON, upserting by external_ref or email."""
