"""CloudWorks methods of the hooks: written out and typed, each the counterpart of a client method.

:class:`CloudWorksHookMethods` is part of :class:`~airflow_provider_anaplan.hooks.anaplan.AnaplanHook`,
:class:`AsyncCloudWorksHookMethods` of :class:`~airflow_provider_anaplan.hooks.anaplan.AnaplanAsyncHook`.
Mark each with :func:`~airflow_provider_anaplan.hooks.methods.client_method` (same name and parameters
as the client's method). Nothing of the client core is imported at module import.

CloudWorks calls go to the connection's ``cloudworks_url`` extra (default: derived from the Bulk API
URL, so from ``region``). See :mod:`airflow_provider_anaplan.client.cloudworks` for the behaviour.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_anaplan.hooks.methods import client_method

if TYPE_CHECKING:
    from airflow_provider_anaplan.client.bulk import AnaplanAsyncClient
    from airflow_provider_anaplan.client.status import TaskStatus
    from airflow_provider_anaplan.client.sync import AnaplanClient

__all__ = ["AsyncCloudWorksHookMethods", "CloudWorksHookMethods"]


class CloudWorksHookMethods:
    """Sync cloudworks methods of AnaplanHook (each: ``return self.get_conn().<name>(...)``)."""

    if TYPE_CHECKING:

        def get_conn(self) -> AnaplanClient: ...

    @client_method
    def get_connections(self) -> list[dict[str, Any]]:
        """CloudWorks connections the user can see (S3, Azure Blob, BigQuery; secrets are never returned)."""
        return self.get_conn().get_connections()

    @client_method
    def get_integrations(
        self, model_id: str | None = None, *, my_integrations: bool = False
    ) -> list[dict[str, Any]]:
        """Integrations (summaries); with ``model_id`` only those of that model (filtered here: the by-model endpoint is no longer served). ``my_integrations``: only the current user's."""
        return self.get_conn().get_integrations(model_id, my_integrations=my_integrations)

    @client_method
    def get_integration(self, integration_id: str) -> dict[str, Any]:
        """One integration with its ``jobs`` (sources, targets, connection ids)."""
        return self.get_conn().get_integration(integration_id)

    @client_method
    def get_run_history(self, integration_id: str, *, limit: int = 25) -> list[dict[str, Any]]:
        """The newest ``limit`` runs of an integration (or flow), newest first."""
        return self.get_conn().get_run_history(integration_id, limit=limit)

    @client_method
    def get_run_status(self, run_id: str) -> dict[str, Any]:
        """A run as CloudWorks reports it (``success``, ``message``, ``executionErrorCode``, dates)."""
        return self.get_conn().get_run_status(run_id)

    @client_method
    def get_run_error(self, run_id: str) -> list[dict[str, Any]]:
        """The run's error records (one per failing action: messages, ``failureDumpGenerated``)."""
        return self.get_conn().get_run_error(run_id)

    @client_method
    def run_integration(self, integration_id: str) -> str:
        """Start a run of an integration; return the run id (sent at most once, see the module doc)."""
        return self.get_conn().run_integration(integration_id)

    @client_method
    def cancel_run(self, integration_id: str) -> bool:
        """Cancel the integration's (or flow's) current run; False when nothing was running (409)."""
        return self.get_conn().cancel_run(integration_id)

    @client_method
    def get_run_job_status(self, integration_id: str, run_id: str) -> TaskStatus:
        """One poll of an integration run as a :class:`TaskStatus` (the ``cloudworks_run`` job kind)."""
        return self.get_conn().get_run_job_status(integration_id, run_id)

    @client_method
    def cancel_run_job(self, integration_id: str, run_id: str) -> None:
        """Cancel a run if it is still the integration's running one (no-op once it ended)."""
        return self.get_conn().cancel_run_job(integration_id, run_id)

    @client_method
    def wait_for_run(
        self,
        integration_id: str,
        run_id: str,
        poll_interval: float | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - public contract
        *,
        raise_on_failure: bool = True,
        fail_on_partial: bool | None = None,
    ) -> TaskStatus:
        """Poll an integration run until it ends (``wait_for_task``'s rules; partial success: see ``fail_on_partial`` of :meth:`TaskStatus.verdict`)."""
        return self.get_conn().wait_for_run(
            integration_id,
            run_id,
            poll_interval,
            timeout,
            raise_on_failure=raise_on_failure,
            fail_on_partial=fail_on_partial,
        )

    @client_method
    def get_run_dump(self, run_id: str) -> bytes:
        """The import error log (CSV of rejected rows) of an import integration's run."""
        return self.get_conn().get_run_dump(run_id)

    @client_method
    def get_process_run_dump(self, run_id: str, action_id: str | int) -> bytes:
        """The error log of one import action of a process integration's run."""
        return self.get_conn().get_process_run_dump(run_id, action_id)

    @client_method
    def download_run_dumps(self, status: TaskStatus, directory: str | os.PathLike[str]) -> list[str]:
        """Write every error dump of a finished run (integration or flow) into ``directory``."""
        return self.get_conn().download_run_dumps(status, directory)

    @client_method
    def get_flows(self) -> list[dict[str, Any]]:
        """Integration flows (summaries: ``id``, ``name``, ``stepsCount``, ``latestRun``)."""
        return self.get_conn().get_flows()

    @client_method
    def get_flow(self, flow_id: str) -> dict[str, Any]:
        """One flow with its ``steps`` (``referrer`` integration, ``dependsOn``, ``exceptionBehavior``)."""
        return self.get_conn().get_flow(flow_id)

    @client_method
    def run_flow(self, flow_id: str, steps: Sequence[str] | None = None) -> str:
        """Start a flow run (only ``steps``, integration ids of its steps, when given); return the run id."""
        return self.get_conn().run_flow(flow_id, steps)

    @client_method
    def get_flow_step_runs(self, flow_id: str, run_id: str) -> list[dict[str, Any]]:
        """The integration runs a flow run made, in step order (each a run status with ``integrationId``)."""
        return self.get_conn().get_flow_step_runs(flow_id, run_id)

    @client_method
    def get_flow_run_job_status(self, flow_id: str, run_id: str) -> TaskStatus:
        """One poll of a flow run as a :class:`TaskStatus` (the ``cloudworks_flow`` job kind)."""
        return self.get_conn().get_flow_run_job_status(flow_id, run_id)

    @client_method
    def cancel_flow_run_job(self, flow_id: str, run_id: str) -> None:
        """Cancel a flow run if it is still running (no-op once it ended)."""
        return self.get_conn().cancel_flow_run_job(flow_id, run_id)

    @client_method
    def wait_for_flow_run(
        self,
        flow_id: str,
        run_id: str,
        poll_interval: float | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - public contract
        *,
        raise_on_failure: bool = True,
        fail_on_partial: bool | None = None,
    ) -> TaskStatus:
        """Poll a flow run until it ends (the rules of :meth:`wait_for_run`)."""
        return self.get_conn().wait_for_flow_run(
            flow_id,
            run_id,
            poll_interval,
            timeout,
            raise_on_failure=raise_on_failure,
            fail_on_partial=fail_on_partial,
        )


class AsyncCloudWorksHookMethods:
    """Async cloudworks methods of AnaplanAsyncHook (each: ``await (await self._shared_client()).<name>(...)``)."""

    if TYPE_CHECKING:

        async def _shared_client(self) -> AnaplanAsyncClient: ...

    @client_method
    async def get_connections(self) -> list[dict[str, Any]]:
        """CloudWorks connections the user can see (S3, Azure Blob, BigQuery; secrets are never returned)."""
        return await (await self._shared_client()).get_connections()

    @client_method
    async def get_integrations(
        self, model_id: str | None = None, *, my_integrations: bool = False
    ) -> list[dict[str, Any]]:
        """Integrations (summaries); with ``model_id`` only those of that model (filtered here: the by-model endpoint is no longer served). ``my_integrations``: only the current user's."""
        return await (await self._shared_client()).get_integrations(model_id, my_integrations=my_integrations)

    @client_method
    async def get_integration(self, integration_id: str) -> dict[str, Any]:
        """One integration with its ``jobs`` (sources, targets, connection ids)."""
        return await (await self._shared_client()).get_integration(integration_id)

    @client_method
    async def get_run_history(self, integration_id: str, *, limit: int = 25) -> list[dict[str, Any]]:
        """The newest ``limit`` runs of an integration (or flow), newest first."""
        return await (await self._shared_client()).get_run_history(integration_id, limit=limit)

    @client_method
    async def get_run_status(self, run_id: str) -> dict[str, Any]:
        """A run as CloudWorks reports it (``success``, ``message``, ``executionErrorCode``, dates)."""
        return await (await self._shared_client()).get_run_status(run_id)

    @client_method
    async def get_run_error(self, run_id: str) -> list[dict[str, Any]]:
        """The run's error records (one per failing action: messages, ``failureDumpGenerated``)."""
        return await (await self._shared_client()).get_run_error(run_id)

    @client_method
    async def run_integration(self, integration_id: str) -> str:
        """Start a run of an integration; return the run id (sent at most once, see the module doc)."""
        return await (await self._shared_client()).run_integration(integration_id)

    @client_method
    async def cancel_run(self, integration_id: str) -> bool:
        """Cancel the integration's (or flow's) current run; False when nothing was running (409)."""
        return await (await self._shared_client()).cancel_run(integration_id)

    @client_method
    async def get_run_job_status(self, integration_id: str, run_id: str) -> TaskStatus:
        """One poll of an integration run as a :class:`TaskStatus` (the ``cloudworks_run`` job kind)."""
        return await (await self._shared_client()).get_run_job_status(integration_id, run_id)

    @client_method
    async def cancel_run_job(self, integration_id: str, run_id: str) -> None:
        """Cancel a run if it is still the integration's running one (no-op once it ended)."""
        return await (await self._shared_client()).cancel_run_job(integration_id, run_id)

    @client_method
    async def wait_for_run(
        self,
        integration_id: str,
        run_id: str,
        poll_interval: float | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - public contract
        *,
        raise_on_failure: bool = True,
        fail_on_partial: bool | None = None,
    ) -> TaskStatus:
        """Poll an integration run until it ends (``wait_for_task``'s rules; partial success: see ``fail_on_partial`` of :meth:`TaskStatus.verdict`)."""
        return await (await self._shared_client()).wait_for_run(
            integration_id,
            run_id,
            poll_interval,
            timeout,
            raise_on_failure=raise_on_failure,
            fail_on_partial=fail_on_partial,
        )

    @client_method
    async def get_run_dump(self, run_id: str) -> bytes:
        """The import error log (CSV of rejected rows) of an import integration's run."""
        return await (await self._shared_client()).get_run_dump(run_id)

    @client_method
    async def get_process_run_dump(self, run_id: str, action_id: str | int) -> bytes:
        """The error log of one import action of a process integration's run."""
        return await (await self._shared_client()).get_process_run_dump(run_id, action_id)

    @client_method
    async def download_run_dumps(self, status: TaskStatus, directory: str | os.PathLike[str]) -> list[str]:
        """Write every error dump of a finished run (integration or flow) into ``directory``."""
        return await (await self._shared_client()).download_run_dumps(status, directory)

    @client_method
    async def get_flows(self) -> list[dict[str, Any]]:
        """Integration flows (summaries: ``id``, ``name``, ``stepsCount``, ``latestRun``)."""
        return await (await self._shared_client()).get_flows()

    @client_method
    async def get_flow(self, flow_id: str) -> dict[str, Any]:
        """One flow with its ``steps`` (``referrer`` integration, ``dependsOn``, ``exceptionBehavior``)."""
        return await (await self._shared_client()).get_flow(flow_id)

    @client_method
    async def run_flow(self, flow_id: str, steps: Sequence[str] | None = None) -> str:
        """Start a flow run (only ``steps``, integration ids of its steps, when given); return the run id."""
        return await (await self._shared_client()).run_flow(flow_id, steps)

    @client_method
    async def get_flow_step_runs(self, flow_id: str, run_id: str) -> list[dict[str, Any]]:
        """The integration runs a flow run made, in step order (each a run status with ``integrationId``)."""
        return await (await self._shared_client()).get_flow_step_runs(flow_id, run_id)

    @client_method
    async def get_flow_run_job_status(self, flow_id: str, run_id: str) -> TaskStatus:
        """One poll of a flow run as a :class:`TaskStatus` (the ``cloudworks_flow`` job kind)."""
        return await (await self._shared_client()).get_flow_run_job_status(flow_id, run_id)

    @client_method
    async def cancel_flow_run_job(self, flow_id: str, run_id: str) -> None:
        """Cancel a flow run if it is still running (no-op once it ended)."""
        return await (await self._shared_client()).cancel_flow_run_job(flow_id, run_id)

    @client_method
    async def wait_for_flow_run(
        self,
        flow_id: str,
        run_id: str,
        poll_interval: float | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - public contract
        *,
        raise_on_failure: bool = True,
        fail_on_partial: bool | None = None,
    ) -> TaskStatus:
        """Poll a flow run until it ends (the rules of :meth:`wait_for_run`)."""
        return await (await self._shared_client()).wait_for_flow_run(
            flow_id,
            run_id,
            poll_interval,
            timeout,
            raise_on_failure=raise_on_failure,
            fail_on_partial=fail_on_partial,
        )
