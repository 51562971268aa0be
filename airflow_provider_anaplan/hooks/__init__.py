"""Anaplan hooks."""
