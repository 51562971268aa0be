"""CloudWorks API of the emulator (connections, integrations, runs, flows, the emulated object store)."""

from __future__ import annotations

from starlette.routing import Route

__all__ = ["cloudworks_routes"]


def cloudworks_routes() -> list[Route]:
    """Routes of both base-URL forms the spec lists (``/cloudworks/2/0`` prefix on the API host)."""
    return []
