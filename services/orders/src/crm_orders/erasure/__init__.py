"""Erased customers: the orders service forgets their personal text, keeps their orders."""
