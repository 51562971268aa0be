"""Streaming upload/download through the emulator: byte-identical, chunked, failing as a whole."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from airflow_provider_anaplan.client import AnaplanAsyncClient, Content
from airflow_provider_anaplan.client.transfer import _rechunk
from airflow_provider_anaplan.exceptions import AnaplanConfigError, AnaplanNotFoundError, AnaplanUploadError

MB = 1024 * 1024
FILE = "113000000001"
PUT_CHUNK = "PUT /2/0/workspaces/{workspaceId}/models/{modelId}/files/{fileId}/chunks/{chunkId}"
SET_COUNT = "POST /2/0/workspaces/{workspaceId}/models/{modelId}/files/{fileId}"
COMPLETE = "POST /2/0/workspaces/{workspaceId}/models/{modelId}/files/{fileId}/complete"


def multibyte_text(size: int) -> str:
    """UTF-8 text of about ``size`` bytes whose 2-, 3- and 4-byte characters straddle 1 MB boundaries."""
    line = "Product,Ünïcödé ✓ 日本語 🚀,Zürich €,naïve\n"
    return line * (size // len(line.encode()) + 1) + "🚀"


@pytest.fixture
def text() -> str:
    value = multibyte_text(5 * MB)
    raw = value.encode()
    assert any(not raw[i : i + 1].isascii() for i in (MB - 1, MB, 2 * MB, 3 * MB))  # boundaries inside chars
    return value


async def test_rechunk_exact_sizes() -> None:
    async def pieces() -> AsyncIterator[bytes]:
        for size in (1, 5, 10, 3, 0, 25, 2):
            yield b"a" * size

    out = [c async for c in _rechunk(pieces(), 7)]
    assert [len(c) for c in out] == [7, 7, 7, 7, 7, 7, 4]


@pytest.mark.parametrize("compression", [True, False])
async def test_upload_download_identical_bytes_and_str(
    make_config, anaplan_emulator, text, compression
) -> None:
    config = make_config(chunk_size_mb=1, max_concurrency=3, compression=compression)
    async with AnaplanAsyncClient(config) as client:
        sent = await client.upload_file(FILE, Content(text))  # a str is a path: text goes in Content
        assert sent == len(text.encode())
        assert await client.get_file(FILE) == text.encode()
        chunks = [c async for c in client.get_file_stream(FILE)]
    assert [len(c) for c in chunks[:-1]] == [MB] * (len(chunks) - 1)
    counters = anaplan_emulator.admin.counters()["requests"]
    assert counters[PUT_CHUNK] == len(chunks) == 6
    assert COMPLETE not in counters  # known size: chunkCount = n, no complete


async def test_upload_sources(make_config, anaplan_emulator, text, tmp_path: Path) -> None:
    raw = text.encode()
    path = tmp_path / "data.csv"
    path.write_bytes(raw)

    def lines() -> Iterator[str]:
        yield from text.splitlines(keepends=True)

    async def agen() -> AsyncIterator[bytes]:
        for start in range(0, len(raw), 333_333):
            yield raw[start : start + 333_333]

    class StoragePath:  # ObjectStoragePath-like: only .open()
        def open(self, mode: str) -> io.BufferedReader:
            return open(path, mode)

    sources = [raw, bytearray(raw), path, StoragePath(), lambda: open(path, "rb"), lines, agen]
    async with AnaplanAsyncClient(make_config(chunk_size_mb=1)) as client:
        for source in sources:
            value = source() if callable(source) and not isinstance(source, StoragePath) else source
            await client.upload_file(FILE, value)
            assert anaplan_emulator.admin.file_content(FILE) == raw, source
            if hasattr(value, "close"):
                value.close()


async def test_stream_upload_uses_unknown_count_and_complete(make_config, anaplan_emulator, text) -> None:
    raw = text.encode()
    async with AnaplanAsyncClient(make_config(chunk_size_mb=1)) as client:
        await client.upload_file_stream(FILE, iter([raw[:100], raw[100:]]))
    counters = anaplan_emulator.admin.counters()["requests"]
    assert counters[COMPLETE] == 1 and counters[PUT_CHUNK] == 6
    assert anaplan_emulator.admin.file_content(FILE) == raw


async def test_progress_logged(make_config, anaplan_emulator, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="airflow_provider_anaplan.client"):
        async with AnaplanAsyncClient(make_config(chunk_size_mb=1)) as client:
            await client.upload_file(FILE, b"a" * (2 * MB + 1))
            await client.upload_file_stream(FILE, [b"b" * MB])
    assert "Upload to file 113000000001: chunk 3/3, 2.0 MB" in caplog.text
    assert "chunk 1/?, 1.0 MB" in caplog.text and "MB/s" in caplog.text


async def test_chunk_failure_fails_the_whole_upload(make_config, anaplan_emulator) -> None:
    admin = anaplan_emulator.admin
    admin.add_fault(method="PUT", path_regex="/chunks/2$", status=500, count=100)
    async with AnaplanAsyncClient(make_config(chunk_size_mb=1, compression=False)) as client:
        with pytest.raises(AnaplanUploadError) as info:
            await client.upload_file(FILE, os.urandom(6 * MB))
    exc = info.value
    assert exc.chunk_index == 2 and exc.status_code == 500 and exc.object_id == FILE
    assert "failed at chunk 3/6 (index 2)" in str(exc) and "HTTP 500" in str(exc)


async def test_unknown_or_wrong_file_ids(make_config, anaplan_emulator) -> None:
    async with AnaplanAsyncClient(make_config()) as client:
        with pytest.raises(AnaplanNotFoundError, match="File 113999999999: not in model .*stray file"):
            await client.upload_file(113999999999, b"data")
        with pytest.raises(AnaplanConfigError, match="is an import id"):
            await client.upload_file(112000000000, b"data")
        with pytest.raises(AnaplanNotFoundError, match="File 113999999999 not found or no access"):
            await client.get_file(113999999999)
    assert SET_COUNT not in anaplan_emulator.admin.counters()["requests"]  # never set a count blindly


async def test_bad_sources(make_config, anaplan_emulator, tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    async with AnaplanAsyncClient(make_config()) as client:
        with pytest.raises(AnaplanConfigError, match="the bytes content is empty"):
            await client.upload_file(FILE, b"")
        with pytest.raises(AnaplanConfigError, match="the file .*empty.csv is empty"):
            await client.upload_file(FILE, tmp_path / "empty.csv")
        with pytest.raises(AnaplanConfigError, match="the iterable is empty"):
            await client.upload_file_stream(FILE, iter([b"", ""]))
        with pytest.raises(AnaplanConfigError, match=r"Upload source file .*missing.csv does not exist"):
            await client.upload_file(FILE, tmp_path / "missing.csv")
        with pytest.raises(AnaplanConfigError, match="cannot be encoded as UTF-8.*surrogates not allowed"):
            await client.upload_file(FILE, Content("abc\udcff"))
        with pytest.raises(AnaplanConfigError, match="open it with mode 'rb'"):
            with open(tmp_path / "empty.csv") as handle:  # noqa: ASYNC230
                await client.upload_file(FILE, handle)
        with pytest.raises(AnaplanConfigError, match="Cannot upload a int"):
            await client.upload_file(FILE, 42)
        with pytest.raises(AnaplanConfigError, match="items must be bytes or str"):
            await client.upload_file_stream(FILE, [b"ok", 3])
    assert SET_COUNT not in anaplan_emulator.admin.counters()["requests"]


async def test_download_file_temp_and_rename(make_config, anaplan_emulator, text, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    async with AnaplanAsyncClient(make_config(chunk_size_mb=1)) as client:
        await client.upload_file(FILE, text.encode())
        assert await client.download_file(FILE, target) == len(text.encode())
        assert target.read_bytes() == text.encode()
        anaplan_emulator.admin.add_fault(method="GET", path_regex="/chunks/3$", status=404, count=1)
        with pytest.raises(AnaplanNotFoundError):
            await client.download_file(FILE, tmp_path / "broken.csv")
        with pytest.raises(AnaplanConfigError, match="directory .* does not exist"):
            await client.download_file(FILE, tmp_path / "nope" / "x.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]  # noqa: ASYNC240 - no partial file
