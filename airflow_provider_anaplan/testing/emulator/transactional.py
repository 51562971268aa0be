"""Transactional API of the emulator (metadata, lists, cells, views, read requests, model open/close)."""

from __future__ import annotations

from starlette.routing import Route

__all__ = ["transactional_routes"]


def transactional_routes(api: str) -> list[Route]:
    """Routes under ``api`` (``/2/0``)."""
    return []
