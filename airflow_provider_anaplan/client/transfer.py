"""Transfer engine: chunking, gzip in worker threads, bounded concurrency, streaming up- and download.

Memory stays near ``chunk_size × (max_concurrency + 2)`` whatever the file size: the source is read
one chunk at a time, at most ``max_concurrency`` chunks are being compressed/sent, and downloads hold
at most ``max_concurrency`` chunks (see :mod:`.transfer_download`: parallel fetches in worker threads,
positional writes).

Upload sources — one rule at every layer (client, hooks, operators), decided by :func:`resolve_source`:

* ``str`` — always a **path**, never content: a local path (``~`` expanded; it must exist), or a URI.
  ``file://…`` is a local path; other schemes (``s3://…``) need an opener: the hooks and operators
  turn them into Airflow ``ObjectStoragePath`` objects, the bare client refuses them clearly;
* ``bytes`` / ``bytearray`` / ``memoryview`` — the content;
* :class:`Content` — explicit in-memory content, e.g. ``Content("text")`` (encoded as UTF-8) or
  ``Content(text, encoding="latin-1")``;
* ``os.PathLike`` (e.g. ``pathlib.Path``) — a local file to read;
* an object with ``.open("rb")`` but no ``.read`` (e.g. Airflow's ``ObjectStoragePath``);
* a binary file object (``.read`` returning bytes);
* a sync or async iterable of ``bytes``/``str`` chunks (str items encoded as UTF-8).

Download destinations follow the same rule (:func:`resolve_destination`): a ``str`` is a local path or
a URI. Every download is atomic: it is written to a temporary sibling (local file or object) that is
renamed onto the destination only when complete, so a failed download never leaves a truncated file
and never touches a file already at the destination.

Chunks are cut on bytes, so multi-byte characters split across chunk boundaries arrive intact.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import unquote, urlsplit

from isal import igzip_lib

from airflow_provider_anaplan.client.http import HttpSession
from airflow_provider_anaplan.exceptions import AnaplanConfigError, AnaplanError, AnaplanUploadError

__all__ = [
    "Content",
    "upload",
    "iter_chunks",
    "write_stream",
    "download",
    "download_urls",
    "iter_urls",
    "chunk_session",
    "open_source",
    "resolve_source",
    "resolve_destination",
    "compress",
    "executor",
]

log = logging.getLogger(__name__)

MB = 1024 * 1024
GZIP_LEVEL = 1  # isal levels 0-3; 1 is the fast one (≈1 GB/s per core)
_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def executor() -> ThreadPoolExecutor:
    """Process-wide pool for (de)compression; isal releases the GIL, so it scales with cores."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="anaplan-gzip")
        return _executor


def _forget_executor() -> None:
    global _executor, _executor_lock
    _executor, _executor_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_executor)  # worker threads do not survive a fork


def compress(data: bytes) -> bytes:
    """gzip ``data`` with isal at a fast level."""
    return igzip_lib.compress(data, level=GZIP_LEVEL, flag=igzip_lib.COMP_GZIP)


def _decompress(data: bytes) -> bytes:
    return igzip_lib.decompress(data, flag=igzip_lib.DECOMP_GZIP)


async def _in_pool(fn: Callable[[bytes], bytes], data: bytes) -> bytes:
    return await asyncio.get_running_loop().run_in_executor(executor(), fn, data)


# ---------------------------------------------------------------------------------------------------
# Sources


@dataclass(frozen=True)
class Content:
    """Explicit in-memory upload content (a plain ``str`` is a path, never content).

    ``Content(b"...")`` or ``Content("text")`` (encoded with ``encoding``, default UTF-8).
    """

    data: bytes | bytearray | memoryview | str
    encoding: str = "utf-8"

    def to_bytes(self) -> bytes:
        """The content as bytes (:class:`AnaplanConfigError` if the text cannot be encoded)."""
        if isinstance(self.data, str):
            return _encode(self.data, "the Content text", self.encoding)
        if isinstance(self.data, (bytes, bytearray, memoryview)):
            return bytes(self.data)
        raise AnaplanConfigError(f"Content needs bytes or str, got {type(self.data).__name__}")

    def __repr__(self) -> str:  # never dump a whole file into a log line
        size = len(self.data) if isinstance(self.data, str) else memoryview(self.data).nbytes
        return f"Content({type(self.data).__name__}, {size} {'characters' if isinstance(self.data, str) else 'bytes'})"


def _uri_scheme(text: str) -> str | None:
    """``"s3"`` for ``"s3://bucket/key"``; None for a plain path (also ``C:\\…`` on Windows)."""
    if "://" not in text:
        return None
    scheme = text.split("://", 1)[0]
    return scheme.lower() if len(scheme) > 1 and scheme.replace("+", "").replace("-", "").isalnum() else None


def _local_from_str(text: str, what: str) -> Path:
    if not text.strip():
        raise AnaplanConfigError(f"{what} path must not be empty")
    if _uri_scheme(text) == "file":
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise AnaplanConfigError(f"{what} {text!r}: a file:// URI must name a local file (file:///path)")
        return Path(unquote(parts.path))
    return Path(text).expanduser()


def _from_str(text: str, what: str, uri: Callable[[str], Any] | None) -> Any:
    scheme = _uri_scheme(text)
    if scheme is not None and uri is not None:
        return uri(text)
    if scheme is not None and scheme != "file":
        raise AnaplanConfigError(
            f"{what} {text!r} is an object-storage URI: pass an Airflow ObjectStoragePath (or any object "
            "with .open()), or use the Anaplan hook/operators, which accept URIs as strings"
        )
    return _local_from_str(text, what)


def resolve_source(value: object, *, uri: Callable[[str], Any] | None = None) -> object:
    """THE rule for what an upload source is (see the module docstring); used by the client, the hooks
    and the operators so a ``str`` means the same thing everywhere.

    A ``str`` is a path: a URI is given to ``uri`` (the hooks pass ``ObjectStoragePath``) or, for
    ``file://`` or without a scheme, becomes a local ``Path`` that must exist and be a file. Any other
    value is returned unchanged (checked when opened).

    :raises AnaplanConfigError: a missing local file, a directory, an empty path, or a URI the caller
        cannot open.
    """
    if not isinstance(value, str):
        return value
    hint = "a str source is a path; pass bytes or Content(...) to upload in-memory content"
    if "\n" in value or "\x00" in value:
        raise AnaplanConfigError(f"Upload source {_preview(value)} is not a file path ({hint})")
    resolved = _from_str(value, "Upload source", uri)
    if isinstance(resolved, Path):
        try:
            exists, is_dir = resolved.exists(), resolved.is_dir()
        except (OSError, ValueError) as exc:  # e.g. file name too long
            reason = getattr(exc, "strerror", None) or str(exc)
            raise AnaplanConfigError(f"Upload source {_preview(value)} is not a usable path: {reason} ({hint})") from None
        if not exists:
            raise AnaplanConfigError(f"Upload source file {_preview(str(resolved))} does not exist ({hint})")
        if is_dir:
            raise AnaplanConfigError(f"Upload source {resolved} is a directory, not a file")
    return resolved


def _preview(text: str, limit: int = 120) -> str:
    """A path for a message: never a whole file's content."""
    return text if len(text) <= limit and "\n" not in text else repr(text[:limit]) + f"… ({len(text)} characters)"


def resolve_destination(value: object, *, uri: Callable[[str], Any] | None = None) -> object:
    """The same rule for download destinations: a ``str`` is a local path (``file://`` allowed) or a
    URI given to ``uri``; any other value is returned unchanged."""
    if not isinstance(value, str):
        return value
    return _from_str(value, "Download destination", uri)


@dataclass
class Source:
    """A prepared upload source: its chunks, total size when known, and a closer."""

    chunks: AsyncIterator[bytes]
    size: int | None
    description: str
    close: Callable[[], Awaitable[None]]


async def _noop() -> None:
    return None


def _as_bytes(item: object, where: str) -> bytes:
    if isinstance(item, (bytes, bytearray, memoryview)):
        return bytes(item)
    if isinstance(item, str):
        return _encode(item, where)
    raise AnaplanConfigError(f"{where} yielded {type(item).__name__}; items must be bytes or str")


def _encode(text: str, where: str, encoding: str = "utf-8") -> bytes:
    try:
        return text.encode(encoding)
    except LookupError:
        raise AnaplanConfigError(f"{where}: unknown encoding {encoding!r}") from None
    except UnicodeEncodeError as exc:
        raise AnaplanConfigError(
            f"{where} cannot be encoded as {encoding.upper() if encoding == 'utf-8' else encoding} (character "
            f"{exc.object[exc.start : exc.end]!r} at position {exc.start}: {exc.reason}); pass bytes to "
            "upload another encoding"
        ) from None


def _read_exact(f: Any, n: int) -> bytes:
    """Read up to ``n`` bytes, looping over short reads (raw files, pipes, sockets)."""
    data = f.read(n)
    if isinstance(data, str):
        raise AnaplanConfigError("the file object is open in text mode; open it with mode 'rb'")
    if data is None or len(data) >= n or not data:
        return data or b""
    parts = [data]
    got = len(data)
    while got < n:
        more = f.read(n - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


async def _file_chunks(f: Any, n: int) -> AsyncIterator[bytes]:
    while True:
        data = await asyncio.to_thread(_read_exact, f, n)
        if not data:
            return
        last = len(data) < n
        yield data
        del data  # do not hold this chunk while reading the next one
        if last:
            return


async def _memory_chunks(data: bytes | bytearray | memoryview, n: int) -> AsyncIterator[bytes]:
    view = memoryview(data).cast("B")
    for start in range(0, len(view), n):
        yield bytes(view[start : start + n])


async def _rechunk(pieces: AsyncIterator[bytes], n: int) -> AsyncIterator[bytes]:
    """Re-block pieces of any size into chunks of exactly ``n`` bytes (the last may be shorter)."""
    buf = bytearray()
    async for piece in pieces:
        view = memoryview(piece)
        if buf:
            take = n - len(buf)
            buf += view[:take]
            view = view[take:]
            if len(buf) < n:
                continue
            yield bytes(buf)
            buf = bytearray()
        while len(view) >= n:
            yield bytes(view[:n])
            view = view[n:]
        buf += view
    if buf:
        yield bytes(buf)


async def _async_pieces(items: Any, where: str) -> AsyncIterator[bytes]:
    async for item in items:
        yield _as_bytes(item, where)


def _pull(iterator: Any, n: int, where: str) -> tuple[bytes, bool]:
    """Pull items from a sync iterator until ``n`` bytes are collected; runs in a worker thread."""
    parts: list[bytes] = []
    size = 0
    for item in iterator:
        data = _as_bytes(item, where)
        parts.append(data)
        size += len(data)
        if size >= n:
            return b"".join(parts), False
    return b"".join(parts), True


async def _sync_pieces(iterator: Any, n: int, where: str) -> AsyncIterator[bytes]:
    done = False
    while not done:
        data, done = await asyncio.to_thread(_pull, iterator, n, where)
        if data:
            yield data


def _file_size(f: Any) -> int | None:
    try:
        if f.seekable():
            st = os.fstat(f.fileno())
            if st.st_size > 0:
                return max(0, st.st_size - f.tell())
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        pass
    return None


def _closer(f: Any) -> Callable[[], Awaitable[None]]:
    async def close() -> None:
        await asyncio.to_thread(f.close)

    return close


async def open_source(source: object, chunk_size: int) -> Source:
    """Prepare any supported upload source (see the module docstring; a ``str`` is a path)."""
    source = resolve_source(source)
    if isinstance(source, Content):
        data = source.to_bytes()
        return Source(_memory_chunks(data, chunk_size), len(data), "Content", _noop)
    if isinstance(source, (bytes, bytearray, memoryview)):
        size = memoryview(source).nbytes
        return Source(_memory_chunks(source, chunk_size), size, "bytes content", _noop)
    if isinstance(source, (PurePath, os.PathLike)):
        path = os.fspath(source)
        try:
            f = await asyncio.to_thread(open, path, "rb")
        except FileNotFoundError:
            raise AnaplanConfigError(f"Upload source file {path} does not exist") from None
        except IsADirectoryError:
            raise AnaplanConfigError(f"Upload source {path} is a directory, not a file") from None
        except OSError as exc:
            raise AnaplanConfigError(f"Upload source file {path} cannot be opened: {exc.strerror}") from None
        return Source(_file_chunks(f, chunk_size), _file_size(f), f"file {path}", _closer(f))
    if hasattr(source, "read"):
        if isinstance(source, io.TextIOBase):
            raise AnaplanConfigError("the file object is open in text mode; open it with mode 'rb'")
        return Source(_file_chunks(source, chunk_size), _file_size(source), "file object", _noop)
    if hasattr(source, "open") and callable(source.open):
        try:
            f = await asyncio.to_thread(source.open, "rb")
        except FileNotFoundError:
            raise AnaplanConfigError(f"Upload source {source} does not exist") from None
        return Source(_file_chunks(f, chunk_size), None, f"object {source}", _closer(f))
    if hasattr(source, "__aiter__"):
        pieces = _async_pieces(source, "the async iterable")
        return Source(_rechunk(pieces, chunk_size), None, "async iterable", _noop)
    if hasattr(source, "__iter__"):
        pieces = _sync_pieces(iter(source), chunk_size, "the iterable")
        return Source(_rechunk(pieces, chunk_size), None, "iterable", _noop)
    raise AnaplanConfigError(
        f"Cannot upload a {type(source).__name__}: give bytes or Content(...) (content), a str or "
        "pathlib.Path (a file path), an object with .open('rb'), a binary file object, or an iterable of "
        "bytes/str chunks"
    )


# ---------------------------------------------------------------------------------------------------
# Upload


class _Progress:
    def __init__(self, what: str, total_chunks: int | None) -> None:
        self.what = what
        self.total = total_chunks
        self.done = 0
        self.bytes = 0
        self.start = time.monotonic()

    def chunk_done(self, size: int) -> None:
        self.done += 1
        self.bytes += size
        elapsed = max(1e-6, time.monotonic() - self.start)
        log.info(
            "%s: chunk %d/%s, %.1f MB, %.1f MB/s",
            self.what,
            self.done,
            self.total if self.total is not None else "?",
            self.bytes / MB,
            self.bytes / MB / elapsed,
        )


async def upload(
    session: HttpSession,
    file_url: str,
    file_id: str,
    source: object,
    *,
    chunk_size: int,
    compression: bool,
    max_concurrency: int,
    stream: bool = False,
) -> int:
    """Upload ``source`` to ``file_url`` in chunks; return the number of (uncompressed) bytes sent.

    Known size (and ``stream`` false): ``chunkCount = n`` then the chunks. Unknown size or ``stream``:
    ``chunkCount = -1``, the chunks, then ``POST …/complete``.

    :raises AnaplanConfigError: empty or unusable source (before any request).
    :raises AnaplanUploadError: a chunk (named in the message) failed; the upload as a whole failed.
    """
    src = await open_source(source, chunk_size)
    try:
        chunks = src.chunks
        first = await anext(chunks, b"")
        if not first:
            raise AnaplanConfigError(f"Nothing to upload to file {file_id}: the {src.description} is empty")
        known = None if stream or src.size is None else max(1, math.ceil(src.size / chunk_size))
        await session.request(
            "POST", file_url, idempotent=True, object_id=file_id, json={"chunkCount": known or -1}
        )
        progress = _Progress(f"Upload to file {file_id}", known)
        chunks = _prepend(first, chunks)
        del first  # held by _prepend only until it is sent
        count, size = await _send_chunks(
            session,
            file_url,
            file_id,
            chunks,
            progress,
            compression=compression,
            max_concurrency=max_concurrency,
        )
        if known is not None and count != known:
            raise AnaplanUploadError(
                f"Upload to file {file_id} failed: the {src.description} changed size while being read "
                f"({count} chunks instead of {known})",
                chunk_index=count - 1,
                object_id=file_id,
            )
        if known is None:
            await session.request(
                "POST",
                f"{file_url}/complete",
                idempotent=True,
                object_id=file_id,
                json={"id": file_id, "chunkCount": count},
            )
        return size
    finally:
        await src.close()


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``first`` then ``rest``, never holding a chunk while the next one is read."""
    yield first
    del first
    while item := await anext(rest, b""):
        yield item
        del item


async def _send_chunks(
    session: HttpSession,
    file_url: str,
    file_id: str,
    chunks: AsyncIterator[bytes],
    progress: _Progress,
    *,
    compression: bool,
    max_concurrency: int,
) -> tuple[int, int]:
    """Send all chunks with at most ``max_concurrency`` in flight; fail fast on the first error.

    Memory: a chunk is read only when a send slot *and* a raw slot are free. Raw (uncompressed)
    chunks are limited to cores + 1 (the compressors plus one being read), compressed ones to
    ``max_concurrency``: about ``chunk × (max_concurrency + 2)`` at most.
    """
    slots = asyncio.Semaphore(max_concurrency)
    raw_limit = min(max_concurrency, (os.cpu_count() or 1) + 1) if compression else max_concurrency
    raw_slots = asyncio.Semaphore(raw_limit)
    tasks: set[asyncio.Task[None]] = set()
    failures: list[BaseException] = []
    content_type = "application/x-gzip" if compression else "application/octet-stream"

    async def put(index: int, raw: bytes) -> None:
        size = len(raw)
        raw_held = True
        try:
            body = await _in_pool(compress, raw) if compression else raw
            del raw
            raw_slots.release()
            raw_held = False
            await session.request(
                "PUT",
                f"{file_url}/chunks/{index}",
                object_id=file_id,
                content=body,
                headers={"Content-Type": content_type},
            )
        except AnaplanError as exc:
            total = progress.total if progress.total is not None else "?"
            raise AnaplanUploadError(
                f"Upload to file {file_id} failed at chunk {index + 1}/{total} (index {index}): {exc}",
                chunk_index=index,
                status_code=exc.status_code,
                object_id=file_id,
                anaplan_message=exc.anaplan_message,
                method=exc.method,
                path=exc.path,
            ) from exc
        finally:
            if raw_held:
                raw_slots.release()
        progress.chunk_done(size)

    def finished(task: asyncio.Task[None]) -> None:
        tasks.discard(task)
        slots.release()
        if not task.cancelled() and task.exception() is not None and not failures:
            failures.append(task.exception())  # type: ignore[arg-type]
            for other in list(tasks):
                other.cancel()

    index = 0
    total_bytes = 0
    chunk: bytes | None = None
    try:
        while not failures:
            await slots.acquire()
            await raw_slots.acquire()
            if chunk is None and not failures:
                try:
                    chunk = await anext(chunks, b"")
                except OSError as exc:
                    raise AnaplanUploadError(
                        f"Upload to file {file_id} failed reading chunk {index + 1} from the source: {exc}",
                        chunk_index=index,
                        object_id=file_id,
                    ) from exc
            if not chunk or failures:
                raw_slots.release()
                slots.release()
                break
            task = asyncio.create_task(put(index, chunk))
            tasks.add(task)
            task.add_done_callback(finished)
            total_bytes += len(chunk)
            index += 1
            chunk = None
        if tasks:
            await asyncio.wait(set(tasks))
    finally:
        for task in list(tasks):
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
    if failures:
        raise failures[0]
    return index, total_bytes


# ---------------------------------------------------------------------------------------------------
# Download: the engine lives in transfer_download (parallel fetches, positional writes) and
# transfer_http (chunk GETs in worker threads); re-exported here, where callers have always found it.
# Imported last: transfer_download uses the helpers above.

from airflow_provider_anaplan.client.transfer_download import (  # noqa: E402
    download,
    download_urls,
    iter_chunks,
    iter_urls,
    write_stream,
)
from airflow_provider_anaplan.client.transfer_http import chunk_session  # noqa: E402
