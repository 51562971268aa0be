"""ALM API of the emulator (revisions, sync tasks, comparison and summary reports, online status)."""

from __future__ import annotations

from starlette.routing import Route

__all__ = ["alm_routes"]


def alm_routes(api: str) -> list[Route]:
    """Routes under ``api`` (``/2/0``)."""
    return []
