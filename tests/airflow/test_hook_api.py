"""The hooks' API: every public client method written out, typed, in the bodies of AnaplanHook and
AnaplanAsyncHook with the client's signature; one client per hook; nothing of the client at import."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_anaplan.client.bulk import AnaplanAsyncClient
from airflow_provider_anaplan.client.sync import AnaplanClient
from airflow_provider_anaplan.hooks.anaplan import (
    DELEGATED_METHODS,
    DELEGATED_STREAMS,
    AnaplanAsyncHook,
    AnaplanHook,
)

#: the client's own lifecycle, not part of the hooks' API (they have close() / aclose())
LIFECYCLE = {"aclose"}
FILE_PRODUCTS = "113000000000"


def client_api() -> dict[str, Callable[..., Any]]:
    """Every public coroutine / async-generator method of the async client (the source of truth)."""
    api: dict[str, Callable[..., Any]] = {}
    for klass in reversed(AnaplanAsyncClient.__mro__):  # the bulk class and every family mixin
        for name, member in vars(klass).items():
            if (
                not name.startswith("_")
                and name not in LIFECYCLE
                and (inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member))
            ):
                api[name] = member
    return api


def test_the_client_api_includes_the_recent_methods() -> None:
    api = client_api()
    assert {"resolve_start", "acquire_file_lease", "release_file_lease", "upload_file", "run_action"} <= set(api)
    assert {"get_file_stream", "get_import_dump_stream", "get_process_dump_stream"} <= set(api)
    assert {"get_job_status", "cancel_job", "sync_models", "run_integration", "get_list_items"} <= set(api)
    assert all(hasattr(AnaplanClient, name) for name in api)  # the sync client exposes all of them too


def written(cls: type, name: str) -> Callable[..., Any]:
    """The hook method as written in a class body: the hook class or one of its family mixins
    (``hooks/transactional.py``, ``alm.py``, ``cloudworks.py``), never attached afterwards."""
    for klass in cls.__mro__:
        if name in vars(klass) and klass.__module__.startswith("airflow_provider_anaplan.hooks."):
            member = vars(klass)[name]
            assert member.__qualname__ == f"{klass.__qualname__}.{name}", f"{cls.__name__}.{name} was attached"
            return member
    raise AssertionError(f"{cls.__name__}.{name} is not written in the class body of a hook class")


@pytest.mark.parametrize("name", sorted(client_api()))
def test_async_hook_method_has_the_client_signature(name: str) -> None:
    client_fn = client_api()[name]
    hook_fn = written(AnaplanAsyncHook, name)
    assert inspect.iscoroutinefunction(hook_fn) == inspect.iscoroutinefunction(client_fn)
    assert inspect.isasyncgenfunction(hook_fn) == inspect.isasyncgenfunction(client_fn)
    assert inspect.signature(hook_fn) == inspect.signature(client_fn)
    assert hook_fn.__doc__


@pytest.mark.parametrize("name", sorted(client_api()))
def test_sync_hook_method_has_the_client_signature(name: str) -> None:
    client_sig = inspect.signature(client_api()[name])
    hook_fn = written(AnaplanHook, name)
    assert not inspect.iscoroutinefunction(hook_fn) and not inspect.isasyncgenfunction(hook_fn)
    hook_sig = inspect.signature(hook_fn)
    assert hook_sig.parameters == client_sig.parameters
    # blocking: a coroutine's result as is, an async iterator of bytes as an iterator
    expected = str(client_sig.return_annotation).replace("AsyncIterator[", "Iterator[")
    assert hook_sig.return_annotation == expected
    assert hook_fn.__doc__


def test_every_parameter_and_return_is_annotated() -> None:
    for cls in (AnaplanHook, AnaplanAsyncHook):
        for name in client_api():
            sig = inspect.signature(written(cls, name))
            assert sig.return_annotation is not inspect.Signature.empty, f"{cls.__name__}.{name}"
            for param in list(sig.parameters.values())[1:]:
                assert param.annotation is not inspect.Parameter.empty, f"{cls.__name__}.{name}({param.name})"


def test_the_declared_lists_are_derived_from_the_methods() -> None:
    assert set(DELEGATED_METHODS) | set(DELEGATED_STREAMS) == set(client_api())
    assert set(DELEGATED_STREAMS) == {n for n, f in client_api().items() if inspect.isasyncgenfunction(f)}
    assert not set(DELEGATED_METHODS) & set(DELEGATED_STREAMS)


def test_importing_the_hooks_loads_no_client_module() -> None:
    code = (
        "import sys, airflow_provider_anaplan.hooks.anaplan, airflow_provider_anaplan.operators.lineage;"
        "print(sorted(m for m in sys.modules if m.startswith('airflow_provider_anaplan.client')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_sync_hook_uses_one_client(emulator: Any, airflow_db: str) -> None:
    with AnaplanHook() as hook:
        assert hook.get_model()["id"] == emulator.model_id
        client = hook.get_conn()
        assert FILE_PRODUCTS in {f["id"] for f in hook.list_files()}
        assert hook.upload_file(FILE_PRODUCTS, b"Product,Category,Discontinued\nP1,Tools,false\n") > 0
        assert b"P1,Tools" in b"".join(hook.get_file_stream(FILE_PRODUCTS))
        assert hook.get_conn() is client
    assert hook._client is None  # closed on exit


def test_async_hook_shares_one_client(emulator: Any, airflow_db: str) -> None:
    async def main() -> None:
        hook = AnaplanAsyncHook()
        try:
            assert (await hook.get_model())["id"] == emulator.model_id
            client = hook._client
            assert client is not None
            await hook.upload_file(FILE_PRODUCTS, b"Product,Category,Discontinued\nP2,Tools,false\n")
            chunks = [chunk async for chunk in hook.get_file_stream(FILE_PRODUCTS)]
            assert b"P2,Tools" in b"".join(chunks)
            assert hook._client is client
        finally:
            await hook.aclose()
        assert hook._client is None

    asyncio.run(main())
