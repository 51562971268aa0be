"""Anaplan operators (one module per kind)."""
