"""Anaplan operator extra links."""
