"""Alm methods of the hooks: written out and typed, each the counterpart of a client method.

:class:`AlmHookMethods` is part of :class:`~airflow_provider_anaplan.hooks.anaplan.AnaplanHook`,
:class:`AsyncAlmHookMethods` of :class:`~airflow_provider_anaplan.hooks.anaplan.AnaplanAsyncHook`.
Mark each with :func:`~airflow_provider_anaplan.hooks.methods.client_method` (same name and parameters
as the client's method). Nothing of the client core is imported at module import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_anaplan.client.bulk import AnaplanAsyncClient
    from airflow_provider_anaplan.client.sync import AnaplanClient

__all__ = ["AsyncAlmHookMethods", "AlmHookMethods"]


class AlmHookMethods:
    """Sync alm methods of AnaplanHook (each: ``return self.get_conn().<name>(...)``)."""

    if TYPE_CHECKING:

        def get_conn(self) -> AnaplanClient: ...


class AsyncAlmHookMethods:
    """Async alm methods of AnaplanAsyncHook (each: ``await (await self._shared_client()).<name>(...)``)."""

    if TYPE_CHECKING:

        async def _shared_client(self) -> AnaplanAsyncClient: ...
