"""Alm methods of the hooks: written out and typed, each the counterpart of a client method.

:class:`AlmHookMethods` is part of :class:`~airflow_provider_anaplan.hooks.anaplan.AnaplanHook`,
:class:`AsyncAlmHookMethods` of :class:`~airflow_provider_anaplan.hooks.anaplan.AnaplanAsyncHook`.
Mark each with :func:`~airflow_provider_anaplan.hooks.methods.client_method` (same name and parameters
as the client's method). Nothing of the client core is imported at module import.

``model_id`` parameters default to the hook's model (the connection's, or the hook's override); for a
sync it is the **target** model. See :mod:`airflow_provider_anaplan.client.alm` for the behaviour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_anaplan.hooks.methods import client_method

if TYPE_CHECKING:
    from airflow_provider_anaplan.client.bulk import AnaplanAsyncClient
    from airflow_provider_anaplan.client.status import TaskStatus
    from airflow_provider_anaplan.client.sync import AnaplanClient

__all__ = ["AsyncAlmHookMethods", "AlmHookMethods"]


class AlmHookMethods:
    """Sync alm methods of AnaplanHook (each: ``return self.get_conn().<name>(...)``)."""

    if TYPE_CHECKING:

        def get_conn(self) -> AnaplanClient: ...

    @client_method
    def change_model_status(self, status: str, model_id: str | None = None) -> None:
        """Take a model ``"online"`` or ``"offline"`` (Workspace Administrator; 204)."""
        return self.get_conn().change_model_status(status, model_id)

    @client_method
    def get_revisions(
        self,
        model_id: str | None = None,
        *,
        applied_after: str | None = None,
        applied_before: str | None = None,
    ) -> list[dict[str, Any]]:
        """Revisions of a model (paged; ``applied_after``/``applied_before`` as ``YYYY-MM-DD``)."""
        return self.get_conn().get_revisions(
            model_id, applied_after=applied_after, applied_before=applied_before
        )

    @client_method
    def get_latest_revision(self, model_id: str | None = None) -> dict[str, Any] | None:
        """The model's latest revision, or None when it has none (Anaplan then omits ``revisions``)."""
        return self.get_conn().get_latest_revision(model_id)

    @client_method
    def get_applied_to_models(self, revision_id: str, model_id: str | None = None) -> list[dict[str, Any]]:
        """Models a revision was applied to (the first one is the model it was created in)."""
        return self.get_conn().get_applied_to_models(revision_id, model_id)

    @client_method
    def get_syncable_revisions(
        self, source_model_id: str, model_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Revisions of ``source_model_id`` that can be synced into the (target) model, newest first."""
        return self.get_conn().get_syncable_revisions(source_model_id, model_id)

    @client_method
    def create_revision(
        self, name: str, description: str | None = None, model_id: str | None = None
    ) -> dict[str, Any]:
        """Create a revision tag in a standard-mode model with structural changes; return it."""
        return self.get_conn().create_revision(name, description, model_id)

    @client_method
    def get_sync_tasks(self, model_id: str | None = None) -> list[dict[str, Any]]:
        """Sync tasks of a model (running, or finished in the last 48 hours)."""
        return self.get_conn().get_sync_tasks(model_id)

    @client_method
    def get_sync_task(self, task_id: str, model_id: str | None = None) -> dict[str, Any]:
        """A sync task as Anaplan sends it (``taskState``, ``result``...)."""
        return self.get_conn().get_sync_task(task_id, model_id)

    @client_method
    def get_sync_task_status(self, task_id: str, model_id: str | None = None) -> TaskStatus:
        """One poll of a sync task of the (target) model as a :class:`TaskStatus` (the ``alm_sync`` job kind)."""
        return self.get_conn().get_sync_task_status(task_id, model_id)

    @client_method
    def start_sync(
        self,
        source_model_id: str,
        source_revision_id: str | None = None,
        *,
        target_revision_id: str | None = None,
        model_id: str | None = None,
    ) -> str:
        """Start syncing a source revision into the (target) model; return the sync task id."""
        return self.get_conn().start_sync(
            source_model_id, source_revision_id, target_revision_id=target_revision_id, model_id=model_id
        )

    @client_method
    def wait_for_sync_task(
        self,
        task_id: str,
        poll_interval: float | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - public contract
        *,
        model_id: str | None = None,
        raise_on_failure: bool = True,
    ) -> TaskStatus:
        """Poll a sync task until it is terminal (the deadline/poll rules of ``wait_for_task``)."""
        return self.get_conn().wait_for_sync_task(
            task_id, poll_interval, timeout, model_id=model_id, raise_on_failure=raise_on_failure
        )

    @client_method
    def sync_models(
        self,
        source_model_id: str,
        source_revision_id: str | None = None,
        *,
        model_id: str | None = None,
        wait: bool = True,
        timeout: float | None = None,  # noqa: ASYNC109 - public contract
        raise_on_failure: bool = True,
    ) -> TaskStatus | str:
        """Sync a source revision (default: the newest syncable) into the (target) model."""
        return self.get_conn().sync_models(
            source_model_id,
            source_revision_id,
            model_id=model_id,
            wait=wait,
            timeout=timeout,
            raise_on_failure=raise_on_failure,
        )

    @client_method
    def get_comparison_report_task(self, task_id: str, model_id: str | None = None) -> TaskStatus:
        """One poll of a comparison report task."""
        return self.get_conn().get_comparison_report_task(task_id, model_id)

    @client_method
    def get_comparison_summary_task(self, task_id: str, model_id: str | None = None) -> TaskStatus:
        """One poll of a summary report task."""
        return self.get_conn().get_comparison_summary_task(task_id, model_id)

    @client_method
    def get_comparison_report(
        self, target_revision_id: str, source_revision_id: str, model_id: str | None = None
    ) -> bytes:
        """The full comparison report (TSV bytes; kept 48 hours after its task)."""
        return self.get_conn().get_comparison_report(target_revision_id, source_revision_id, model_id)

    @client_method
    def get_comparison_summary(
        self, target_revision_id: str, source_revision_id: str, model_id: str | None = None
    ) -> dict[str, Any]:
        """The summary report (``totals`` created/modified/deleted, ``differences`` by category)."""
        return self.get_conn().get_comparison_summary(target_revision_id, source_revision_id, model_id)

    @client_method
    def create_comparison_report(
        self,
        source_model_id: str,
        source_revision_id: str,
        target_revision_id: str | None = None,
        *,
        model_id: str | None = None,
        wait: bool = True,
        timeout: float | None = None,  # noqa: ASYNC109 - public contract
    ) -> bytes | str:
        """Generate the full comparison report of a source revision against a target revision (default: the model's latest); with ``wait`` return the TSV bytes, else the report task id."""
        return self.get_conn().create_comparison_report(
            source_model_id,
            source_revision_id,
            target_revision_id,
            model_id=model_id,
            wait=wait,
            timeout=timeout,
        )

    @client_method
    def create_comparison_summary(
        self,
        source_model_id: str,
        source_revision_id: str,
        target_revision_id: str | None = None,
        *,
        model_id: str | None = None,
        wait: bool = True,
        timeout: float | None = None,  # noqa: ASYNC109 - public contract
    ) -> dict[str, Any] | str:
        """Generate the summary report (counts of differences); with ``wait`` return it, else the task id."""
        return self.get_conn().create_comparison_summary(
            source_model_id,
            source_revision_id,
            target_revision_id,
            model_id=model_id,
            wait=wait,
            timeout=timeout,
        )


class AsyncAlmHookMethods:
    """Async alm methods of AnaplanAsyncHook (each: ``await (await self._shared_client()).<name>(...)``)."""

    if TYPE_CHECKING:

        async def _shared_client(self) -> AnaplanAsyncClient: ...

    @client_method
    async def change_model_status(self, status: str, model_id: str | None = None) -> None:
        """Take a model ``"online"`` or ``"offline"`` (Workspace Administrator; 204)."""
        return await (await self._shared_client()).change_model_status(status, model_id)

    @client_method
    async def get_revisions(
        self,
        model_id: str | None = None,
        *,
        applied_after: str | None = None,
        applied_before: str | None = None,
    ) -> list[dict[str, Any]]:
        """Revisions of a model (paged; ``applied_after``/``applied_before`` as ``YYYY-MM-DD``)."""
        return await (await self._shared_client()).get_revisions(
            model_id, applied_after=applied_after, applied_before=applied_before
        )

    @client_method
    async def get_latest_revision(self, model_id: str | None = None) -> dict[str, Any] | None:
        """The model's latest revision, or None when it has none (Anaplan then omits ``revisions``)."""
        return await (await self._shared_client()).get_latest_revision(model_id)

    @client_method
    async def get_applied_to_models(
        self, revision_id: str, model_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Models a revision was applied to (the first one is the model it was created in)."""
        return await (await self._shared_client()).get_applied_to_models(revision_id, model_id)

    @client_method
    async def get_syncable_revisions(
        self, source_model_id: str, model_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Revisions of ``source_model_id`` that can be synced into the (target) model, newest first."""
        return await (await self._shared_client()).get_syncable_revisions(source_model_id, model_id)

    @client_method
    async def create_revision(
        self, name: str, description: str | None = None, model_id: str | None = None
    ) -> dict[str, Any]:
        """Create a revision tag in a standard-mode model with structural changes; return it."""
        return await (await self._shared_client()).create_revision(name, description, model_id)

    @client_method
    async def get_sync_tasks(self, model_id: str | None = None) -> list[dict[str, Any]]:
        """Sync tasks of a model (running, or finished in the last 48 hours)."""
        return await (await self._shared_client()).get_sync_tasks(model_id)

    @client_method
    async def get_sync_task(self, task_id: str, model_id: str | None = None) -> dict[str, Any]:
        """A sync task as Anaplan sends it (``taskState``, ``result``...)."""
        return await (await self._shared_client()).get_sync_task(task_id, model_id)

    @client_method
    async def get_sync_task_status(self, task_id: str, model_id: str | None = None) -> TaskStatus:
        """One poll of a sync task of the (target) model as a :class:`TaskStatus` (the ``alm_sync`` job kind)."""
        return await (await self._shared_client()).get_sync_task_status(task_id, model_id)

    @client_method
    async def start_sync(
        self,
        source_model_id: str,
        source_revision_id: str | None = None,
        *,
        target_revision_id: str | None = None,
        model_id: str | None = None,
    ) -> str:
        """Start syncing a source revision into the (target) model; return the sync task id."""
        return await (await self._shared_client()).start_sync(
            source_model_id, source_revision_id, target_revision_id=target_revision_id, model_id=model_id
        )

    @client_method
    async def wait_for_sync_task(
        self,
        task_id: str,
        poll_interval: float | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - public contract
        *,
        model_id: str | None = None,
        raise_on_failure: bool = True,
    ) -> TaskStatus:
        """Poll a sync task until it is terminal (the deadline/poll rules of ``wait_for_task``)."""
        return await (await self._shared_client()).wait_for_sync_task(
            task_id, poll_interval, timeout, model_id=model_id, raise_on_failure=raise_on_failure
        )

    @client_method
    async def sync_models(
        self,
        source_model_id: str,
        source_revision_id: str | None = None,
        *,
        model_id: str | None = None,
        wait: bool = True,
        timeout: float | None = None,  # noqa: ASYNC109 - public contract
        raise_on_failure: bool = True,
    ) -> TaskStatus | str:
        """Sync a source revision (default: the newest syncable) into the (target) model."""
        return await (await self._shared_client()).sync_models(
            source_model_id,
            source_revision_id,
            model_id=model_id,
            wait=wait,
            timeout=timeout,
            raise_on_failure=raise_on_failure,
        )

    @client_method
    async def get_comparison_report_task(self, task_id: str, model_id: str | None = None) -> TaskStatus:
        """One poll of a comparison report task."""
        return await (await self._shared_client()).get_comparison_report_task(task_id, model_id)

    @client_method
    async def get_comparison_summary_task(self, task_id: str, model_id: str | None = None) -> TaskStatus:
        """One poll of a summary report task."""
        return await (await self._shared_client()).get_comparison_summary_task(task_id, model_id)

    @client_method
    async def get_comparison_report(
        self, target_revision_id: str, source_revision_id: str, model_id: str | None = None
    ) -> bytes:
        """The full comparison report (TSV bytes; kept 48 hours after its task)."""
        return await (await self._shared_client()).get_comparison_report(
            target_revision_id, source_revision_id, model_id
        )

    @client_method
    async def get_comparison_summary(
        self, target_revision_id: str, source_revision_id: str, model_id: str | None = None
    ) -> dict[str, Any]:
        """The summary report (``totals`` created/modified/deleted, ``differences`` by category)."""
        return await (await self._shared_client()).get_comparison_summary(
            target_revision_id, source_revision_id, model_id
        )

    @client_method
    async def create_comparison_report(
        self,
        source_model_id: str,
        source_revision_id: str,
        target_revision_id: str | None = None,
        *,
        model_id: str | None = None,
        wait: bool = True,
        timeout: float | None = None,  # noqa: ASYNC109 - public contract
    ) -> bytes | str:
        """Generate the full comparison report of a source revision against a target revision (default: the model's latest); with ``wait`` return the TSV bytes, else the report task id."""
        return await (await self._shared_client()).create_comparison_report(
            source_model_id,
            source_revision_id,
            target_revision_id,
            model_id=model_id,
            wait=wait,
            timeout=timeout,
        )

    @client_method
    async def create_comparison_summary(
        self,
        source_model_id: str,
        source_revision_id: str,
        target_revision_id: str | None = None,
        *,
        model_id: str | None = None,
        wait: bool = True,
        timeout: float | None = None,  # noqa: ASYNC109 - public contract
    ) -> dict[str, Any] | str:
        """Generate the summary report (counts of differences); with ``wait`` return it, else the task id."""
        return await (await self._shared_client()).create_comparison_summary(
            source_model_id,
            source_revision_id,
            target_revision_id,
            model_id=model_id,
            wait=wait,
            timeout=timeout,
        )
