"""API keys: created and revoked by admins, stored hashed, each with a role."""
