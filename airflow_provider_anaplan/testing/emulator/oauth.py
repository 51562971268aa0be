"""OAuth 2.0 service (``/oauth/device/code``, ``/oauth/token``): device grant and refresh tokens.

Errors are ``{"error", "error_description"}``. Device polling answers 400 with
``authorization_pending``, ``slow_down`` (polled faster than ``interval``; the interval then grows),
``expired_token``, ``access_denied`` or ``invalid_grant``. A dead, expired or unknown refresh token
answers **403** ``invalid_grant`` (Anaplan's "register again"), for rotatable and non-rotatable
clients alike. Rotatable refresh tokens are single-use: each refresh returns a new one and kills
the old one. Presenting a spent one again is refused (and counted in ``refresh_token_reuse``); as
Anaplan does, that does not revoke the newer token.
"""

from __future__ import annotations

import base64
import json
import math
import secrets
import string
import time
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from .auth import get_state, issue_token
from .responses import json_response
from .state import DeviceCode, EmulatorState, RefreshToken, User
from .state.security import new_secret

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def oauth_error(status: int, error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, status=status)


async def read_params(request: Request) -> dict[str, str]:
    """Body parameters from JSON or ``application/x-www-form-urlencoded`` (or the query string)."""
    raw = await request.body()
    params: dict[str, str] = dict(request.query_params)
    if not raw:
        return params
    ctype = request.headers.get("content-type", "")
    if "json" in ctype or raw.lstrip()[:1] == b"{":
        try:
            data = json.loads(raw)
        except ValueError:
            return params
        if isinstance(data, dict):
            params.update({str(k): str(v) for k, v in data.items() if v is not None})
        return params
    params.update(dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)))
    return params


def _user_code() -> str:
    alphabet = string.ascii_uppercase.replace("O", "").replace("I", "") + "23456789"
    code = "".join(secrets.choice(alphabet) for _ in range(8))
    return f"{code[:4]}-{code[4:]}"


def _id_token(user: User, client_id: str) -> str:
    def enc(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"sub": user.id, "email": user.email, "aud": client_id, "iat": now, "exp": now + 2100}
    return f"{enc({'alg': 'none', 'typ': 'JWT'})}.{enc(claims)}.emulator"


def _issue(state: EmulatorState, user: User, client_id: str, rotatable: bool, refresh: str | None) -> dict:
    """Access token (+ refresh token) response body."""
    access = issue_token(state, user, "oauth")
    if refresh is None:
        refresh_token = RefreshToken(
            value=new_secret(32),
            client_id=client_id,
            user_id=user.id,
            expires_at=time.time() + state.config.refresh_token_ttl_seconds,
            rotatable=rotatable,
        )
        state.security.refresh_tokens[refresh_token.value] = refresh_token
        refresh = refresh_token.value
    return {
        "access_token": access.value,
        "refresh_token": refresh,
        "id_token": _id_token(user, client_id),
        "scope": "openid email offline_access",
        "expires_in": int(state.config.token_ttl_seconds),
        "token_type": "Bearer",
    }


def issue_refresh_token(state: EmulatorState, client_id: str, user: User) -> dict:
    """Admin shortcut: a fresh token pair as if the device flow had completed."""
    client = state.security.oauth_clients[client_id]
    return _issue(state, user, client_id, client.rotatable, None)


def pending_device_codes(state: EmulatorState) -> list[DeviceCode]:
    """Device authorizations still waiting for the user (not approved, denied, used or expired)."""
    now = time.time()
    return [
        c
        for c in state.security.device_codes.values()
        if not c.used and not c.denied and c.approved_user is None and now < c.expires_at
    ]


def approve_device_code(
    state: EmulatorState, user_code: str, email: str | None = None, deny: bool = False
) -> tuple[int, dict[str, Any]]:
    """Approve (or deny) the pending device authorization ``user_code`` as ``email`` (default: the
    first user). Returns ``(status, body)``: 200 ``{"status": "approved"|"denied", "user"}``, or an
    error ``{"error": message}`` with 404 (unknown user or code) or 410 (expired).

    Used by the admin API (``POST /_emulator/oauth/device/approve``) and the activation page.
    """
    code_text = user_code.strip().upper()
    if not state.users:
        return 404, {"error": "the emulator has no users"}
    address = (email or next(iter(state.users))).strip().lower()
    user = state.users.get(address)
    if user is None:
        return 404, {"error": f"unknown user {address!r}"}
    for code in state.security.device_codes.values():
        if code.user_code == code_text and not code.used:
            if time.time() >= code.expires_at:
                return 410, {"error": "the device code has expired"}
            if deny:
                code.denied = True
            else:
                code.approved_user = user.id
            return 200, {"status": "denied" if deny else "approved", "user": user.email}
    return 404, {"error": f"no pending device code with user_code {code_text!r}"}


async def device_code(request: Request) -> Response:
    """``POST /oauth/device/code``."""
    state = get_state(request)
    params = await read_params(request)
    client_id = params.get("client_id", "")
    if not client_id:
        return oauth_error(400, "invalid_request", "client_id is required")
    if client_id not in state.security.oauth_clients:
        return oauth_error(403, "unauthorized_client", f"Unknown client_id {client_id!r}")
    now = time.time()
    code = DeviceCode(
        device_code=new_secret(24),
        user_code=_user_code(),
        client_id=client_id,
        scope=params.get("scope", "openid profile email offline_access"),
        expires_at=now + state.config.device_code_ttl_seconds,
        interval=state.config.device_poll_interval,
    )
    state.security.device_codes[code.device_code] = code
    root = str(request.base_url).rstrip("/")
    return json_response(
        {
            "device_code": code.device_code,
            "user_code": code.user_code,
            "verification_uri": f"{root}/activate",
            "verification_uri_complete": f"{root}/activate?user_code={code.user_code}",
            "expires_in": int(state.config.device_code_ttl_seconds),
            "interval": max(1, math.ceil(code.interval)) if code.interval > 0 else 0,
        }
    )


def _device_grant(state: EmulatorState, params: dict[str, str]) -> Response:
    code = state.security.device_codes.get(params.get("device_code", ""))
    if code is None or code.used:
        return oauth_error(400, "invalid_grant", "Unknown or already used device_code")
    if params.get("client_id") != code.client_id:
        return oauth_error(400, "invalid_grant", "device_code was issued to another client")
    now = time.time()
    if now >= code.expires_at:
        return oauth_error(400, "expired_token", "The device_code has expired; start again")
    if code.denied:
        code.used = True
        return oauth_error(400, "access_denied", "The user denied the request")
    last, code.last_poll = code.last_poll, now
    if last is not None and code.interval > 0 and now - last < code.interval:
        code.interval += state.config.device_slow_down_increment
        return oauth_error(400, "slow_down", f"Polling too fast; wait {math.ceil(code.interval)} s")
    if code.approved_user is None:
        return oauth_error(400, "authorization_pending", "The user has not approved the request yet")
    user = state.user_by_id(code.approved_user)
    if user is None:
        return oauth_error(400, "invalid_grant", "The approving user no longer exists")
    code.used = True
    client = state.security.oauth_clients[code.client_id]
    state.counters.authentications["device"] += 1
    return json_response(_issue(state, user, client.client_id, client.rotatable, None))


def _refresh_grant(state: EmulatorState, params: dict[str, str]) -> Response:
    client = state.security.oauth_clients.get(params.get("client_id", ""))
    if client is None:
        state.counters.auth_failures["oauth_refresh"] += 1
        return oauth_error(401, "unauthorized_client", "Unknown client_id")
    if client.client_secret is not None and params.get("client_secret") != client.client_secret:
        state.counters.auth_failures["oauth_refresh"] += 1
        return oauth_error(401, "unauthorized_client", "Invalid client_secret")
    token = state.security.refresh_tokens.get(params.get("refresh_token", ""))
    if token is None or token.client_id != client.client_id or not token.alive():
        state.counters.auth_failures["oauth_refresh"] += 1
        if token is not None and token.spent and token.client_id == client.client_id:
            # A replayed single-use token: refused; the newer token it was exchanged for stays valid.
            state.counters.refresh_token_reuse[client.client_id] += 1
        return oauth_error(
            403, "invalid_grant", "The refresh token is invalid, expired or already used; register again"
        )
    user = state.user_by_id(token.user_id)
    if user is None:
        return oauth_error(403, "invalid_grant", "The token's user no longer exists")
    state.counters.authentications["oauth_refresh"] += 1
    state.counters.oauth_refresh_grants[client.client_id] += 1
    if token.rotatable:
        token.dead = True
        return json_response(_issue(state, user, client.client_id, True, None))
    return json_response(_issue(state, user, client.client_id, False, token.value))


async def token(request: Request) -> Response:
    """``POST /oauth/token``."""
    state = get_state(request)
    params = await read_params(request)
    grant = params.get("grant_type", "")
    if grant == DEVICE_GRANT:
        return _device_grant(state, params)
    if grant == "refresh_token":
        return _refresh_grant(state, params)
    return oauth_error(400, "invalid_request", f"Unsupported grant_type {grant!r}")
