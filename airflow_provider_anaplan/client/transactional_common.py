"""Shared pieces of the transactional client: ids, record sources, batching, bounded concurrency.

Records (list items, cells) come from any of: an iterable or async iterable of dicts, a polars or pandas
DataFrame, or CSV — a path (``str`` is always a path, never content), ``os.PathLike``, an object with
``.open()`` (``ObjectStoragePath``), a file object, ``bytes`` or :class:`~.transfer.Content`. They are
read lazily and cut into batches, so memory holds at most a few batches whatever the input size.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import itertools
import json
import math
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from airflow_provider_anaplan.client.http import AmbiguousRequestError
from airflow_provider_anaplan.exceptions import AnaplanConfigError, AnaplanError

__all__ = [
    "MAX_CELL_BYTES_PER_CALL",
    "MAX_CELLS_PER_CALL",
    "MAX_LIST_ITEMS_PER_CALL",
    "MAX_VIEW_READ_CELLS",
    "aiter_blocks",
    "aiter_records",
    "batched",
    "batched_blocks",
    "clean_id",
    "run_bounded",
    "to_frame",
    "unwrap_ambiguous",
]

T = TypeVar("T")

#: Anaplan's documented limits (help.anaplan.com; the spec's "Add/Update list items" notes).
MAX_LIST_ITEMS_PER_CALL = 100_000
#: Cell writes: "a maximum of 100,000 cells or 15 MB of data (whichever is lower)" per call (Anaplan's
#: help page "Module cell data"; the community spec's older note says 1,000 — see docs/transactional.md).
MAX_CELLS_PER_CALL = 100_000
MAX_CELL_BYTES_PER_CALL = 15 * 1024 * 1024
#: A plain ``GET .../views/{id}/data`` answers 400 above this many cells on the selected page.
MAX_VIEW_READ_CELLS = 1_000_000
_ROWS_PER_PULL = 10_000  # records per pull from a sync source (one worker-thread hop each)


def clean_id(value: object, what: str) -> str:
    """A numeric Anaplan object id (list, module, view, line item, dimension) as a string."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise AnaplanConfigError(f"{what} must be a numeric Anaplan id (str or int), got {value!r}")
    text = str(value).strip()
    if not text.isdigit():
        raise AnaplanConfigError(f"{what} must be a numeric Anaplan id such as 101000000001, got {value!r}")
    return text


def unwrap_ambiguous(exc: AmbiguousRequestError, what: str) -> AnaplanError:
    """The error of a non-idempotent write whose outcome is unknown, saying so."""
    error = exc.error
    error.message = (
        f"{error.message}. It is unknown whether Anaplan applied {what}: the request was not sent again "
        "(re-running an upsert is safe; an insert or delete may report its items as ignored)"
    )
    return error


# ------------------------------------------------------------------------------------------ records
def _is_frame(value: object) -> str | None:
    """``"polars"``/``"pandas"`` for a DataFrame (detected without importing either library)."""
    module = type(value).__module__
    if module.startswith("polars") and hasattr(value, "iter_rows"):
        return "polars"
    if module.startswith("pandas") and hasattr(value, "itertuples"):
        return "pandas"
    return None


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    return isinstance(value, float) and math.isnan(value)


def _frame_rows(frame: Any, library: str) -> Iterator[dict[str, Any]]:
    if library == "polars":
        for row in frame.iter_rows(named=True):
            yield {k: v for k, v in row.items() if not _is_missing(v)}
        return
    columns = [str(c) for c in frame.columns]
    for values in frame.itertuples(index=False, name=None):
        yield {k: (v.item() if hasattr(v, "item") else v) for k, v in zip(columns, values, strict=True) if not _is_missing(v)}


def _open_text(source: object) -> tuple[io.TextIOBase, bool]:
    """A text stream over a CSV source and whether we opened it (and must close it)."""
    from airflow_provider_anaplan.client.transfer import Content, resolve_source

    if isinstance(source, Content):
        return io.StringIO(source.to_bytes().decode("utf-8-sig")), True
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.StringIO(bytes(source).decode("utf-8-sig")), True
    resolved = resolve_source(source)
    if isinstance(resolved, os.PathLike):
        return open(resolved, encoding="utf-8-sig", newline=""), True  # noqa: SIM115 - closed by caller
    if hasattr(resolved, "read"):
        probe = resolved.read(0)
        if isinstance(probe, str):
            return resolved, False  # type: ignore[return-value]
        return io.TextIOWrapper(resolved, encoding="utf-8-sig", newline=""), False  # type: ignore[type-var]
    if hasattr(resolved, "open"):
        return io.TextIOWrapper(resolved.open("rb"), encoding="utf-8-sig", newline=""), True
    raise AnaplanConfigError(f"Unsupported record source {type(source).__name__}")


def _csv_blocks(source: object, size: int = _ROWS_PER_PULL) -> Generator[list[dict[str, Any]], None, None]:
    """Rows as dicts keyed by the header, ``size`` a list (like ``csv.DictReader``: blank lines skipped,
    extra fields dropped, missing ones ``None``), built a block at a time without per-row Python overhead."""
    stream, owned = _open_text(source)
    try:
        reader = csv.reader(stream)
        header = next(reader, None)
        if not header:
            return
        width = len(header)

        def fit(row: list[str]) -> dict[str, Any]:
            return dict(zip(header, row[:width] if len(row) > width else row + [None] * (width - len(row)), strict=True))

        while True:
            chunk = list(itertools.islice(reader, size))
            if not chunk:
                return
            yield [dict(zip(header, row, strict=False)) if len(row) == width else fit(row) for row in chunk if row]
    finally:
        if owned:
            stream.close()


def _csv_rows(source: object) -> Iterator[dict[str, Any]]:
    """The rows of :func:`_csv_blocks` one by one."""
    for block in _csv_blocks(source):
        yield from block


def _is_csv_source(value: object) -> bool:
    from airflow_provider_anaplan.client.transfer import Content

    return (
        isinstance(value, (str, bytes, bytearray, memoryview, Content, os.PathLike))
        or hasattr(value, "read")
        or (hasattr(value, "open") and not hasattr(value, "__iter__"))
        or (hasattr(value, "open") and hasattr(value, "protocol"))
    )


async def aiter_blocks(source: object, what: str = "items") -> AsyncIterator[list[dict[str, Any]]]:
    """Yield the records of ``source`` (see the module docstring) in blocks of up to 2,000 (per-block,
    not per-record, async overhead); sync sources are read in a worker thread."""
    if source is None or isinstance(source, Mapping):
        raise AnaplanConfigError(
            f"{what} must be an iterable of dicts, a DataFrame or a CSV source (path, file, bytes), got "
            f"{type(source).__name__}"
        )
    if hasattr(source, "__aiter__"):
        block: list[dict[str, Any]] = []
        async for record in source:
            block.append(_record(record, what))
            if len(block) >= _ROWS_PER_PULL:
                yield block
                block = []
        if block:
            yield block
        return
    library = _is_frame(source)
    if library is not None:
        rows: Iterator[Any] = _frame_rows(source, library)
    elif _is_csv_source(source):
        blocks = _csv_blocks(source)  # fresh dicts, a block per worker-thread hop
        try:
            while (block := await asyncio.to_thread(next, blocks, [])):
                yield block
        finally:
            blocks.close()
        return
    elif isinstance(source, (list, tuple)):
        for start in range(0, len(source), _ROWS_PER_PULL):
            yield [_record(r, what) for r in source[start : start + _ROWS_PER_PULL]]
        return
    elif isinstance(source, Iterable):
        rows = iter(source)
    else:
        raise AnaplanConfigError(f"{what}: unsupported source {type(source).__name__}")
    try:
        while True:
            block = await asyncio.to_thread(lambda: [_record(r, what) for r in itertools.islice(rows, _ROWS_PER_PULL)])
            if not block:
                return
            yield block
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()


async def aiter_records(source: object, what: str = "items") -> AsyncIterator[dict[str, Any]]:
    """The records of ``source`` one by one (see :func:`aiter_blocks`)."""
    async for block in aiter_blocks(source, what):
        for record in block:
            yield record


async def batched_blocks(
    blocks: AsyncIterator[list[dict[str, Any]]], size: int, convert: Callable[[dict[str, Any]], dict[str, Any]]
) -> AsyncIterator[list[dict[str, Any]]]:
    """Re-cut blocks of records into converted batches of exactly ``size`` (the last one shorter)."""
    batch: list[dict[str, Any]] = []
    async for block in blocks:
        batch.extend(map(convert, block))
        while len(batch) >= size:
            yield batch[:size]
            batch = batch[size:]
    if batch:
        yield batch


def _record(value: Any, what: str) -> dict[str, Any]:
    if type(value) is dict:
        return value
    if not isinstance(value, Mapping):
        raise AnaplanConfigError(f"each of {what} must be a dict (mapping), got {type(value).__name__}: {value!r:.80}")
    return dict(value)


async def batched(records: AsyncIterator[T], size: int) -> AsyncIterator[list[T]]:
    """Cut an async stream into lists of at most ``size``."""
    batch: list[T] = []
    async for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def run_bounded(
    batches: AsyncIterator[T], send: Callable[[int, T], Awaitable[None]], limit: int
) -> int:
    """Run ``send(index, batch)`` for every batch, at most ``limit`` at a time; the next batch is pulled
    only when a slot is free (bounded memory). The first failure cancels the rest and is raised.
    Returns the number of batches."""
    slots = asyncio.Semaphore(max(1, limit))
    count = 0

    async def one(index: int, batch: T) -> None:
        try:
            await send(index, batch)
        finally:
            slots.release()

    try:
        async with asyncio.TaskGroup() as group:
            while True:
                await slots.acquire()
                try:
                    batch = await anext(batches)
                except StopAsyncIteration:
                    slots.release()
                    break
                group.create_task(one(count, batch))
                count += 1
    except BaseExceptionGroup as group_error:
        raise _first(group_error) from None
    return count


def _first(group: BaseExceptionGroup) -> BaseException:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return _first(exc)
        if not isinstance(exc, asyncio.CancelledError):
            return exc
    return group.exceptions[0]


def json_bytes(value: Any) -> bytes:
    """Compact JSON (what is sent as a request body)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def to_frame(rows: Iterable[Mapping[str, Any]], library: str) -> Any:
    """A polars or pandas DataFrame of ``rows`` (the library is imported only here)."""
    if library == "polars":
        try:
            import polars as pl  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            raise AnaplanConfigError("library='polars' needs the polars package (pip install 'airflow-provider-anaplan[polars]')") from None
        return pl.DataFrame(list(rows))
    if library == "pandas":
        try:
            import pandas as pd  # type: ignore[import-untyped, unused-ignore]
        except ImportError:
            raise AnaplanConfigError("library='pandas' needs the pandas package (pip install 'airflow-provider-anaplan[pandas]')") from None
        return pd.DataFrame(list(rows))
    raise AnaplanConfigError(f"library must be 'polars' or 'pandas', got {library!r}")


def decode_text(chunks: Iterable[bytes]) -> Iterator[str]:
    """UTF-8 text of a byte stream, multi-byte characters split across chunks kept whole."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    for chunk in chunks:
        yield decoder.decode(chunk)
    yield decoder.decode(b"", final=True)
