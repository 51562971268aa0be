"""Bulk API v2 files: list, set chunk count, upload chunks (plain or gzip), complete, download, delete.

Chunk bodies are decompressed (``application/x-gzip``) and, when large, stored in a worker thread so
the event loop stays responsive; files beyond the spool threshold live on disk (``state/storage``).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator

import anyio
from isal import igzip
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .bulk_meta import check_writable, resolve_model
from .responses import ApiError, envelope, json_response, paged
from .state import ChunkSet, EmulatorState, FileObj, Model

GZIP_TYPES = ("application/x-gzip", "application/gzip")
_INLINE_LIMIT = 1024 * 1024


def _file(model: Model, request: Request) -> FileObj:
    file_id = request.path_params["fileId"]
    obj = model.files.get(file_id)
    if obj is None:
        raise ApiError(404, f"File {file_id} not found or no access")
    return obj


def _chunk_index(request: Request, state: EmulatorState) -> int:
    raw = request.path_params["chunkId"]
    try:
        index = int(raw)
    except ValueError:
        raise ApiError(404, f"Chunk {raw} not found") from None
    if index < 0 or index >= state.config.max_chunks:
        raise ApiError(400, f"Chunk id {index} is out of range (0..{state.config.max_chunks - 1})")
    return index


async def _read_body(request: Request, state: EmulatorState, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for piece in request.stream():
        size += len(piece)
        if size > limit:
            raise ApiError(400, f"The request body exceeds the limit of {limit} bytes")
        parts.append(piece)
    state.counters.bytes_received += size
    return b"".join(parts)


def _gunzip(data: bytes, limit: int) -> bytes:
    try:
        out = igzip.decompress(data)
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        raise ApiError(400, f"The chunk is not valid gzip data: {exc}") from None
    if len(out) > limit:
        raise ApiError(400, f"The decompressed chunk is {len(out)} bytes; the limit is {limit} bytes (50 MB)")
    return out


def _gzip_size(data: bytes, limit: int) -> int:
    """Uncompressed size of a gzip body from its header and ISIZE trailer, without inflating it."""
    if len(data) < 18 or data[:2] != b"\x1f\x8b":
        raise ApiError(400, "The chunk is not valid gzip data: bad header")
    size = int.from_bytes(data[-4:], "little")
    if size > limit:
        raise ApiError(400, f"The decompressed chunk is {size} bytes; the limit is {limit} bytes (50 MB)")
    return size


async def _payload(
    request: Request, state: EmulatorState, limit: int, *, lazy: bool = False
) -> tuple[bytes | None, bytes | None, int]:
    """(content, gzip body, size): the body, gunzipped off the event loop when it is gzip (with
    ``lazy``, content is None: the chunk is stored compressed and inflated when read)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await _read_body(request, state, limit + 1024 * 1024)
    if ctype in GZIP_TYPES or request.headers.get("content-encoding", "").lower() == "gzip":
        if lazy:
            return None, body, _gzip_size(body, limit)
        if len(body) > _INLINE_LIMIT:
            data = await anyio.to_thread.run_sync(_gunzip, body, limit)
        else:
            data = _gunzip(body, limit)
        return data, body, len(data)
    if len(body) > limit:
        raise ApiError(400, f"The chunk is {len(body)} bytes; the limit is {limit} bytes (50 MB)")
    return body, None, len(body)


def _file_envelope(request: Request, model: Model, obj: FileObj) -> Response:
    return json_response(envelope(request, model.id, "file", file=obj.to_api()))


async def list_files(request: Request) -> Response:
    state, model = resolve_model(request)
    items = [f.to_api() for f in model.files.values()]
    return paged(request, state, items, "files", model.id, "file")


async def set_chunk_count(request: Request) -> Response:
    """``POST files/{fileId}`` ``{"chunkCount": n}`` (``-1`` = unknown, finish with ``/complete``)."""
    state, model = resolve_model(request)
    obj = _file(model, request)
    check_writable(model)
    try:
        body = json.loads(await request.body() or b"{}")
        count = int(body["chunkCount"])
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, 'The body must be {"chunkCount": <integer>}') from None
    if count != -1 and not 0 <= count <= state.config.max_chunks:
        raise ApiError(400, f"chunkCount must be -1 or 0..{state.config.max_chunks}")
    obj.content.clear()
    obj.declared_chunks = count
    return _file_envelope(request, model, obj)


async def put_chunk(request: Request) -> Response:
    """``PUT files/{fileId}/chunks/{chunkId}``: 204."""
    state, model = resolve_model(request)
    obj = _file(model, request)
    check_writable(model)
    index = _chunk_index(request, state)
    if obj.declared_chunks > 0 and index >= obj.declared_chunks:
        raise ApiError(400, f"Chunk {index} is out of range: the file's chunkCount is {obj.declared_chunks}")
    data, gzipped, size = await _payload(
        request, state, state.config.max_chunk_bytes, lazy=state.config.lazy_gzip
    )
    if size > _INLINE_LIMIT:
        await anyio.to_thread.run_sync(obj.content.put, index, data, gzipped, size)
    else:
        obj.content.put(index, data, gzipped, size)
    return Response(status_code=204)


async def complete(request: Request) -> Response:
    """``POST files/{fileId}/complete``: fixes ``chunkCount`` to the chunks received."""
    _, model = resolve_model(request)
    obj = _file(model, request)
    expected = obj.declared_chunks if obj.declared_chunks > 0 else len(obj.content)
    if obj.content.indices() != list(range(expected)):
        missing = sorted(set(range(expected)) - set(obj.content.indices()))
        raise ApiError(400, f"The upload is incomplete: chunks {missing[:10]} are missing")
    obj.declared_chunks = expected
    return _file_envelope(request, model, obj)


async def put_file(request: Request) -> Response:
    """``PUT files/{fileId}``: the whole file in one request (204)."""
    state, model = resolve_model(request)
    obj = _file(model, request)
    check_writable(model)
    limit = state.config.max_chunk_bytes * state.config.max_chunks
    data, _, _ = await _payload(request, state, limit)
    # not lazy: the content is always read
    content = await anyio.to_thread.run_sync(ChunkSet.from_bytes, data, state.config.max_chunk_bytes)  # type: ignore[arg-type]
    obj.content.clear()
    obj.content = content
    obj.declared_chunks = len(content)
    return Response(status_code=204)


async def _stream(chunks: ChunkSet) -> AsyncIterator[bytes]:
    for index in chunks.indices():
        yield await anyio.to_thread.run_sync(chunks.get, index)


async def get_file(request: Request) -> Response:
    """``GET files/{fileId}``: the whole content (404 when there is none)."""
    _, model = resolve_model(request)
    obj = _file(model, request)
    if len(obj.content) == 0:
        raise ApiError(404, f"File {obj.id} has no content")
    return StreamingResponse(
        _stream(obj.content),
        media_type="application/octet-stream",
        headers={"content-length": str(obj.content.total_size)},
    )


async def list_chunks(request: Request) -> Response:
    state, model = resolve_model(request)
    obj = _file(model, request)
    items = [{"id": str(i), "name": f"Chunk {i}"} for i in obj.content.indices()]
    return paged(request, state, items, "chunks", model.id, "chunk", omit_empty=True)


async def get_chunk(request: Request) -> Response:
    state, model = resolve_model(request)
    obj = _file(model, request)
    index = _chunk_index(request, state)
    if index not in obj.content:
        raise ApiError(404, f"Chunk {index} of file {obj.id} not found")
    data = await anyio.to_thread.run_sync(obj.content.get, index)
    return Response(data, media_type="application/octet-stream")


async def delete_file(request: Request) -> Response:
    _, model = resolve_model(request)
    obj = _file(model, request)
    check_writable(model)
    obj.content.clear()
    obj.declared_chunks = 0
    return Response(status_code=204)
