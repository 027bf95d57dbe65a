"""The marketing and operations dashboard: pages served by the gateway, data from its API."""
