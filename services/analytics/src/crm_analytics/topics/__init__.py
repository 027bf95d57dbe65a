"""Review and feedback topics: keywords per product and segment, rating trends, groups of
similar complaints and feedback tickets."""
