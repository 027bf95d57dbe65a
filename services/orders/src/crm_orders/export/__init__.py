"""Change feeds for analytics and recommendations: order lines, interactions, products."""
