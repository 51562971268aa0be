"""Anaplan hooks: the Airflow connection -> Anaplan client bridge.

:class:`AnaplanHook` is synchronous (operators, user code) and returns an
:class:`~airflow_provider_anaplan.client.sync.AnaplanClient`; :class:`AnaplanAsyncHook` is for the
triggerer's event loop: it reads the connection with ``await BaseHook.aget_connection()`` and returns an
:class:`~airflow_provider_anaplan.client.bulk.AnaplanAsyncClient`. Both share the client core's
process-wide token cache, so many hooks and triggers of one connection authenticate once.

The bulk methods users know (``upload_file``, ``run_action``, ``get_task_status`` ...) are delegated to
the client by the declared name lists :data:`DELEGATED_METHODS` and :data:`DELEGATED_STREAMS`; see the
client for their parameters. Sources and destinations (:data:`PATH_ARGUMENTS`) follow the client's one
rule, with object-storage URIs allowed (:func:`resolve_path_argument`): a ``str`` is a path, never content.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from airflow.sdk import BaseHook

from airflow_provider_anaplan.hooks.connection import build_client_config, load_extras, mask

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from airflow_provider_anaplan.client.bulk import AnaplanAsyncClient
    from airflow_provider_anaplan.client.config import ClientConfig
    from airflow_provider_anaplan.client.http import RetryPolicy
    from airflow_provider_anaplan.client.sync import AnaplanClient

log = logging.getLogger(__name__)

#: Client methods exposed on both hooks (sync on AnaplanHook, coroutines on AnaplanAsyncHook).
DELEGATED_METHODS: tuple[str, ...] = (
    "list_workspaces",
    "list_models",
    "get_model",
    "get_model_status",
    "list_files",
    "list_imports",
    "list_exports",
    "list_actions",
    "list_processes",
    "get_import",
    "get_export",
    "get_process",
    "get_action",
    "upload_file",
    "upload_file_stream",
    "get_file",
    "download_file",
    "start_task",
    "resolve_start",
    "acquire_file_lease",
    "release_file_lease",
    "get_task_status",
    "list_tasks",
    "cancel_task",
    "wait_for_task",
    "run_action",
    "upload_and_import",
    "export_and_download",
    "download_failure_dumps",
)
#: Client methods returning byte streams (iterators on AnaplanHook, async iterators on AnaplanAsyncHook).
DELEGATED_STREAMS: tuple[str, ...] = ("get_file_stream", "get_import_dump_stream", "get_process_dump_stream")

DEFAULT_APP_URL = "https://us1a.app.anaplan.com"

#: Delegated methods taking a source or destination: name -> (positional index, keyword, kind).
PATH_ARGUMENTS: dict[str, tuple[int, str, str]] = {
    "upload_file": (1, "source", "source"),
    "upload_file_stream": (1, "content", "source"),
    "upload_and_import": (1, "content", "source"),
    "download_file": (1, "destination", "destination"),
    "export_and_download": (1, "destination", "destination"),
}


def resolve_path_argument(value: Any, kind: str = "source") -> Any:
    """The client's one source/destination rule, with object-storage URIs allowed.

    A ``str`` is a path: ``s3://…``/``gs://…``/``file://…`` become ``ObjectStoragePath``, anything else
    a local path (a missing upload source is an ``AnaplanConfigError``); bytes and ``Content(...)`` are
    content. Used by both hooks and by the operators, so a ``str`` means the same thing everywhere.
    """
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_anaplan.client.transfer import resolve_destination, resolve_source

    resolve = resolve_source if kind == "source" else resolve_destination
    return resolve(value, uri=ObjectStoragePath)


def _resolve_paths(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    spec = PATH_ARGUMENTS.get(name)
    if spec is None:
        return args, kwargs
    index, keyword, kind = spec
    if len(args) > index:
        args = (*args[:index], resolve_path_argument(args[index], kind), *args[index + 1 :])
    elif keyword in kwargs:
        kwargs = {**kwargs, keyword: resolve_path_argument(kwargs[keyword], kind)}
    return args, kwargs


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


class AnaplanHook(_AnaplanHookBase):
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


class AnaplanAsyncHook(_AnaplanHookBase):
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
            from airflow_provider_anaplan.compat import aget_connection  # Airflow 3.1: outside a triggerer too

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


def _sync_method(name: str) -> Callable[..., Any]:
    def method(self: AnaplanHook, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = _resolve_paths(name, args, kwargs)
        return getattr(self.get_conn(), name)(*args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"Run ``AnaplanClient.{name}`` with this hook's client (same parameters)."
    return method


def _sync_stream(name: str) -> Callable[..., Iterator[bytes]]:
    def method(self: AnaplanHook, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        return getattr(self.get_conn(), name)(*args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"Iterate ``AnaplanClient.{name}`` with this hook's client (same parameters)."
    return method


def _async_method(name: str) -> Callable[..., Any]:
    async def method(self: AnaplanAsyncHook, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = _resolve_paths(name, args, kwargs)
        client = await self._shared_client()
        return await getattr(client, name)(*args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"Await ``AnaplanAsyncClient.{name}`` with this hook's client (same parameters)."
    return method


def _async_stream(name: str) -> Callable[..., AsyncIterator[bytes]]:
    async def method(self: AnaplanAsyncHook, *args: Any, **kwargs: Any) -> AsyncIterator[bytes]:
        client = await self._shared_client()
        async for chunk in getattr(client, name)(*args, **kwargs):
            yield chunk

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"Async-iterate ``AnaplanAsyncClient.{name}`` with this hook's client."
    return method


for _name in DELEGATED_METHODS:
    setattr(AnaplanHook, _name, _sync_method(_name))
    setattr(AnaplanAsyncHook, _name, _async_method(_name))
for _name in DELEGATED_STREAMS:
    setattr(AnaplanHook, _name, _sync_stream(_name))
    setattr(AnaplanAsyncHook, _name, _async_stream(_name))
del _name
