"""The copies of the orders feeds (catalogue, order lines, interactions) and the customers
whose data must be forgotten."""
