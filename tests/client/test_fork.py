"""The sync facade across ``fork`` and next to async clients: a fresh loop in a child, never a hang.

Every scenario runs in a child process (multiprocessing ``fork`` context) or is bounded by
pytest-timeout, so a regression fails the test instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_anaplan.client import AnaplanAsyncClient, AnaplanClient, ClientConfig
from airflow_provider_anaplan.client.sync import LoopThread, run_sync

FORK = multiprocessing.get_context("fork")
IMPORT_PRODUCTS = "112000000000"
FILE_PRODUCTS = "113000000000"
PRODUCTS = b"Product,Category,Discontinued\nP100,Tools,false\n"


def in_child(work: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Run ``work`` in a forked child; return its result, or fail if it raises or hangs."""
    parent_end, child_end = FORK.Pipe(duplex=False)

    def main() -> None:
        try:
            child_end.send(("ok", work()))
        except BaseException as exc:  # report, never hang the parent
            child_end.send(("error", f"{type(exc).__name__}: {exc}"))

    process = FORK.Process(target=main, daemon=True)
    process.start()
    child_end.close()
    try:
        if not parent_end.poll(timeout):
            pytest.fail(f"the forked child hung for {timeout:g} s")
        kind, value = parent_end.recv()
    finally:
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join(5)
    assert kind == "ok", value
    return value


@pytest.mark.timeout(90)
def test_client_used_in_parent_then_in_forked_child(make_config: Callable[..., ClientConfig], anaplan_emulator: Any) -> None:
    """A client with a running loop thread, pooled connections and a cached token, used after fork."""
    with AnaplanClient(make_config()) as client:
        assert len(client.list_files()) == 4  # loop thread up, connection pooled, token cached

        def child() -> tuple[int, int, str]:
            files = client.list_files()
            client.upload_file(FILE_PRODUCTS, PRODUCTS)
            status = client.run_action(IMPORT_PRODUCTS)
            return os.getpid(), len(files), status.outcome.value

        pid, count, outcome = in_child(child)
        assert pid != os.getpid() and count == 4 and outcome == "success"
        # the parent's client is untouched by what the child did
        assert len(client.list_files()) == 4
        assert client._runner.thread.is_alive()


@pytest.mark.timeout(90)
def test_forked_child_closing_an_inherited_client_does_not_hang_or_disturb_the_parent(
    make_config: Callable[..., ClientConfig], anaplan_emulator: Any
) -> None:
    client = AnaplanClient(make_config())
    try:
        client.list_files()

        def child() -> bool:
            client.close()
            client.close()
            return True

        assert in_child(child) is True
        assert len(client.list_imports()) == 3  # the parent's loop still serves
    finally:
        client.close()


@pytest.mark.timeout(90)
def test_fork_from_a_pool_inside_a_task(make_config: Callable[..., ClientConfig], anaplan_emulator: Any) -> None:
    """What a PythonOperator doing multiprocessing does: a pool of forked workers sharing one client."""
    global _POOL_CLIENT
    client = _POOL_CLIENT = AnaplanClient(make_config())
    try:
        client.list_files()
        with FORK.Pool(3) as pool:
            result = pool.map_async(_count_imports, range(6))
            counts = result.get(timeout=60)
        assert counts == [3] * 6
        assert len(client.list_imports()) == 3
    finally:
        _POOL_CLIENT = None
        client.close()


_POOL_CLIENT: AnaplanClient | None = None


def _count_imports(_: int) -> int:
    assert _POOL_CLIENT is not None  # inherited through fork
    return len(_POOL_CLIENT.list_imports())


def test_bare_loop_thread_in_a_forked_child_raises_instead_of_hanging() -> None:
    runner = LoopThread("test-loop")
    try:
        assert runner.run(asyncio.sleep(0, result=1)) == 1

        def child() -> str:
            try:
                runner.run(asyncio.sleep(0))
            except RuntimeError as exc:
                return str(exc)
            return "no error"

        assert "forked" in in_child(child)
        assert runner.run(asyncio.sleep(0, result=2)) == 2
    finally:
        runner.close()


def test_run_sync_works_in_a_forked_child() -> None:
    assert in_child(lambda: run_sync(asyncio.sleep(0, result="fine"))) == "fine"


@pytest.mark.timeout(60)
def test_call_in_flight_when_the_loop_dies_raises(make_config: Callable[..., ClientConfig], anaplan_emulator: Any) -> None:
    """Bounded waits: if the loop thread stops under a blocked caller, the caller gets an error."""
    anaplan_emulator.admin.configure(min_task_seconds=30)
    client = AnaplanClient(make_config())
    try:
        client.upload_file(FILE_PRODUCTS, PRODUCTS)
        task_id = client.start_task(IMPORT_PRODUCTS)
        errors: list[BaseException] = []

        def wait() -> None:
            try:
                client.wait_for_task(IMPORT_PRODUCTS, task_id, poll_interval=0.1)
            except BaseException as exc:
                errors.append(exc)

        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        time.sleep(0.5)
        client._runner.loop.call_soon_threadsafe(client._runner.loop.stop)  # the loop dies under the caller
        waiter.join(15)
        assert not waiter.is_alive(), "the blocked call hung after its loop stopped"
        assert errors and isinstance(errors[0], RuntimeError) and "stopped" in str(errors[0]), errors
    finally:
        client.close()


def _sync_call_while_async_client_authenticates(config: ClientConfig) -> int:
    """In one thread: an async client is mid-authentication (holding the identity's token lock) when
    a coroutine makes a blocking sync call with the same identity."""

    async def main() -> int:
        async with AnaplanAsyncClient(config) as aclient:
            first = asyncio.ensure_future(aclient.list_files())
            await asyncio.sleep(0.3)  # the authentication request is in flight (delayed by the emulator)
            with AnaplanClient(config) as sync_client:
                count = len(sync_client.list_imports())  # blocks this loop: must not deadlock
            await first
            return count

    return asyncio.run(main())


@pytest.mark.timeout(90)
def test_sync_call_while_an_async_client_of_the_same_identity_authenticates(
    make_config: Callable[..., ClientConfig], anaplan_emulator: Any
) -> None:
    anaplan_emulator.admin.add_fault(method="POST", path_regex="/token/authenticate", delay_ms=1500, count=1)
    config = make_config()
    assert in_child(lambda: _sync_call_while_async_client_authenticates(config), timeout=20) == 3
