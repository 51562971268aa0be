"""The sync face: same methods, driven on a private loop thread, usable from any thread."""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
from collections.abc import Iterator

import httpx

from airflow_provider_anaplan.client import AnaplanAsyncClient, AnaplanClient, TaskStatus

MB = 1024 * 1024


class RecordingTransport(httpx.AsyncBaseTransport):
    """Real HTTP transport that remembers task POST bodies."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.task_bodies: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/tasks"):
            self.task_bodies.append(await request.aread())
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_sync_methods_mirror_async_ones() -> None:
    public = {
        n for n, v in vars(AnaplanAsyncClient).items() if not n.startswith("_") and inspect.isfunction(v)
    }
    public -= {"aclose"}
    assert public <= set(vars(AnaplanClient)), public - set(vars(AnaplanClient))
    assert AnaplanClient.upload_file.__doc__ == AnaplanAsyncClient.upload_file.__doc__


def test_sync_client_from_plain_thread(make_config, anaplan_emulator) -> None:
    results: dict[str, object] = {}
    transport = RecordingTransport()

    def work() -> None:
        with AnaplanClient(make_config(chunk_size_mb=1), transport=transport) as client:
            assert threading.current_thread().name == "worker"
            client.upload_file(113000000001, iter([b"Product,Month,Revenue\n", "P001,Jan 26,5\n" * 100_000]))
            results["chunks"] = [len(c) for c in client.get_file_stream(113000000001)]
            results["status"] = client.run_action(112000000002, mapping_parameters={"Version": "Budget"})
            results["files"] = client.list_files()

    thread = threading.Thread(target=work, name="worker")
    thread.start()
    thread.join(60)
    assert isinstance(results["status"], TaskStatus) and results["status"].is_success
    assert sum(results["chunks"]) == len(b"Product,Month,Revenue\n") + 14 * 100_000  # type: ignore[arg-type]
    assert len(results["files"]) == 4  # type: ignore[arg-type]
    body = json.loads(transport.task_bodies[0])
    assert list(body) == ["localeName", "mappingParameters"]  # localeName first
    assert body["mappingParameters"] == [{"entityType": "Version", "entityName": "Budget"}]


async def test_sync_client_inside_a_running_loop(make_config, anaplan_emulator) -> None:
    """Called from a coroutine (a thread that has a running loop), it still works."""
    with AnaplanClient(make_config()) as client:
        assert len(client.list_imports()) == 3
        await asyncio.sleep(0)


def test_stream_abandoned_early_and_close_twice(make_config, anaplan_emulator) -> None:
    client = AnaplanClient(make_config(chunk_size_mb=1))
    client.upload_file(113000000001, b"z" * (3 * MB))
    stream: Iterator[bytes] = client.get_file_stream(113000000001)
    assert len(next(stream)) == MB
    stream.close()  # type: ignore[attr-defined]
    client.close()
    client.close()
    assert not client._runner.thread.is_alive()
