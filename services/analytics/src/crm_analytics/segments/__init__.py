"""Segments: built-in RFM and value-tier lists, and custom ones defined by rules."""
