"""Serving from memory: the loaded artefact, the catalogue mask, and the lists built from them."""
