"""AnaplanClient: the blocking face of :class:`AnaplanAsyncClient`.

Each ``AnaplanClient`` owns one event loop running in a daemon thread. Its methods are descriptors
that submit the async core's coroutine to that loop (``asyncio.run_coroutine_threadsafe``) and wait;
async iterators come back as sync iterators. Nothing is implemented twice, and it works from any
thread — with or without a running event loop of its own (e.g. inside an Airflow worker).
"""

from __future__ import annotations

import asyncio
import functools
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

import httpx

from airflow_provider_anaplan.client.bulk import AnaplanAsyncClient
from airflow_provider_anaplan.client.config import ClientConfig

__all__ = ["AnaplanClient", "LoopThread", "run_sync"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class LoopThread:
    """An event loop running forever in a daemon thread; run coroutines on it from other threads."""

    def __init__(self, name: str = "anaplan-client-loop") -> None:
        self.loop = loop = asyncio.new_event_loop()
        ready = threading.Event()

        def main() -> None:  # must not reference self, so an unclosed client can still be collected
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        self.thread = threading.Thread(target=main, name=name, daemon=True)
        self.thread.start()
        ready.wait()
        self._finalizer = weakref.finalize(self, _stop_loop, self.loop, self.thread)

    def run(self, coro: Awaitable[T]) -> T:
        """Run ``coro`` on the loop thread and block until it finishes (Ctrl-C cancels it)."""
        if threading.current_thread() is self.thread:
            raise RuntimeError(
                "AnaplanClient called from its own event-loop thread (e.g. in on_rotate); use the async client"
            )
        if not self.loop.is_running():
            raise RuntimeError("This AnaplanClient is closed")
        future = asyncio.run_coroutine_threadsafe(_as_coroutine(coro), self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def iterate(self, agen: AsyncIterator[T]) -> Iterator[T]:
        """Expose an async iterator as a sync iterator (each step runs on the loop thread)."""
        try:
            while True:
                try:
                    item = self.run(agen.__anext__())
                except StopAsyncIteration:
                    return
                yield item
        finally:
            aclose = getattr(agen, "aclose", None)
            if aclose is not None and self.loop.is_running():
                self.run(aclose())

    def close(self) -> None:
        """Stop the loop and join the thread."""
        self._finalizer()


def _stop_loop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    if loop.is_running():
        loop.call_soon_threadsafe(loop.stop)
        if threading.current_thread() is not thread:
            thread.join(timeout=10)
    if not loop.is_running() and not loop.is_closed():
        loop.close()


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion on a private loop thread (for CLIs, e.g. the device grant)."""
    runner = LoopThread("anaplan-run-sync")
    try:
        return runner.run(coro)
    finally:
        runner.close()


class _Blocking(Generic[P, R]):
    """Descriptor: the blocking version of an ``AnaplanAsyncClient`` coroutine method."""

    def __init__(self, method: Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]) -> None:
        self.method = method
        self.__doc__ = method.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> _Blocking[P, R]: ...
    @overload
    def __get__(self, obj: AnaplanClient, owner: type) -> Callable[P, R]: ...
    def __get__(self, obj: AnaplanClient | None, owner: type) -> Any:
        if obj is None:
            return self
        target = getattr(obj.async_client, self.name)

        @functools.wraps(self.method)
        def call(*args: Any, **kwargs: Any) -> R:
            return obj._runner.run(target(*args, **kwargs))

        return call


class _Streaming(Generic[P, T]):
    """Descriptor: a sync iterator over an ``AnaplanAsyncClient`` async-generator method."""

    def __init__(self, method: Callable[Concatenate[Any, P], AsyncIterator[T]]) -> None:
        self.method = method
        self.__doc__ = method.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> _Streaming[P, T]: ...
    @overload
    def __get__(self, obj: AnaplanClient, owner: type) -> Callable[P, Iterator[T]]: ...
    def __get__(self, obj: AnaplanClient | None, owner: type) -> Any:
        if obj is None:
            return self
        target = getattr(obj.async_client, self.name)

        @functools.wraps(self.method)
        def call(*args: Any, **kwargs: Any) -> Iterator[T]:
            return obj._runner.iterate(target(*args, **kwargs))

        return call


A = AnaplanAsyncClient


class AnaplanClient:
    """Blocking Anaplan client: the same methods as :class:`AnaplanAsyncClient`.

    ``with AnaplanClient(config) as client: client.upload_and_import(...)``. Streams
    (``get_file_stream``, dump streams) are sync iterators; sync iterables given to uploads are
    pulled in a worker thread.
    """

    def __init__(self, config: ClientConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.async_client = AnaplanAsyncClient(config, transport=transport)
        self.config = config
        self._runner = LoopThread()

    def __enter__(self) -> AnaplanClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close connections and stop the loop thread."""
        if self._runner.loop.is_running():
            try:
                self._runner.run(self.async_client.aclose())
            finally:
                self._runner.close()

    list_workspaces = _Blocking(A.list_workspaces)
    list_models = _Blocking(A.list_models)
    get_model = _Blocking(A.get_model)
    get_model_status = _Blocking(A.get_model_status)
    list_files = _Blocking(A.list_files)
    list_imports = _Blocking(A.list_imports)
    list_exports = _Blocking(A.list_exports)
    list_actions = _Blocking(A.list_actions)
    list_processes = _Blocking(A.list_processes)
    get_import = _Blocking(A.get_import)
    get_export = _Blocking(A.get_export)
    get_process = _Blocking(A.get_process)
    get_action = _Blocking(A.get_action)
    upload_file = _Blocking(A.upload_file)
    upload_file_stream = _Blocking(A.upload_file_stream)
    get_file = _Blocking(A.get_file)
    download_file = _Blocking(A.download_file)
    get_file_stream = _Streaming(A.get_file_stream)
    list_tasks = _Blocking(A.list_tasks)
    start_task = _Blocking(A.start_task)
    get_task_status = _Blocking(A.get_task_status)
    cancel_task = _Blocking(A.cancel_task)
    wait_for_task = _Blocking(A.wait_for_task)
    run_action = _Blocking(A.run_action)
    upload_and_import = _Blocking(A.upload_and_import)
    export_and_download = _Blocking(A.export_and_download)
    get_import_dump_stream = _Streaming(A.get_import_dump_stream)
    get_process_dump_stream = _Streaming(A.get_process_dump_stream)
    download_failure_dumps = _Blocking(A.download_failure_dumps)
