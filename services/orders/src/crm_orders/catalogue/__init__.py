"""The product catalogue: products with prices, categories, stock and attributes."""
