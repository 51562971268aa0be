"""Chunk storage for files and dumps: in memory, spooled to a temporary directory once large.

A :class:`ChunkSet` keeps chunk bytes in memory until the set holds more than
``SPOOL.threshold_bytes``; further chunks are written to files under ``SPOOL.directory`` so a
multi-GB upload does not exhaust memory. ``put``/``get`` may touch the disk: call them from a
worker thread (``anyio.to_thread.run_sync``) for large payloads.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from isal import igzip


@dataclass
class SpoolSettings:
    """Process-wide spooling policy (the admin ``config`` endpoint can change the threshold)."""

    threshold_bytes: int = 64 * 1024 * 1024
    _directory: Path | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def directory(self) -> Path:
        with self._lock:
            if self._directory is None or not self._directory.exists():
                self._directory = Path(tempfile.mkdtemp(prefix="anaplan-emulator-"))
            return self._directory

    def cleanup(self) -> None:
        """Remove the spool directory (called when the server stops)."""
        with self._lock:
            if self._directory is not None:
                shutil.rmtree(self._directory, ignore_errors=True)
                self._directory = None


SPOOL = SpoolSettings()


class _Compressed(bytes):
    """A chunk kept in memory as received gzip-compressed (``lazy_gzip``)."""


class ChunkSet:
    """Numbered chunks of one file; each chunk is bytes in memory or a spooled file path."""

    def __init__(self) -> None:
        self._chunks: dict[int, bytes | Path] = {}
        self._sizes: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._chunks)

    def __contains__(self, index: object) -> bool:
        return index in self._chunks

    @property
    def total_size(self) -> int:
        return sum(self._sizes.values())

    def indices(self) -> list[int]:
        return sorted(self._chunks)

    def size(self, index: int) -> int:
        return self._sizes[index]

    def put(self, index: int, data: bytes | None, gzipped: bytes | None = None, size: int | None = None) -> None:
        """Store chunk ``index`` (replacing an earlier upload of the same index).

        ``gzipped`` is the same content as received gzip-compressed: when the chunk is spooled, the
        compressed form is what goes to disk (several times less I/O) and is inflated on read.
        ``data=None`` keeps only ``gzipped`` (of uncompressed ``size``), inflated on read.
        """
        self._drop(index)
        size = len(data) if data is not None else int(size or 0)
        if data is None:
            if gzipped is None:
                raise ValueError("a chunk needs its content or its gzip form")
            if self.total_size + size > SPOOL.threshold_bytes:
                fd, name = tempfile.mkstemp(dir=SPOOL.directory, suffix=".chunk.gz")
                with os.fdopen(fd, "wb") as handle:
                    handle.write(gzipped)
                self._chunks[index] = Path(name)
            else:
                self._chunks[index] = _Compressed(gzipped)
            self._sizes[index] = size
            return
        if self.total_size + len(data) > SPOOL.threshold_bytes:
            payload, suffix = (gzipped, ".chunk.gz") if gzipped is not None else (data, ".chunk")
            fd, name = tempfile.mkstemp(dir=SPOOL.directory, suffix=suffix)
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
            self._chunks[index] = Path(name)
        else:
            self._chunks[index] = data
        self._sizes[index] = len(data)

    def get(self, index: int) -> bytes:
        """Bytes of chunk ``index`` (``KeyError`` when absent)."""
        value = self._chunks[index]
        if isinstance(value, _Compressed):
            return igzip.decompress(value)
        if isinstance(value, Path):
            raw = value.read_bytes()
            return igzip.decompress(raw) if value.name.endswith(".gz") else raw
        return value

    def iter_chunks(self) -> Iterator[bytes]:
        for index in self.indices():
            yield self.get(index)

    def read_all(self) -> bytes:
        return b"".join(self.iter_chunks())

    def clear(self) -> None:
        for index in list(self._chunks):
            self._drop(index)

    def _drop(self, index: int) -> None:
        value = self._chunks.pop(index, None)
        self._sizes.pop(index, None)
        if isinstance(value, Path):
            try:
                value.unlink()
            except OSError:
                pass

    @classmethod
    def from_bytes(cls, data: bytes, chunk_size: int) -> ChunkSet:
        """Split ``data`` into chunks of ``chunk_size`` bytes (an empty payload gives one empty chunk)."""
        result = cls()
        if not data:
            result.put(0, b"")
            return result
        for number, start in enumerate(range(0, len(data), max(1, chunk_size))):
            result.put(number, data[start : start + chunk_size])
        return result
