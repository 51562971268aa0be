"""AnaplanClient: the blocking face of :class:`AnaplanAsyncClient`.

Each ``AnaplanClient`` owns one event loop running in a daemon thread. Its methods are descriptors
that submit the async core's coroutine to that loop (``asyncio.run_coroutine_threadsafe``) and wait;
async iterators come back as sync iterators. Nothing is implemented twice, and it works from any
thread — with or without a running event loop of its own (e.g. inside an Airflow worker).

Fork safety: a loop thread does not survive ``fork``. An ``AnaplanClient`` used in a forked child
(``multiprocessing`` with the fork start method inside a task) notices the new process id and builds a
fresh loop thread and a fresh async client (new connections, the child's own token cache) instead of
submitting work to a loop that no longer runs there; the parent's loop is never touched from the child.
A bare :class:`LoopThread` used in a child raises a clear ``RuntimeError``. Waits are bounded: a call
whose loop thread stops or dies raises instead of waiting forever.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Coroutine, Iterator
from typing import Any, ParamSpec, TypeVar

import httpx

from airflow_provider_anaplan.client.alm import AlmFace
from airflow_provider_anaplan.client.blocking import blocked_in_sync_call
from airflow_provider_anaplan.client.bulk import AnaplanAsyncClient
from airflow_provider_anaplan.client.cloudworks import CloudWorksFace
from airflow_provider_anaplan.client.config import ClientConfig
from airflow_provider_anaplan.client.faces import Blocking, Streaming
from airflow_provider_anaplan.client.transactional import TransactionalFace

__all__ = ["AnaplanClient", "LoopThread", "run_sync"]

log = logging.getLogger(__name__)
#: seconds to wait for a new loop thread to start
_START_TIMEOUT = 30.0
#: how often a blocked caller checks that the loop thread is still alive (seconds)
_LIVENESS_INTERVAL = 0.5

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class LoopThread:
    """An event loop running forever in a daemon thread; run coroutines on it from other threads."""

    def __init__(self, name: str = "anaplan-client-loop") -> None:
        self.pid = os.getpid()
        self.loop = loop = asyncio.new_event_loop()
        ready = threading.Event()

        def main() -> None:  # must not reference self, so an unclosed client can still be collected
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        self.thread = threading.Thread(target=main, name=name, daemon=True)
        self.thread.start()
        if not ready.wait(_START_TIMEOUT):
            loop.call_soon_threadsafe(loop.stop)
            raise RuntimeError(
                f"The Anaplan client's event-loop thread did not start within {_START_TIMEOUT:g} s"
            )
        self._finalizer = weakref.finalize(self, _stop_loop, self.loop, self.thread, self.pid)

    @property
    def forked(self) -> bool:
        """True in a child process forked after this loop thread started (it does not run there)."""
        return os.getpid() != self.pid

    def abandon(self) -> None:
        """In a forked child: forget the parent's loop without touching it (it is shared state)."""
        self._finalizer.detach()

    def run(self, coro: Awaitable[T]) -> T:
        """Run ``coro`` on the loop thread and block until it finishes (Ctrl-C cancels it).

        :raises RuntimeError: called from the loop thread itself, after :meth:`close`, in a forked child
            (the thread does not exist there), or when the loop stops or dies while the call waits.
        """
        if self.forked:
            _close_coroutine(coro)
            raise RuntimeError(
                "This Anaplan event-loop thread belongs to the parent process (used in a forked child); "
                "create a new client in the child"
            )
        if threading.current_thread() is self.thread:
            _close_coroutine(coro)
            raise RuntimeError(
                "AnaplanClient called from its own event-loop thread (e.g. in on_rotate); use the async client"
            )
        if not self.loop.is_running() or not self.thread.is_alive():
            _close_coroutine(coro)
            raise RuntimeError("This AnaplanClient is closed")
        future = asyncio.run_coroutine_threadsafe(_as_coroutine(coro), self.loop)
        try:
            with blocked_in_sync_call():
                while True:
                    try:
                        return future.result(timeout=_LIVENESS_INTERVAL)
                    except TimeoutError:
                        if future.done():
                            raise  # the coroutine itself raised TimeoutError
                        if not self.thread.is_alive() or not self.loop.is_running():
                            raise RuntimeError(
                                "The Anaplan client's event loop stopped while a call was waiting for it"
                            ) from None
        except BaseException:
            try:
                future.cancel()
            except RuntimeError:  # the loop is already closed: nothing left to cancel
                pass
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
            if aclose is not None and not self.forked and self.loop.is_running():
                self.run(aclose())

    def close(self) -> None:
        """Stop the loop and join the thread."""
        self._finalizer()


def _stop_loop(loop: asyncio.AbstractEventLoop, thread: threading.Thread, pid: int) -> None:
    if os.getpid() != pid:
        return  # a forked child: the loop (and its selector) belong to the parent; never touch them
    if loop.is_running():
        loop.call_soon_threadsafe(loop.stop)
        if threading.current_thread() is not thread:
            thread.join(timeout=10)
    if not loop.is_running() and not loop.is_closed():
        loop.close()


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _close_coroutine(awaitable: Awaitable[Any]) -> None:
    """Close a coroutine that will never run (no "was never awaited" warning)."""
    close = getattr(awaitable, "close", None)
    if callable(close):
        close()


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion on a private loop thread (for CLIs, e.g. the device grant)."""
    runner = LoopThread("anaplan-run-sync")
    try:
        return runner.run(coro)
    finally:
        runner.close()


A = AnaplanAsyncClient


class AnaplanClient(TransactionalFace, AlmFace, CloudWorksFace):
    """Blocking Anaplan client: the same methods as :class:`AnaplanAsyncClient`.

    ``with AnaplanClient(config) as client: client.upload_and_import(...)``. Streams
    (``get_file_stream``, dump streams) are sync iterators; sync iterables given to uploads are
    pulled in a worker thread.
    """

    def __init__(self, config: ClientConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.async_client = AnaplanAsyncClient(config, transport=transport)
        self.config = config
        self._transport = transport
        self._loop_thread = LoopThread()
        self._closed = False
        self._fork_guard = threading.Lock()

    @property
    def _runner(self) -> LoopThread:
        """The loop thread of this process (rebuilt, with a new async client, in a forked child)."""
        runner = self._loop_thread
        if runner.forked and not self._closed:
            runner = self._after_fork()
        return runner

    def _after_fork(self) -> LoopThread:
        # A lock copied through fork may look held forever: the child uses a fresh one (bounded wait).
        guard = self._fork_guard
        if not guard.acquire(timeout=_START_TIMEOUT):
            raise RuntimeError("Timed out preparing the Anaplan client in a forked child")
        try:
            old = self._loop_thread
            if not old.forked:
                return old  # another thread of the child did it
            if self._transport is not None:
                raise RuntimeError(
                    "This AnaplanClient was created with a custom transport in the parent process; its "
                    "connections cannot be shared with a forked child: create a new client in the child"
                )
            old.abandon()  # the parent's loop, connections and token entry stay the parent's
            log.info(
                "AnaplanClient used in a forked child process (pid %d): starting a fresh loop", os.getpid()
            )
            self.async_client = AnaplanAsyncClient(self.config)
            self._loop_thread = LoopThread()
            return self._loop_thread
        finally:
            guard.release()

    def __enter__(self) -> AnaplanClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close connections and stop the loop thread (in a forked child that never used this client:
        only forget the parent's)."""
        runner = self._loop_thread
        if runner.forked:
            runner.abandon()
            self._closed = True
            return
        self._closed = True
        if runner.loop.is_running() and runner.thread.is_alive():
            try:
                runner.run(self.async_client.aclose())
            finally:
                runner.close()

    list_workspaces = Blocking(A.list_workspaces)
    list_models = Blocking(A.list_models)
    get_model = Blocking(A.get_model)
    get_model_status = Blocking(A.get_model_status)
    list_files = Blocking(A.list_files)
    list_imports = Blocking(A.list_imports)
    list_exports = Blocking(A.list_exports)
    list_actions = Blocking(A.list_actions)
    list_processes = Blocking(A.list_processes)
    get_import = Blocking(A.get_import)
    get_export = Blocking(A.get_export)
    get_process = Blocking(A.get_process)
    get_action = Blocking(A.get_action)
    upload_file = Blocking(A.upload_file)
    upload_file_stream = Blocking(A.upload_file_stream)
    get_file = Blocking(A.get_file)
    resolve_start = Blocking(A.resolve_start)
    acquire_file_lease = Blocking(A.acquire_file_lease)
    release_file_lease = Blocking(A.release_file_lease)
    download_file = Blocking(A.download_file)
    get_file_stream = Streaming(A.get_file_stream)
    list_tasks = Blocking(A.list_tasks)
    start_task = Blocking(A.start_task)
    get_task_status = Blocking(A.get_task_status)
    cancel_task = Blocking(A.cancel_task)
    get_job_status = Blocking(A.get_job_status)
    cancel_job = Blocking(A.cancel_job)
    wait_for_task = Blocking(A.wait_for_task)
    run_action = Blocking(A.run_action)
    upload_and_import = Blocking(A.upload_and_import)
    export_and_download = Blocking(A.export_and_download)
    get_import_dump_stream = Streaming(A.get_import_dump_stream)
    get_process_dump_stream = Streaming(A.get_process_dump_stream)
    download_failure_dumps = Blocking(A.download_failure_dumps)
