"""Customer service: customers, consent, tags, referrals, support tickets and GDPR."""
