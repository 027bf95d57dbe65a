"""GDPR: export everything held about a customer, and erase their personal data."""
