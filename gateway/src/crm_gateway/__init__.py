"""The gateway: the one public entry of the platform."""
