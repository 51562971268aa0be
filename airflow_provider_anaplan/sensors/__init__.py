"""Anaplan sensors."""
