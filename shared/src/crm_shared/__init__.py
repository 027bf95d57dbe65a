"""The common package of the CRM platform: the wire contract and what every service shares."""
