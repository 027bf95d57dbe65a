"""The recommend service: recommendation models, their training runs and evaluations."""
