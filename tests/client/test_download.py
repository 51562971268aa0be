"""The download engine over real HTTP: parallel chunk GETs in worker threads, positional writes, retries,
re-authentication, atomicity, object storage, gzip and bounded read-ahead."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_anaplan.client import (
    AnaplanAsyncClient,
    AnaplanClient,
    BasicCredentials,
    ClientConfig,
    transfer,
)
from airflow_provider_anaplan.client.transfer_http import ThreadedTransport
from airflow_provider_anaplan.exceptions import AnaplanNotFoundError, AnaplanTransportError

MB = 1024 * 1024
FILE = "113000000001"
GET_CHUNK = "GET /2/0/workspaces/{workspaceId}/models/{modelId}/files/{fileId}/chunks/{chunkId}"
AUTH = "POST /token/authenticate"
ROOT = Path(__file__).resolve().parents[2]


def content(size: int) -> bytes:
    """Distinct bytes per position (a misplaced chunk changes the result)."""
    block = b"".join(i.to_bytes(4, "big") for i in range(MB // 4))
    return (block * (size // len(block) + 1))[:size]


def no_leftovers(folder: Path, *expected: str) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected)


async def upload(client: AnaplanAsyncClient, data: bytes) -> None:
    await client.upload_file(FILE, data)


@pytest.mark.parametrize("size", [1, 3 * MB + 17])
async def test_download_identical_and_uses_worker_threads(
    make_config, anaplan_emulator, tmp_path, size
) -> None:
    data = content(size)
    async with AnaplanAsyncClient(make_config(chunk_size_mb=1, max_concurrency=3)) as client:
        await upload(client, data)
        assert await client.download_file(FILE, tmp_path / "out.csv") == size
        session = transfer.chunk_session(client)
        assert isinstance(session.client._transport, ThreadedTransport)  # not the loop-thread httpx path
        assert transfer.chunk_session(client) is session  # one per client session
        assert await client.get_file(FILE) == data
    assert (tmp_path / "out.csv").read_bytes() == data
    no_leftovers(tmp_path, "out.csv")


async def test_empty_file_downloads_as_empty(make_config, anaplan_emulator, tmp_path) -> None:
    async with AnaplanAsyncClient(make_config()) as client:
        await upload(client, b"x")
        await client.session.request("DELETE", f"{client.model_url}/files/{FILE}")  # no content left
        assert await client.download_file(FILE, tmp_path / "empty.csv") == 0
        assert await client.get_file(FILE) == b""
    assert (tmp_path / "empty.csv").read_bytes() == b""


def test_sync_face_same_engine(make_config, anaplan_emulator, tmp_path) -> None:
    data = content(2 * MB + 5)
    with AnaplanClient(make_config(chunk_size_mb=1)) as client:
        client.upload_file(FILE, data)
        assert client.download_file(FILE, str(tmp_path / "sync.csv")) == len(data)
    assert (tmp_path / "sync.csv").read_bytes() == data


@pytest.mark.parametrize("fault", [{"status": 500}, {"drop": True}, {"status": 429, "retry_after": 0}])
async def test_chunk_failing_once_is_retried(make_config, anaplan_emulator, tmp_path, fault) -> None:
    data = content(4 * MB)
    async with AnaplanAsyncClient(make_config(chunk_size_mb=1, compression=False)) as client:
        await upload(client, data)
        anaplan_emulator.admin.reset_counters()
        anaplan_emulator.admin.add_fault(method="GET", path_regex="/chunks/2$", count=1, **fault)
        assert await client.download_file(FILE, tmp_path / "out.csv") == len(data)
    assert (tmp_path / "out.csv").read_bytes() == data
    assert anaplan_emulator.admin.counters()["requests"][GET_CHUNK] == 5  # 4 chunks + 1 retry


async def test_chunk_held_past_timeout_is_retried(make_config, anaplan_emulator, tmp_path) -> None:
    data = content(3 * MB)
    async with AnaplanAsyncClient(make_config(chunk_size_mb=1, timeout=0.5)) as client:
        await upload(client, data)
        anaplan_emulator.admin.reset_counters()
        anaplan_emulator.admin.add_fault(method="GET", path_regex="/chunks/1$", delay_ms=2000, count=1)
        assert await client.download_file(FILE, tmp_path / "out.csv") == len(data)
    assert (tmp_path / "out.csv").read_bytes() == data
    assert anaplan_emulator.admin.counters()["requests"][GET_CHUNK] == 4


async def test_chunk_always_timing_out_fails_clearly(make_config, anaplan_emulator, tmp_path) -> None:
    async with AnaplanAsyncClient(make_config(chunk_size_mb=1, timeout=0.3)) as client:
        await upload(client, content(2 * MB))
        anaplan_emulator.admin.add_fault(method="GET", path_regex="/chunks/1$", delay_ms=1500)
        with pytest.raises(AnaplanTransportError, match=r"GET .*/chunks/1 timed out after 0.3 s"):
            await client.download_file(FILE, tmp_path / "out.csv")
    no_leftovers(tmp_path)


async def test_401_mid_download_reauthenticates(make_config, anaplan_emulator, tmp_path) -> None:
    data = content(6 * MB)
    admin = anaplan_emulator.admin
    async with AnaplanAsyncClient(make_config(chunk_size_mb=1, max_concurrency=1)) as client:
        await upload(client, data)
        admin.reset_counters()
        # a streamed download: the token dies after the first chunks, later chunk GETs answer 401
        parts = []
        async for part in client.get_file_stream(FILE):
            parts.append(part)
            if len(parts) == 2:
                assert admin.expire_tokens() >= 1
        assert b"".join(parts) == data
        statuses = admin.counters()["statuses"]
        assert statuses.get(f"{GET_CHUNK} -> 401", 0) >= 1
        assert admin.counters()["requests"][AUTH] == 1  # one re-authentication
        # the positional path, with a 401 injected on one chunk
        admin.add_fault(method="GET", path_regex="/chunks/4$", status=401, count=1)
        assert await client.download_file(FILE, tmp_path / "out.csv") == len(data)
    assert (tmp_path / "out.csv").read_bytes() == data


async def test_failure_leaves_no_partial_file(make_config, anaplan_emulator, tmp_path) -> None:
    target = tmp_path / "out.csv"
    target.write_bytes(b"previous content")
    async with AnaplanAsyncClient(make_config(chunk_size_mb=1, max_concurrency=2)) as client:
        await upload(client, content(6 * MB))
        anaplan_emulator.admin.add_fault(method="GET", path_regex="/chunks/4$", status=404)
        with pytest.raises(AnaplanNotFoundError, match="chunks/4"):
            await client.download_file(FILE, target)
    assert target.read_bytes() == b"previous content"  # untouched
    no_leftovers(tmp_path, "out.csv")  # no temporary left


async def test_cancelled_download_leaves_nothing(make_config, anaplan_emulator, tmp_path) -> None:
    async with AnaplanAsyncClient(make_config(chunk_size_mb=1)) as client:
        await upload(client, content(4 * MB))
        anaplan_emulator.admin.add_fault(method="GET", path_regex="/chunks/3$", delay_ms=5000)
        task = asyncio.create_task(client.download_file(FILE, tmp_path / "out.csv"))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    no_leftovers(tmp_path)


class FakeObject:
    """An ObjectStoragePath-like destination (open/rename/unlink/parent/name) over a local folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.opened: list[str] = []

    @property
    def parent(self) -> Any:
        return _FakeFolder(self.path.parent, self)

    @property
    def name(self) -> str:
        return self.path.name

    def is_dir(self) -> bool:
        return self.path.is_dir()

    def open(self, mode: str) -> Any:
        self.opened.append(self.path.name)
        return open(self.path, mode)

    def rename(self, target: FakeObject) -> None:
        self.path.rename(target.path)

    def unlink(self) -> None:
        self.path.unlink()


class _FakeFolder:
    def __init__(self, path: Path, origin: FakeObject) -> None:
        self.path, self.origin = path, origin

    def __truediv__(self, name: str) -> FakeObject:
        child = FakeObject(self.path / name)
        child.opened = self.origin.opened
        return child


async def test_object_storage_destination(make_config, anaplan_emulator, tmp_path) -> None:
    data = content(3 * MB + 1)
    destination = FakeObject(tmp_path / "remote.csv")
    async with AnaplanAsyncClient(make_config(chunk_size_mb=1)) as client:
        await upload(client, data)
        assert await client.download_file(FILE, destination) == len(data)
        assert (tmp_path / "remote.csv").read_bytes() == data
        assert destination.opened[0].startswith(".remote.csv.")  # written to a temporary, renamed
        anaplan_emulator.admin.add_fault(method="GET", path_regex="/chunks/2$", status=404)
        with pytest.raises(AnaplanNotFoundError):
            await client.download_file(FILE, FakeObject(tmp_path / "broken.csv"))
    no_leftovers(tmp_path, "remote.csv")


async def test_slow_consumer_bounds_read_ahead(make_config, anaplan_emulator) -> None:
    data = content(10 * MB)
    concurrency = 2
    async with AnaplanAsyncClient(make_config(chunk_size_mb=1, max_concurrency=concurrency)) as client:
        await upload(client, data)
        anaplan_emulator.admin.reset_counters()
        received = 0
        async for part in client.get_file_stream(FILE):
            received += 1
            await asyncio.sleep(0.1)  # a slow consumer: fetched chunks would pile up if unbounded
            fetched = anaplan_emulator.admin.counters()["requests"][GET_CHUNK]
            assert fetched <= received + concurrency, (received, fetched)
            del part
    assert received == 10


async def test_export_and_download_to_path_and_memory_agree(make_config, anaplan_emulator, tmp_path) -> None:
    export = "116000000000"
    async with AnaplanAsyncClient(make_config()) as client:
        size = await client.export_and_download(export, tmp_path / "export.csv")
        assert size == (tmp_path / "export.csv").stat().st_size > 0
        assert await client.export_and_download(export) == (tmp_path / "export.csv").read_bytes()
    no_leftovers(tmp_path, "export.csv")


# ----------------------------------------------------------------------------------------- gzip
@pytest.fixture
def gzip_sink(tmp_path) -> Iterator[tuple[str, bytes]]:
    """The benchmark's bulk-API sink serving a 3.5 MB file in 1 MB chunks, gzip-encoded."""
    data = content(3 * MB + MB // 2)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    sink = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "bulk_sink.py")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert sink.stdout is not None
        url = f"http://127.0.0.1:{int(sink.stdout.readline().split()[1])}"
        httpx.post(
            f"{url}/_sink/load", json={"path": str(source), "chunk_mb": 1, "gzip": True}
        ).raise_for_status()
        raw = httpx.get(
            f"{url}/2/0/workspaces/w/models/m/files/{FILE}/chunks/0", headers={"Accept-Encoding": "gzip"}
        )
        assert raw.headers["Content-Encoding"] == "gzip"  # the sink really sends gzip
        assert raw.content == data[:MB]  # (httpx inflated it)
        yield url, data
    finally:
        sink.terminate()
        sink.wait(10)


async def test_gzip_chunks_are_inflated(gzip_sink, tmp_path) -> None:
    url, data = gzip_sink
    config = ClientConfig(
        credentials=BasicCredentials("u@example.com", "pw"), workspace_id="a" * 32, model_id="B" * 32,
        api_url=f"{url}/2/0", auth_url=url, oauth_url=url,
    )  # fmt: skip
    async with AnaplanAsyncClient(config) as client:
        assert await client.download_file(FILE, tmp_path / "out.bin") == len(data)
        assert await client.get_file(FILE) == data
    assert (tmp_path / "out.bin").read_bytes() == data
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]


async def test_emulator_link_counts_wire_bytes(make_config, anaplan_emulator, tmp_path) -> None:
    """The realistic-link model the benchmark relies on: a byte-rate per direction and wire counters."""
    admin = anaplan_emulator.admin
    data = os.urandom(2 * MB)  # incompressible: wire bytes = content bytes (+ small JSON bodies)
    admin.set_faults(bandwidth_bytes_per_second=8 * MB, latency_ms=5)
    async with AnaplanAsyncClient(make_config(chunk_size_mb=1)) as client:
        began = asyncio.get_running_loop().time()
        await upload(client, data)
        assert await client.download_file(FILE, tmp_path / "out.bin") == len(data)
        elapsed = asyncio.get_running_loop().time() - began
    link = admin.faults()
    assert 2 * MB <= link["bandwidth_bytes_up"] < 2.2 * MB  # gzip of random data is slightly bigger
    assert 2 * MB <= link["bandwidth_bytes_down"] < 2 * MB + 64 * 1024
    assert elapsed >= 0.45  # 2 MB each way at 8 MB/s: the cap holds (a lower bound, not a speed)
    assert (tmp_path / "out.bin").read_bytes() == data


async def test_download_urls_and_iter_urls_for_other_paged_downloads(
    make_config, anaplan_emulator, tmp_path
) -> None:
    """The generic engine (read-request pages will use it): any URL list, concatenated in order."""
    data = content(3 * MB)
    async with AnaplanAsyncClient(make_config(chunk_size_mb=1)) as client:
        await upload(client, data)
        base = f"{client.model_url}/files/{FILE}/chunks"
        urls = [f"{base}/2", f"{base}/0", f"{base}/1"]
        session = transfer.chunk_session(client)
        size = await transfer.download_urls(session, urls, FILE, tmp_path / "pages.bin", max_concurrency=2)
        parts = [p async for p in transfer.iter_urls(session, urls, FILE, max_concurrency=2)]
    expected = data[2 * MB :] + data[:MB] + data[MB : 2 * MB]
    assert size == len(expected) and (tmp_path / "pages.bin").read_bytes() == expected
    assert b"".join(parts) == expected


async def test_long_download_logs_progress(
    make_config, anaplan_emulator, tmp_path, caplog, monkeypatch
) -> None:
    from airflow_provider_anaplan.client import transfer_download

    monkeypatch.setattr(transfer_download, "PROGRESS_EVERY", 0.0)  # every download counts as long
    with caplog.at_level(logging.INFO, logger="airflow_provider_anaplan.client"):
        async with AnaplanAsyncClient(make_config(chunk_size_mb=1, max_concurrency=1)) as client:
            await upload(client, content(3 * MB))
            await client.download_file(FILE, tmp_path / "out.csv")
    assert "Download of 113000000001: chunk 1/3, 1.0 MB" in caplog.text
    assert "Download of 113000000001: done, 3 chunks, 3.0 MB" in caplog.text


def test_a_proxy_in_the_environment_keeps_chunk_gets_on_httpx(monkeypatch: Any) -> None:
    """HTTPS_PROXY is honoured by httpx, not by the threaded transport: chunk GETs must take httpx."""
    from airflow_provider_anaplan.client.bulk import AnaplanAsyncClient
    from airflow_provider_anaplan.client.config import ClientConfig
    from airflow_provider_anaplan.client.credentials import BasicCredentials
    from airflow_provider_anaplan.client.transfer_http import chunk_session

    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    config = ClientConfig(
        credentials=BasicCredentials("u@example.com", "pw-not-used"),
        api_url="https://api.example.com/2/0",
        workspace_id="8a868cd985f53e7701860542f59e276e",
        model_id="75A40874E6B64FA3AE0B4E5D5B4B9A0B",
    )
    client = AnaplanAsyncClient(config)
    assert chunk_session(client) is not client.session  # no proxy: the threaded path
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.com:3128")
    proxied = AnaplanAsyncClient(config)
    assert chunk_session(proxied) is proxied.session
    monkeypatch.setenv("NO_PROXY", "api.example.com")
    bypassed = AnaplanAsyncClient(config)
    assert chunk_session(bypassed) is not bypassed.session
