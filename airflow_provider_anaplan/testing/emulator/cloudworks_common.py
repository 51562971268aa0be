"""Helpers shared by the CloudWorks route modules (envelopes, paging, bodies, the run executor)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from .cloudworks_runner import Runner
from .responses import ApiError, base_url
from .state import User

OK = {"code": 200, "message": "Success"}


def who(user: User) -> str:
    """A user's display name (CloudWorks shows names, not ids)."""
    return f"{user.first_name} {user.last_name}"


def runner(request: Request) -> Runner:
    return Runner(request.app.state.emulator)


def meta_of(request: Request, kind: str, **extra: Any) -> dict[str, Any]:
    """``meta`` with the ``schema`` URL (a ``1/0`` URL, as Anaplan) and ``extra`` keys."""
    return {"schema": f"{base_url(request)}/cloudworks/1/0/integrations/objects/{kind}", **extra}


async def body(request: Request, required: bool = True) -> dict[str, Any]:
    """The JSON object body (400 when missing and ``required``, or not an object)."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise ApiError(400, "Invalid request body")
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ApiError(400, "Invalid request body: not JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "Invalid request body: a JSON object is expected")
    return data


def paging_args(request: Request, default_limit: int) -> tuple[int, int]:
    """``(offset, limit)`` from the query (400 when not integers in range)."""
    try:
        offset = int(request.query_params.get("offset") or 0)
        limit = int(request.query_params.get("limit") or default_limit)
    except ValueError:
        raise ApiError(400, "offset and limit must be integers") from None
    if offset < 0 or limit < 1:
        raise ApiError(400, "offset must be >= 0 and limit >= 1")
    return offset, limit
