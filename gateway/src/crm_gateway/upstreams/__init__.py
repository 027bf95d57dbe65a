"""The services behind the gateway: connection pools, retries and circuit breakers."""
