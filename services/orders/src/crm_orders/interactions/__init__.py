"""Interactions: what customers and visitors do with products (views, carts, ratings, reviews)."""
