"""Response helpers: the bulk API envelope, error envelope, paging and JSON rendering."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from .state import EmulatorState

STATUS_MESSAGES = {
    200: "Success",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    423: "Locked",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class ApiError(Exception):
    """Raised by handlers; rendered as ``{"status": {"code", "message"}, "path", "timestamp"}``."""

    def __init__(self, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Compact JSON response."""
    return Response(
        json.dumps(body, separators=(",", ":")).encode(),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def error_body(code: int, message: str, path: str) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"status": {"code": code, "message": message}, "path": path, "timestamp": now}


def error_response(code: int, message: str, path: str, headers: dict[str, str] | None = None) -> Response:
    return json_response(error_body(code, message, path), status=code, headers=headers)


def base_url(request: Request) -> str:
    """``http://host:port`` of the emulator as the client addressed it."""
    return str(request.base_url).rstrip("/")


def schema_url(request: Request, model_id: str | None, kind: str) -> str:
    root = f"{base_url(request)}/2/0"
    if model_id:
        return f"{root}/models/{model_id}/objects/{kind}"
    return f"{root}/objects/{kind}"


def envelope(request: Request, model_id: str | None, kind: str, **payload: Any) -> dict[str, Any]:
    """``{"meta": {"schema"}, "status": {200, "Success"}, **payload}``."""
    return {
        "meta": {"schema": schema_url(request, model_id, kind)},
        "status": {"code": 200, "message": "Success"},
        **payload,
    }


def _int_param(request: Request, name: str, default: int, minimum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"Invalid value for '{name}': {raw!r} is not an integer") from None
    if value < minimum:
        raise ApiError(400, f"Invalid value for '{name}': must be >= {minimum}")
    return value


def paged(
    request: Request,
    state: EmulatorState,
    items: list[dict[str, Any]],
    key: str,
    model_id: str | None,
    kind: str,
    omit_empty: bool = False,
) -> Response:
    """Apply ``limit``/``offset`` and return the envelope with ``meta.paging``."""
    limit = _int_param(request, "limit", state.config.default_page_size, 1)
    offset = _int_param(request, "offset", 0, 0)
    page = items[offset : offset + limit]
    paging: dict[str, Any] = {"currentPageSize": len(page), "totalSize": len(items), "offset": offset}
    url = str(request.url.replace(query=""))
    if offset + limit < len(items):
        paging["next"] = f"{url}?{urlencode({'limit': limit, 'offset': offset + limit})}"
    if offset > 0:
        paging["previous"] = f"{url}?{urlencode({'limit': limit, 'offset': max(0, offset - limit)})}"
    body = envelope(request, model_id, kind)
    body["meta"]["paging"] = paging
    if page or not omit_empty:
        body[key] = page
    return json_response(body)
