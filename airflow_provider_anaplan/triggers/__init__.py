"""Anaplan triggers."""
