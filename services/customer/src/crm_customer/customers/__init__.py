"""Customers: profiles, lifecycle, tags, consent, referrals, timeline and the export feed."""
