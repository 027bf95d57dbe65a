"""The copies of the orders and customer feeds that scoring reads."""
