"""CloudWorks methods of the hooks: written out and typed, each the counterpart of a client method.

:class:`CloudWorksHookMethods` is part of :class:`~airflow_provider_anaplan.hooks.anaplan.AnaplanHook`,
:class:`AsyncCloudWorksHookMethods` of :class:`~airflow_provider_anaplan.hooks.anaplan.AnaplanAsyncHook`.
Mark each with :func:`~airflow_provider_anaplan.hooks.methods.client_method` (same name and parameters
as the client's method). Nothing of the client core is imported at module import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_anaplan.client.bulk import AnaplanAsyncClient
    from airflow_provider_anaplan.client.sync import AnaplanClient

__all__ = ["AsyncCloudWorksHookMethods", "CloudWorksHookMethods"]


class CloudWorksHookMethods:
    """Sync cloudworks methods of AnaplanHook (each: ``return self.get_conn().<name>(...)``)."""

    if TYPE_CHECKING:

        def get_conn(self) -> AnaplanClient: ...


class AsyncCloudWorksHookMethods:
    """Async cloudworks methods of AnaplanAsyncHook (each: ``await (await self._shared_client()).<name>(...)``)."""

    if TYPE_CHECKING:

        async def _shared_client(self) -> AnaplanAsyncClient: ...
