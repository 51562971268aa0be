"""Download engine: chunks fetched in parallel, decompressed off the loop, written positionally.

Two ways out, one fetch path (:func:`_fetch`, through the client's :class:`HttpSession`, so a chunk GET
is retried by the client's policy, re-authenticated after a 401 and its errors mapped):

* :func:`download` to a local path: up to ``max_concurrency`` chunks are fetched at once; each is
  written with ``os.pwrite`` at its offset in a temporary sibling file as soon as the sizes of the
  chunks before it are known (the API lists chunk ids, not sizes), then the temporary file is renamed
  onto the destination. Object-storage destinations take the ordered streaming path (:func:`write_stream`).
* :func:`iter_chunks`: the chunks in order, fetched up to ``max_concurrency`` ahead (a slow consumer
  holds at most that many chunks in memory).

Memory stays near ``chunk × (max_concurrency + 2)`` (a chunk holds a slot from its GET until it is
written; at most ``max_concurrency`` GETs at once), whatever the file size. With the threaded transport of :mod:`.transfer_http`, each body
is read in a worker thread, so chunk reads do not serialise on the event-loop thread.

Every download is atomic: a failure (or cancellation) deletes the temporary file or object and never
touches a file already at the destination.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import PurePath
from typing import Any

from airflow_provider_anaplan.client.http import HttpSession
from airflow_provider_anaplan.client.transfer import MB, _decompress, _in_pool, executor, resolve_destination
from airflow_provider_anaplan.exceptions import AnaplanConfigError

__all__ = ["download", "download_urls", "iter_chunks", "iter_urls", "write_stream"]

log = logging.getLogger(__name__)

PROGRESS_EVERY = 10.0  # seconds between progress lines of a long download
ChunkObserver = Callable[[int, bytes], None]


async def _chunk_ids(session: HttpSession, base_url: str, object_id: str) -> list[str]:
    ids: list[str] = []
    while True:
        response = await session.request(
            "GET", f"{base_url}/chunks", object_id=object_id, params={"offset": len(ids), "limit": 1000}
        )
        body = response.json()
        page = body.get("chunks") or []
        ids.extend(str(c.get("id")) for c in page if isinstance(c, dict))
        total = ((body.get("meta") or {}).get("paging") or {}).get("totalSize")
        if not page or total is None or len(ids) >= int(total):
            return ids


async def _fetch(session: HttpSession, url: str, object_id: str) -> bytes:
    """One chunk's content (gzip inflated in a worker thread when Anaplan sent it compressed)."""
    response, body = await session.request_raw(
        "GET", url, object_id=object_id, headers={"Accept-Encoding": "gzip"}
    )
    if response.headers.get("Content-Encoding", "").lower() in ("gzip", "x-gzip") and body:
        return await _in_pool(_decompress, body)
    return body


class _Progress:
    """Time-throttled progress lines (every :data:`PROGRESS_EVERY` s) and a closing summary."""

    def __init__(self, what: str, total: int) -> None:
        self.what, self.total = what, total
        self.done = self.bytes = 0
        self.start = self.last = time.monotonic()

    def chunk_done(self, size: int) -> None:
        self.done += 1
        self.bytes += size
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY and self.done < self.total:
            self.last = now
            log.info(
                "%s: chunk %d/%d, %.1f MB, %.1f MB/s", self.what, self.done, self.total, *self._rate(now)
            )

    def finished(self) -> None:
        now = time.monotonic()
        level = logging.INFO if now - self.start >= PROGRESS_EVERY else logging.DEBUG
        log.log(level, "%s: done, %d chunks, %.1f MB, %.1f MB/s", self.what, self.total, *self._rate(now))

    def _rate(self, now: float) -> tuple[float, float]:
        return self.bytes / MB, self.bytes / MB / max(1e-6, now - self.start)


async def iter_chunks(
    session: HttpSession, base_url: str, object_id: str, *, max_concurrency: int
) -> AsyncIterator[bytes]:
    """Yield the chunks of ``{base_url}/chunks`` in order, fetching up to ``max_concurrency`` ahead.

    ``base_url`` is a file URL (``…/files/{id}``) or a dump URL (``…/tasks/{t}/dump``).
    """
    ids = await _chunk_ids(session, base_url, object_id)
    async for data in iter_urls(session, _urls(base_url, ids), object_id, max_concurrency=max_concurrency):
        yield data
        del data


async def iter_urls(
    session: HttpSession, urls: Sequence[str], object_id: str, *, max_concurrency: int
) -> AsyncIterator[bytes]:
    """Yield the bodies of ``urls`` (GETs, gzip inflated) in order, fetching up to ``max_concurrency``
    ahead: the engine behind :func:`iter_chunks`, for any paged download (read-request pages...)."""
    pending: deque[asyncio.Task[bytes]] = deque()
    position = 0

    def schedule() -> None:
        nonlocal position
        while position < len(urls) and len(pending) < max_concurrency:
            pending.append(asyncio.create_task(_fetch(session, urls[position], object_id)))
            position += 1

    try:
        schedule()
        while pending:
            data = await pending.popleft()
            schedule()
            yield data
            del data
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


def _urls(base_url: str, ids: list[str]) -> list[str]:
    return [f"{base_url}/chunks/{chunk}" for chunk in ids]


async def download(
    session: HttpSession,
    base_url: str,
    object_id: str,
    destination: object,
    *,
    max_concurrency: int,
    observe: ChunkObserver | None = None,
) -> int:
    """Download ``{base_url}/chunks`` to ``destination`` atomically; return the byte count.

    ``destination``: a local path (``str``/``os.PathLike``, see :func:`resolve_destination`) —
    parallel positional writes into a temporary sibling, renamed when complete — or an object with
    ``.open("wb")`` (``ObjectStoragePath``), written in order through :func:`write_stream`.
    ``observe(index, data)`` is called once per chunk (in any order) before it is written.
    """
    destination = resolve_destination(destination)
    if _is_local(destination):
        await asyncio.to_thread(_local_target, destination)  # a bad destination fails before any request
    ids = await _chunk_ids(session, base_url, object_id)
    return await download_urls(
        session,
        _urls(base_url, ids),
        object_id,
        destination,
        max_concurrency=max_concurrency,
        observe=observe,
    )


async def download_urls(
    session: HttpSession,
    urls: Sequence[str],
    object_id: str,
    destination: object,
    *,
    max_concurrency: int,
    observe: ChunkObserver | None = None,
) -> int:
    """Download the bodies of ``urls``, concatenated in order, to ``destination`` atomically (see
    :func:`download`): the engine behind it, for any paged download (read-request pages...)."""
    destination = resolve_destination(destination)
    if not _is_local(destination):
        chunks = iter_urls(session, urls, object_id, max_concurrency=max_concurrency)
        return await write_stream(_observed(chunks, observe), destination)
    path, tmp = await asyncio.to_thread(_local_target, destination)
    progress = _Progress(f"Download of {object_id}", len(urls))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    fd = await asyncio.to_thread(os.open, tmp, flags, 0o666)
    writes: set[concurrent.futures.Future[None]] = set()
    try:
        size = await _fetch_into(session, urls, object_id, fd, writes, max_concurrency, observe, progress)
        await asyncio.to_thread(os.close, fd)
        fd = -1
        await asyncio.to_thread(os.replace, tmp, path)
    except BaseException:
        concurrent.futures.wait(writes)  # no write may land on a closed (reused) descriptor
        if fd >= 0:
            os.close(fd)
        _unlink(tmp)
        raise
    progress.finished()
    return size


async def _observed(chunks: AsyncIterator[bytes], observe: ChunkObserver | None) -> AsyncIterator[bytes]:
    index = 0
    async for data in chunks:
        if observe is not None:
            observe(index, data)
        index += 1
        yield data
        del data


async def _fetch_into(
    session: HttpSession,
    urls: Sequence[str],
    object_id: str,
    fd: int,
    writes: set[concurrent.futures.Future[None]],
    max_concurrency: int,
    observe: ChunkObserver | None,
    progress: _Progress,
) -> int:
    """Fetch every chunk and ``pwrite`` it at its offset.

    At most ``max_concurrency`` GETs are under way, and at most ``max_concurrency + 2`` chunks are held
    (fetching, waiting for an earlier chunk, or being written): the GETs go on while a couple of
    chunks wait for a slow predecessor or for the disk.
    """
    loop = asyncio.get_running_loop()
    fetching = asyncio.Semaphore(max_concurrency)
    slots = asyncio.Semaphore(max_concurrency + 2)
    offsets: list[asyncio.Future[int]] = [loop.create_future() for _ in range(len(urls) + 1)]
    offsets[0].set_result(0)
    tasks: set[asyncio.Task[None]] = set()
    failures: list[BaseException] = []

    async def one(index: int) -> None:
        try:
            try:
                data = await _fetch(session, urls[index], object_id)
            finally:
                fetching.release()
            offset = await offsets[index]  # the chunks before this one have all arrived
            offsets[index + 1].set_result(offset + len(data))
            size = len(data)
            if observe is not None:
                observe(index, data)
            if data:
                write = executor().submit(_pwrite_all, fd, data, offset)
                writes.add(write)
                del data
                try:
                    await asyncio.shield(asyncio.wrap_future(write))
                finally:
                    if write.done():
                        writes.discard(write)
            progress.chunk_done(size)
        finally:
            slots.release()

    def finished(task: asyncio.Task[None]) -> None:
        tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and not failures:
            failures.append(task.exception())  # type: ignore[arg-type]
            for other in list(tasks):
                other.cancel()

    try:
        for index in range(len(urls)):
            await slots.acquire()
            await fetching.acquire()
            if failures:
                break
            task = asyncio.create_task(one(index))
            tasks.add(task)
            task.add_done_callback(finished)
        while tasks and not failures:
            await asyncio.wait(set(tasks))
    finally:
        for task in list(tasks):
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
    if failures:
        raise failures[0]
    return offsets[-1].result()


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def _is_local(destination: object) -> bool:
    return isinstance(destination, PurePath) or (
        isinstance(destination, os.PathLike) and not hasattr(destination, "open")
    )


async def write_stream(chunks: AsyncIterator[bytes], destination: object) -> int:
    """Write ``chunks`` to ``destination`` atomically and return the byte count.

    ``destination``: a ``str`` (a local path or ``file://`` URI, see :func:`resolve_destination`), an
    ``os.PathLike``, or an object with ``.open("wb")`` (``ObjectStoragePath``). The data goes to a
    temporary sibling that replaces the destination only when complete; on any failure the temporary
    is deleted and a file already at the destination is left untouched.
    """
    destination = resolve_destination(destination)
    if _is_local(destination):
        path, tmp = await asyncio.to_thread(_local_target, destination)
        f = await asyncio.to_thread(open, tmp, "wb")
        try:
            written = await _write_all(chunks, f)
            await asyncio.to_thread(f.close)
            await asyncio.to_thread(os.replace, tmp, path)
            return written
        except BaseException:
            f.close()
            _unlink(tmp)
            raise
    if not hasattr(destination, "open"):
        raise AnaplanConfigError(
            f"Download destination must be a path or an object with .open('wb'), got {type(destination).__name__}"
        )
    return await _write_object(chunks, destination)


def _object_temp(destination: Any) -> Any | None:
    """A temporary sibling of an object destination, or None when the object cannot be renamed."""
    parent, name = getattr(destination, "parent", None), getattr(destination, "name", None)
    if parent is None or not name or not callable(getattr(destination, "rename", None)):
        return None
    try:
        return parent / f".{name}.{secrets.token_hex(4)}.part"
    except TypeError:
        return None


async def _write_object(chunks: AsyncIterator[bytes], destination: Any) -> int:
    """Object storage: write a temporary sibling, then rename it onto ``destination`` (object stores
    copy then delete: the destination never holds a partial object)."""
    if await asyncio.to_thread(_is_dir, destination):
        raise AnaplanConfigError(f"Download destination {destination} is a directory; give a file path")
    tmp = _object_temp(destination)
    target = destination if tmp is None else tmp
    if tmp is None:
        log.warning(
            "Download destination %s cannot be renamed: writing it in place (not atomic)", destination
        )
    f = await asyncio.to_thread(target.open, "wb")
    try:
        written = await _write_all(chunks, f)
        await asyncio.to_thread(f.close)
        if tmp is not None:
            await asyncio.to_thread(tmp.rename, destination)
        return written
    except BaseException:
        await asyncio.to_thread(_close_quietly, f)
        await asyncio.to_thread(_remove_object, target)  # the temporary, or the partial object
        raise


def _is_dir(obj: Any) -> bool:
    try:
        return bool(obj.is_dir())
    except Exception:
        return False


def _close_quietly(f: Any) -> None:
    try:
        f.close()
    except Exception:
        log.debug("Closing a partial download failed", exc_info=True)


def _remove_object(obj: Any) -> None:
    try:
        obj.unlink()
    except FileNotFoundError:
        pass
    except Exception as exc:
        log.warning("Could not delete the partial download %s (%s)", obj, exc)


async def _write_all(chunks: AsyncIterator[bytes], f: Any) -> int:
    written = 0
    async for data in chunks:
        await asyncio.to_thread(f.write, data)
        written += len(data)
        del data
    return written


def _local_target(destination: Any) -> tuple[str, str]:
    """``(final path, temporary path beside it)`` after checking the destination is usable."""
    path = os.path.expanduser(os.fspath(destination))
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise AnaplanConfigError(f"Download destination {path} is a directory; give a file path")
    if not os.path.isdir(directory):
        raise AnaplanConfigError(f"Download destination directory {directory} does not exist")
    return path, os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(4)}.part")


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
