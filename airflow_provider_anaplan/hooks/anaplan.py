"""Anaplan hooks: the Airflow connection -> Anaplan client bridge.

:class:`AnaplanHook` is synchronous (operators, user code) and returns an
:class:`~airflow_provider_anaplan.client.sync.AnaplanClient`; :class:`AnaplanAsyncHook` is for the
triggerer's event loop: it reads the connection with ``await BaseHook.aget_connection()`` and returns an
:class:`~airflow_provider_anaplan.client.bulk.AnaplanAsyncClient`. Both share the client core's
process-wide token cache, so many hooks and triggers of one connection authenticate once.

The bulk methods users know (``upload_file``, ``run_action``, ``get_task_status`` ...) are written out
in both classes with the client's signatures (a test holds every public ``AnaplanAsyncClient`` method to
a hook method of the same signature, sync and async); each uses the hook's one client. Sources and
destinations follow the client's one rule, with object-storage URIs allowed
(:func:`resolve_path_argument`): a ``str`` is a path, never content. Uploads and downloads report
their inputs and outputs to Airflow's hook lineage collector (see
:mod:`airflow_provider_anaplan.hooks.lineage`).

Nothing of the client core is imported at module import (DAG-parse cost): its types are imported for
type checkers only.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from airflow.sdk import BaseHook

from airflow_provider_anaplan.hooks import lineage
from airflow_provider_anaplan.hooks.alm import AlmHookMethods, AsyncAlmHookMethods
from airflow_provider_anaplan.hooks.cloudworks import AsyncCloudWorksHookMethods, CloudWorksHookMethods
from airflow_provider_anaplan.hooks.connection import build_client_config, load_extras, mask
from airflow_provider_anaplan.hooks.methods import _CLIENT_METHOD, client_method, resolve_path_argument
from airflow_provider_anaplan.hooks.transactional import (
    AsyncTransactionalHookMethods,
    TransactionalHookMethods,
)

if TYPE_CHECKING:
    import os

    from airflow.sdk import Connection

    from airflow_provider_anaplan.client.bulk import AnaplanAsyncClient, MappingParameters
    from airflow_provider_anaplan.client.config import ClientConfig
    from airflow_provider_anaplan.client.coordination import StartIntent
    from airflow_provider_anaplan.client.http import RetryPolicy
    from airflow_provider_anaplan.client.status import TaskStatus
    from airflow_provider_anaplan.client.sync import AnaplanClient

log = logging.getLogger(__name__)

DEFAULT_APP_URL = "https://us1a.app.anaplan.com"



def _mask_token(value: str) -> None:
    """Register a freshly minted access token with Airflow's secret masker."""
    mask(value, "anaplan_token")


@functools.cache
def _mask_tokens_as_minted() -> None:
    """From now on, every access token this process obtains is masked as it is minted.

    Called where a hook first builds a client, not at import: importing the client core at DAG-parse
    time would cost every DAG file that uses an Anaplan operator about 0.2 s.
    """
    from airflow_provider_anaplan.client.tokens import on_new_token

    on_new_token(_mask_token)


def model_url(app_url: str | None, workspace_id: str | None, model_id: str | None) -> str | None:
    """Browser URL of a model (``oauth_url`` is the regional app host, e.g. us1a.app.anaplan.com)."""
    if not workspace_id or not model_id:
        return None
    base = (app_url or DEFAULT_APP_URL).rstrip("/")
    query = urlencode({"selectedWorkspaceId": workspace_id.lower(), "selectedModelId": model_id.upper()})
    return f"{base}/anaplan/framework.jsp?{query}"


@functools.cache
def _deployment_coordination(factory: Callable[[], Any]) -> Any:
    """One coordination store per process (start claims and file leases of the whole deployment)."""
    return factory()


class _AnaplanHookBase(BaseHook):
    conn_name_attr = "anaplan_conn_id"
    default_conn_name = "anaplan_default"
    conn_type = "anaplan"
    hook_name = "Anaplan"

    def __init__(
        self,
        anaplan_conn_id: str = default_conn_name,
        *,
        workspace_id: str | None = None,
        model_id: str | None = None,
        retry: RetryPolicy | None = None,
        poll_interval: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.anaplan_conn_id = anaplan_conn_id
        self.workspace_id = workspace_id or None
        self.model_id = model_id or None
        self.retry = retry
        self.poll_interval = poll_interval

    def _config_from(self, conn: Connection) -> ClientConfig:
        """Validated client options from ``conn`` (secrets masked as soon as read).

        A rotatable OAuth connection gets the deployment-wide token store (see ``hooks/tokens.py``).
        """
        from airflow_provider_anaplan.hooks.coordination import AirflowVariableCoordination
        from airflow_provider_anaplan.hooks.tokens import build_token_store

        mask(conn.password, "password")
        extras = load_extras(conn.extra_dejson)
        overrides: dict[str, Any] = {"coordination": _deployment_coordination(AirflowVariableCoordination)}
        if self.poll_interval is not None:
            overrides["poll_interval"] = self.poll_interval
        return build_client_config(
            login=conn.login,
            password=conn.password,
            extra=extras,
            workspace_id=self.workspace_id,
            model_id=self.model_id,
            retry=self.retry,
            token_store=partial(build_token_store, self.anaplan_conn_id),
            **overrides,
        )

    def _lineage(self, inputs: Iterable[str | None] = (), outputs: Iterable[str | None] = ()) -> None:
        """Report what a transfer read and wrote to Airflow's hook lineage collector (never raises)."""
        lineage.record(self, inputs, outputs)

    @staticmethod
    def _file_uri(config: ClientConfig, file_id: object) -> str | None:
        """``anaplan://`` URI of a file of the configured model (None without workspace and model)."""
        return lineage.anaplan_file_uri(config.workspace_id, config.model_id, file_id)

    @staticmethod
    def _model_uri(config: ClientConfig) -> str | None:
        return lineage.anaplan_model_uri(config.workspace_id, config.model_id)


class AnaplanHook(TransactionalHookMethods, AlmHookMethods, CloudWorksHookMethods, _AnaplanHookBase):
    """Synchronous Anaplan hook.

    :param anaplan_conn_id: Airflow connection id of type ``anaplan`` (default ``anaplan_default``).
    :param workspace_id: overrides the connection's ``workspace_id`` extra.
    :param model_id: overrides the connection's ``model_id`` extra.
    :param retry: a client ``RetryPolicy`` (default: the client's).
    :param poll_interval: default seconds between task status polls.
    """

    def __init__(self, anaplan_conn_id: str = _AnaplanHookBase.default_conn_name, **kwargs: Any) -> None:
        super().__init__(anaplan_conn_id, **kwargs)
        self._client: AnaplanClient | None = None
        self._config: ClientConfig | None = None

    def get_client_config(self) -> ClientConfig:
        """The validated :class:`ClientConfig` built from the connection (cached)."""
        if self._config is None:
            conn = self.get_connection(self.anaplan_conn_id)
            self._config = self._config_from(conn)
        return self._config

    def get_conn(self) -> AnaplanClient:
        """The sync :class:`AnaplanClient` (created once per hook; authentication is lazy)."""
        if self._client is None:
            from airflow_provider_anaplan.client.sync import AnaplanClient

            _mask_tokens_as_minted()
            self._client = AnaplanClient(self.get_client_config())
        return self._client

    def close(self) -> None:
        """Close the client (its HTTP connections and event-loop thread)."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def __enter__(self) -> AnaplanHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def model_url(self) -> str | None:
        """Browser URL of the configured model."""
        cfg = self.get_client_config()
        return model_url(cfg.oauth_url, cfg.workspace_id, cfg.model_id)

    def test_connection(self) -> tuple[bool, str]:
        """Authenticate and read the configured model (or list workspaces when none is set)."""
        try:
            cfg = self.get_client_config()
            client = self.get_conn()
            if cfg.workspace_id and cfg.model_id:
                model = client.get_model()
                name = model.get("name", cfg.model_id) if isinstance(model, dict) else cfg.model_id
                state = model.get("activeState", "") if isinstance(model, dict) else ""
                detail = f" ({state})" if state else ""
                return True, f"Connected to Anaplan: model {name!r} {cfg.model_id}{detail} in workspace {cfg.workspace_id}"
            workspaces = client.list_workspaces()
            return True, (
                f"Authenticated to Anaplan; {len(workspaces)} workspace(s) visible. "
                "Set workspace_id and model_id to check a model."
            )
        except Exception as exc:  # exceptions of this provider never carry secrets
            return False, f"{type(exc).__name__}: {exc}"
        finally:
            self.close()

    # ---- the client's methods (same parameters as AnaplanAsyncClient; blocking) ---------------------
    @client_method
    def list_workspaces(self) -> list[dict[str, Any]]:
        """Workspaces the user can see."""
        return self.get_conn().list_workspaces()

    @client_method
    def list_models(self) -> list[dict[str, Any]]:
        """Models of the configured workspace."""
        return self.get_conn().list_models()

    @client_method
    def get_model(self) -> dict[str, Any]:
        """The configured model."""
        return self.get_conn().get_model()

    @client_method
    def get_model_status(self) -> dict[str, Any]:
        """The configured model's status (``peakMemoryUsage``, ``exportTaskType`` ...)."""
        return self.get_conn().get_model_status()

    @client_method
    def list_files(self) -> list[dict[str, Any]]:
        """Files (113…) of the model."""
        return self.get_conn().list_files()

    @client_method
    def list_imports(self) -> list[dict[str, Any]]:
        """Imports (112…) of the model."""
        return self.get_conn().list_imports()

    @client_method
    def list_exports(self) -> list[dict[str, Any]]:
        """Exports (116…) of the model."""
        return self.get_conn().list_exports()

    @client_method
    def list_actions(self) -> list[dict[str, Any]]:
        """Actions (117…) of the model."""
        return self.get_conn().list_actions()

    @client_method
    def list_processes(self) -> list[dict[str, Any]]:
        """Processes (118…) of the model."""
        return self.get_conn().list_processes()

    @client_method
    def get_import(self, import_id: str | int) -> dict[str, Any]:
        """Import (112…) definition."""
        return self.get_conn().get_import(import_id)

    @client_method
    def get_export(self, export_id: str | int) -> dict[str, Any]:
        """Export (116…) definition."""
        return self.get_conn().get_export(export_id)

    @client_method
    def get_process(self, process_id: str | int) -> dict[str, Any]:
        """Process (118…) definition."""
        return self.get_conn().get_process(process_id)

    @client_method
    def get_action(self, action_id: str | int) -> dict[str, Any]:
        """Action (117…) definition."""
        return self.get_conn().get_action(action_id)

    @client_method
    def upload_file(self, file_id: str | int, source: object) -> int:
        """Upload ``source`` to an existing file; return the uncompressed byte count.

        ``source``: a ``str`` (a local path or an object-storage URI, never content), ``bytes`` or
        ``Content``, a ``pathlib.Path``/``ObjectStoragePath``, a binary file object or an iterable of
        chunks. Lineage: the source's location -> ``anaplan://…/files/<file_id>``.
        """
        source = resolve_path_argument(source, "source")
        size = self.get_conn().upload_file(file_id, source)
        self._lineage([lineage.location_uri(source)], [self._file_uri(self.get_client_config(), file_id)])
        return size

    @client_method
    def upload_file_stream(self, file_id: str | int, content: object) -> int:
        """Upload content of unknown length (an iterable of chunks, or any :meth:`upload_file` source)."""
        content = resolve_path_argument(content, "source")
        size = self.get_conn().upload_file_stream(file_id, content)
        self._lineage([lineage.location_uri(content)], [self._file_uri(self.get_client_config(), file_id)])
        return size

    @client_method
    def get_file_stream(self, file_id: str | int) -> Iterator[bytes]:
        """Iterate over a file's content chunk by chunk (an export's file id is the export id)."""
        stream = self.get_conn().get_file_stream(file_id)
        self._lineage([self._file_uri(self.get_client_config(), file_id)])
        return stream

    @client_method
    def get_file(self, file_id: str | int) -> bytes:
        """A file's whole content in memory (use :meth:`download_file` for big files)."""
        data = self.get_conn().get_file(file_id)
        self._lineage([self._file_uri(self.get_client_config(), file_id)])
        return data

    @client_method
    def download_file(self, file_id: str | int, destination: object) -> int:
        """Stream a file to ``destination`` atomically: a ``str`` (local path or object-storage URI), a
        ``pathlib.Path`` or an ``ObjectStoragePath``; return the bytes written.

        Lineage: ``anaplan://…/files/<file_id>`` -> the destination.
        """
        destination = resolve_path_argument(destination, "destination")
        size = self.get_conn().download_file(file_id, destination)
        self._lineage([self._file_uri(self.get_client_config(), file_id)], [lineage.location_uri(destination)])
        return size

    @client_method
    def list_tasks(self, action_id: str | int) -> list[dict[str, Any]]:
        """Tasks of an import/export/action/process."""
        return self.get_conn().list_tasks(action_id)

    @client_method
    def start_task(
        self,
        action_id: str | int,
        mapping_parameters: MappingParameters | None = None,
        locale: str = "en_US",
        *,
        on_intent: Callable[[StartIntent], Awaitable[None]] | None = None,
    ) -> str:
        """Start an import, export, action or process (the POST is sent at most once); return the task id."""
        return self.get_conn().start_task(action_id, mapping_parameters, locale, on_intent=on_intent)

    @client_method
    def resolve_start(
        self,
        intent: StartIntent,
        *,
        window: float | None = None,
        cause: BaseException | None = None,
    ) -> str:
        """The task a start made although its answer was lost (never POSTs); see the client."""
        return self.get_conn().resolve_start(intent, window=window, cause=cause)

    @client_method
    def acquire_file_lease(
        self, file_id: str | int, *, hold_for: float, wait: float, owner: str = ""
    ) -> dict[str, str]:
        """Become the only writer of a model file in this deployment (see the client)."""
        return self.get_conn().acquire_file_lease(file_id, hold_for=hold_for, wait=wait, owner=owner)

    @client_method
    def release_file_lease(self, lease: Mapping[str, str]) -> None:
        """Give back a lease from :meth:`acquire_file_lease`."""
        self.get_conn().release_file_lease(lease)

    @client_method
    def get_task_status(self, action_id: str | int, task_id: str) -> TaskStatus:
        """One status poll."""
        return self.get_conn().get_task_status(action_id, task_id)

    @client_method
    def cancel_task(self, action_id: str | int, task_id: str) -> None:
        """Ask Anaplan to cancel a task."""
        self.get_conn().cancel_task(action_id, task_id)

    @client_method
    def get_job_status(self, kind: str, ids: Mapping[str, Any]) -> TaskStatus:
        """Poll an asynchronous job of any kind (``client/jobs.py``: bulk task, read request, model
        opening, ALM sync, CloudWorks run or flow run)."""
        return self.get_conn().get_job_status(kind, ids)

    @client_method
    def cancel_job(self, kind: str, ids: Mapping[str, Any]) -> bool:
        """Stop a job of any kind (a read request is deleted); False when the kind cannot be cancelled."""
        return self.get_conn().cancel_job(kind, ids)

    @client_method
    def wait_for_task(
        self,
        action_id: str | int,
        task_id: str,
        poll_interval: float | None = None,
        timeout: float | None = None,
        *,
        raise_on_failure: bool = True,
        fail_on_partial: bool | None = None,
    ) -> TaskStatus:
        """Poll until the task is terminal (see the client for the outcome rule)."""
        return self.get_conn().wait_for_task(
            action_id,
            task_id,
            poll_interval,
            timeout,
            raise_on_failure=raise_on_failure,
            fail_on_partial=fail_on_partial,
        )

    @client_method
    def run_action(
        self,
        action_id: str | int,
        wait: bool = True,
        mapping_parameters: MappingParameters | None = None,
        *,
        timeout: float | None = None,
        raise_on_failure: bool = True,
        fail_on_partial: bool | None = None,
    ) -> TaskStatus | str:
        """Start a task; with ``wait`` poll it to the end and return its status, else return its id."""
        return self.get_conn().run_action(
            action_id,
            wait,
            mapping_parameters,
            timeout=timeout,
            raise_on_failure=raise_on_failure,
            fail_on_partial=fail_on_partial,
        )

    @client_method
    def upload_and_import(
        self,
        file_id: str | int,
        content: object,
        action_id: str | int,
        mapping_parameters: MappingParameters | None = None,
        *,
        timeout: float | None = None,
        raise_on_failure: bool = True,
    ) -> TaskStatus:
        """Upload ``content`` (any :meth:`upload_file` source) then run the import/process and wait.

        Lineage: the source's location -> the Anaplan file and the model.
        """
        content = resolve_path_argument(content, "source")
        status = self.get_conn().upload_and_import(
            file_id, content, action_id, mapping_parameters, timeout=timeout, raise_on_failure=raise_on_failure
        )
        cfg = self.get_client_config()
        self._lineage([lineage.location_uri(content)], [self._file_uri(cfg, file_id), self._model_uri(cfg)])
        return status

    @client_method
    def export_and_download(
        self,
        export_id: str | int,
        destination: object | None = None,
        *,
        timeout: float | None = None,
    ) -> bytes | int:
        """Run an export, then return its content (``destination`` None) or write it and return the size.

        Lineage: ``anaplan://…/files/<export_id>`` -> the destination.
        """
        destination = resolve_path_argument(destination, "destination")
        result = self.get_conn().export_and_download(export_id, destination, timeout=timeout)
        self._lineage([self._file_uri(self.get_client_config(), export_id)], [lineage.location_uri(destination)])
        return result

    @client_method
    def get_import_dump_stream(self, import_id: str | int, task_id: str) -> Iterator[bytes]:
        """Iterate over the failure dump (rejected rows) of an import task."""
        return self.get_conn().get_import_dump_stream(import_id, task_id)

    @client_method
    def get_process_dump_stream(
        self, process_id: str | int, task_id: str, object_id: str | int
    ) -> Iterator[bytes]:
        """Iterate over the failure dump of one step of a process task."""
        return self.get_conn().get_process_dump_stream(process_id, task_id, object_id)

    @client_method
    def download_failure_dumps(
        self, action_id: str | int, status: TaskStatus | Mapping[str, Any], directory: str | os.PathLike[str]
    ) -> list[str]:
        """Write every failure dump of a finished import/process task into ``directory``; return the paths."""
        return self.get_conn().download_failure_dumps(action_id, status, directory)


class AnaplanAsyncHook(
    AsyncTransactionalHookMethods, AsyncAlmHookMethods, AsyncCloudWorksHookMethods, _AnaplanHookBase
):
    """Asyncio Anaplan hook for triggers (never calls the sync ``get_connection`` on the loop).

    Same parameters as :class:`AnaplanHook`. Use ``async with await hook.get_async_conn() as client``
    for a long-lived client, or the delegated coroutines (``await hook.get_task_status(...)``) that
    share one client per hook; close it with ``await hook.aclose()``.
    """

    def __init__(self, anaplan_conn_id: str = _AnaplanHookBase.default_conn_name, **kwargs: Any) -> None:
        super().__init__(anaplan_conn_id, **kwargs)
        self._client: AnaplanAsyncClient | None = None
        self._config: ClientConfig | None = None

    async def get_client_config(self) -> ClientConfig:
        """The validated :class:`ClientConfig` (connection read with ``aget_connection``)."""
        if self._config is None:
            from airflow_provider_anaplan.compat import aget_connection  # 3.1: also outside a triggerer

            conn = await aget_connection(self, self.anaplan_conn_id)
            self._config = self._config_from(conn)
        return self._config

    async def get_async_conn(self) -> AnaplanAsyncClient:
        """A new, not yet entered :class:`AnaplanAsyncClient` (use it with ``async with``)."""
        from airflow_provider_anaplan.client.bulk import AnaplanAsyncClient

        _mask_tokens_as_minted()

        return AnaplanAsyncClient(await self.get_client_config())

    async def _shared_client(self) -> AnaplanAsyncClient:
        if self._client is None:
            client = await self.get_async_conn()
            self._client = await client.__aenter__()
        return self._client

    async def aclose(self) -> None:
        """Close the shared client."""
        client, self._client = self._client, None
        if client is not None:
            await client.__aexit__(None, None, None)

    # ---- the client's methods (same parameters as AnaplanAsyncClient; one shared client) -----------
    @client_method
    async def list_workspaces(self) -> list[dict[str, Any]]:
        """Workspaces the user can see."""
        return await (await self._shared_client()).list_workspaces()

    @client_method
    async def list_models(self) -> list[dict[str, Any]]:
        """Models of the configured workspace."""
        return await (await self._shared_client()).list_models()

    @client_method
    async def get_model(self) -> dict[str, Any]:
        """The configured model."""
        return await (await self._shared_client()).get_model()

    @client_method
    async def get_model_status(self) -> dict[str, Any]:
        """The configured model's status."""
        return await (await self._shared_client()).get_model_status()

    @client_method
    async def list_files(self) -> list[dict[str, Any]]:
        """Files (113…) of the model."""
        return await (await self._shared_client()).list_files()

    @client_method
    async def list_imports(self) -> list[dict[str, Any]]:
        """Imports (112…) of the model."""
        return await (await self._shared_client()).list_imports()

    @client_method
    async def list_exports(self) -> list[dict[str, Any]]:
        """Exports (116…) of the model."""
        return await (await self._shared_client()).list_exports()

    @client_method
    async def list_actions(self) -> list[dict[str, Any]]:
        """Actions (117…) of the model."""
        return await (await self._shared_client()).list_actions()

    @client_method
    async def list_processes(self) -> list[dict[str, Any]]:
        """Processes (118…) of the model."""
        return await (await self._shared_client()).list_processes()

    @client_method
    async def get_import(self, import_id: str | int) -> dict[str, Any]:
        """Import (112…) definition."""
        return await (await self._shared_client()).get_import(import_id)

    @client_method
    async def get_export(self, export_id: str | int) -> dict[str, Any]:
        """Export (116…) definition."""
        return await (await self._shared_client()).get_export(export_id)

    @client_method
    async def get_process(self, process_id: str | int) -> dict[str, Any]:
        """Process (118…) definition."""
        return await (await self._shared_client()).get_process(process_id)

    @client_method
    async def get_action(self, action_id: str | int) -> dict[str, Any]:
        """Action (117…) definition."""
        return await (await self._shared_client()).get_action(action_id)

    @client_method
    async def upload_file(self, file_id: str | int, source: object) -> int:
        """Upload ``source`` (see :meth:`AnaplanHook.upload_file`); lineage: source -> Anaplan file."""
        source = resolve_path_argument(source, "source")
        client = await self._shared_client()
        size = await client.upload_file(file_id, source)
        self._lineage([lineage.location_uri(source)], [self._file_uri(client.config, file_id)])
        return size

    @client_method
    async def upload_file_stream(self, file_id: str | int, content: object) -> int:
        """Upload content of unknown length (an (async) iterable of chunks, or any upload source)."""
        content = resolve_path_argument(content, "source")
        client = await self._shared_client()
        size = await client.upload_file_stream(file_id, content)
        self._lineage([lineage.location_uri(content)], [self._file_uri(client.config, file_id)])
        return size

    @client_method
    async def get_file_stream(self, file_id: str | int) -> AsyncIterator[bytes]:
        """Yield a file's content chunk by chunk (an export's file id is the export id)."""
        client = await self._shared_client()
        self._lineage([self._file_uri(client.config, file_id)])
        async for chunk in client.get_file_stream(file_id):
            yield chunk

    @client_method
    async def get_file(self, file_id: str | int) -> bytes:
        """A file's whole content in memory."""
        client = await self._shared_client()
        data = await client.get_file(file_id)
        self._lineage([self._file_uri(client.config, file_id)])
        return data

    @client_method
    async def download_file(self, file_id: str | int, destination: object) -> int:
        """Stream a file to ``destination`` atomically (see :meth:`AnaplanHook.download_file`)."""
        destination = resolve_path_argument(destination, "destination")
        client = await self._shared_client()
        size = await client.download_file(file_id, destination)
        self._lineage([self._file_uri(client.config, file_id)], [lineage.location_uri(destination)])
        return size

    @client_method
    async def list_tasks(self, action_id: str | int) -> list[dict[str, Any]]:
        """Tasks of an import/export/action/process."""
        return await (await self._shared_client()).list_tasks(action_id)

    @client_method
    async def start_task(
        self,
        action_id: str | int,
        mapping_parameters: MappingParameters | None = None,
        locale: str = "en_US",
        *,
        on_intent: Callable[[StartIntent], Awaitable[None]] | None = None,
    ) -> str:
        """Start an import, export, action or process (the POST is sent at most once); return the task id."""
        client = await self._shared_client()
        return await client.start_task(action_id, mapping_parameters, locale, on_intent=on_intent)

    @client_method
    async def resolve_start(
        self,
        intent: StartIntent,
        *,
        window: float | None = None,
        cause: BaseException | None = None,
    ) -> str:
        """The task a start made although its answer was lost (never POSTs)."""
        return await (await self._shared_client()).resolve_start(intent, window=window, cause=cause)

    @client_method
    async def acquire_file_lease(
        self, file_id: str | int, *, hold_for: float, wait: float, owner: str = ""
    ) -> dict[str, str]:
        """Become the only writer of a model file in this deployment."""
        client = await self._shared_client()
        return await client.acquire_file_lease(file_id, hold_for=hold_for, wait=wait, owner=owner)

    @client_method
    async def release_file_lease(self, lease: Mapping[str, str]) -> None:
        """Give back a lease from :meth:`acquire_file_lease`."""
        await (await self._shared_client()).release_file_lease(lease)

    @client_method
    async def get_task_status(self, action_id: str | int, task_id: str) -> TaskStatus:
        """One status poll."""
        return await (await self._shared_client()).get_task_status(action_id, task_id)

    @client_method
    async def cancel_task(self, action_id: str | int, task_id: str) -> None:
        """Ask Anaplan to cancel a task."""
        await (await self._shared_client()).cancel_task(action_id, task_id)

    @client_method
    async def get_job_status(self, kind: str, ids: Mapping[str, Any]) -> TaskStatus:
        """Poll an asynchronous job of any kind (``client/jobs.py``)."""
        return await (await self._shared_client()).get_job_status(kind, ids)

    @client_method
    async def cancel_job(self, kind: str, ids: Mapping[str, Any]) -> bool:
        """Stop a job of any kind (a read request is deleted); False when the kind cannot be cancelled."""
        return await (await self._shared_client()).cancel_job(kind, ids)

    @client_method
    async def wait_for_task(
        self,
        action_id: str | int,
        task_id: str,
        poll_interval: float | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the client's contract
        *,
        raise_on_failure: bool = True,
        fail_on_partial: bool | None = None,
    ) -> TaskStatus:
        """Poll until the task is terminal."""
        client = await self._shared_client()
        return await client.wait_for_task(
            action_id,
            task_id,
            poll_interval,
            timeout,
            raise_on_failure=raise_on_failure,
            fail_on_partial=fail_on_partial,
        )

    @client_method
    async def run_action(
        self,
        action_id: str | int,
        wait: bool = True,
        mapping_parameters: MappingParameters | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the client's contract
        raise_on_failure: bool = True,
        fail_on_partial: bool | None = None,
    ) -> TaskStatus | str:
        """Start a task; with ``wait`` poll it to the end and return its status, else return its id."""
        client = await self._shared_client()
        return await client.run_action(
            action_id,
            wait,
            mapping_parameters,
            timeout=timeout,
            raise_on_failure=raise_on_failure,
            fail_on_partial=fail_on_partial,
        )

    @client_method
    async def upload_and_import(
        self,
        file_id: str | int,
        content: object,
        action_id: str | int,
        mapping_parameters: MappingParameters | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the client's contract
        raise_on_failure: bool = True,
    ) -> TaskStatus:
        """Upload ``content`` then run the import/process and wait; lineage: source -> file and model."""
        content = resolve_path_argument(content, "source")
        client = await self._shared_client()
        status = await client.upload_and_import(
            file_id, content, action_id, mapping_parameters, timeout=timeout, raise_on_failure=raise_on_failure
        )
        cfg = client.config
        self._lineage([lineage.location_uri(content)], [self._file_uri(cfg, file_id), self._model_uri(cfg)])
        return status

    @client_method
    async def export_and_download(
        self,
        export_id: str | int,
        destination: object | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the client's contract
    ) -> bytes | int:
        """Run an export, then return its content or write it to ``destination``; lineage: export file ->
        destination."""
        destination = resolve_path_argument(destination, "destination")
        client = await self._shared_client()
        result = await client.export_and_download(export_id, destination, timeout=timeout)
        self._lineage([self._file_uri(client.config, export_id)], [lineage.location_uri(destination)])
        return result

    @client_method
    async def get_import_dump_stream(self, import_id: str | int, task_id: str) -> AsyncIterator[bytes]:
        """Yield the failure dump (rejected rows) of an import task."""
        client = await self._shared_client()
        async for chunk in client.get_import_dump_stream(import_id, task_id):
            yield chunk

    @client_method
    async def get_process_dump_stream(
        self, process_id: str | int, task_id: str, object_id: str | int
    ) -> AsyncIterator[bytes]:
        """Yield the failure dump of one step of a process task."""
        client = await self._shared_client()
        async for chunk in client.get_process_dump_stream(process_id, task_id, object_id):
            yield chunk

    @client_method
    async def download_failure_dumps(
        self, action_id: str | int, status: TaskStatus | Mapping[str, Any], directory: str | os.PathLike[str]
    ) -> list[str]:
        """Write every failure dump of a finished import/process task into ``directory``."""
        return await (await self._shared_client()).download_failure_dumps(action_id, status, directory)


def _delegated(streams: bool) -> tuple[str, ...]:
    return tuple(
        name
        for klass in reversed(AnaplanAsyncHook.__mro__)
        for name, member in vars(klass).items()
        if getattr(member, _CLIENT_METHOD, False) and inspect.isasyncgenfunction(member) == streams
    )


#: The client's methods on both hooks (sync on AnaplanHook, coroutines on AnaplanAsyncHook), derived
#: from the methods marked :func:`client_method` (the methods themselves are the one list).
DELEGATED_METHODS: tuple[str, ...] = _delegated(streams=False)
#: The client's byte streams (iterators on AnaplanHook, async iterators on AnaplanAsyncHook).
DELEGATED_STREAMS: tuple[str, ...] = _delegated(streams=True)
