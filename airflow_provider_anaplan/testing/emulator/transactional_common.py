"""Helpers shared by the transactional API handlers: model resolution with open/lock checks, bodies, paging."""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from .bulk_meta import resolve_model
from .responses import ApiError, _int_param, envelope, json_response
from .state import EmulatorState, Model

T = TypeVar("T")


def open_model(request: Request, write: bool = False) -> tuple[EmulatorState, Model]:
    """Authenticated model of the path, open (409 if closed/loading); ``write`` also checks locks (423)."""
    state, model = resolve_model(request)
    if write:
        model.require_writable()
    else:
        model.require_open()
    return state, model


async def json_body(request: Request, raw: bytes | None = None) -> Any:
    """The parsed JSON body (400 when it is not JSON)."""
    data = await request.body() if raw is None else raw
    if not data.strip():
        return None
    try:
        with gc_paused():
            return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "The request body is not valid JSON") from None


def page_of(
    request: Request,
    state: EmulatorState,
    keys: Sequence[T],
    render: Callable[[T], dict[str, Any]],
    key: str,
    model_id: str | None,
    kind: str,
    omit_empty: bool = False,
) -> Response:
    """Like :func:`responses.paged` but renders only the page's items (cheap on huge collections)."""
    limit = _int_param(request, "limit", state.config.default_page_size, 1)
    offset = _int_param(request, "offset", 0, 0)
    page = [render(k) for k in keys[offset : offset + limit]]
    paging: dict[str, Any] = {"currentPageSize": len(page), "totalSize": len(keys), "offset": offset}
    url = str(request.url.replace(query=""))
    extra = {k: v for k, v in request.query_params.items() if k not in ("limit", "offset")}
    if offset + limit < len(keys):
        paging["next"] = f"{url}?{urlencode({**extra, 'limit': limit, 'offset': offset + limit})}"
    if offset > 0:
        paging["previous"] = f"{url}?{urlencode({**extra, 'limit': limit, 'offset': max(0, offset - limit)})}"
    body = envelope(request, model_id, kind)
    body["meta"]["paging"] = paging
    if page or not omit_empty:
        body[key] = page
    return json_response(body)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a big body is parsed and applied.

    Parsing and applying 100,000 items allocates millions of objects; the collector would walk the
    whole (growing) heap several times per call. Reference counting still frees everything.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def flag(request: Request, name: str) -> bool:
    """A boolean query parameter (``true`` in any case)."""
    return request.query_params.get(name, "").strip().lower() == "true"
