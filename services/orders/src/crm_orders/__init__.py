"""Orders service: the product catalogue, orders and their lines, interactions."""
