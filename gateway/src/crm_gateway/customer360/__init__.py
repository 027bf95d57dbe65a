"""Customer 360: one read that gathers what every service knows about a customer."""
