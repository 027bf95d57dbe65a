"""Insights per run: basket rules between products and the referral graph's influence."""
