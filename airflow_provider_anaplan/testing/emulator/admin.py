"""Admin API under ``/_emulator/`` (no auth, never faulted). See ``docs/emulator.md``."""

from __future__ import annotations

import json
import time
from typing import Any

from cryptography import x509
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .alm_admin import alm_admin_routes
from .oauth import approve_device_code as approve_device
from .oauth import issue_refresh_token
from .responses import json_response
from .seed import FixtureError
from .state import Model, OAuthClient
from .transactional_admin import transactional_admin_routes


def _emulator(request: Request) -> Any:
    return request.app.state.emulator


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _bad(message: str, status: int = 400) -> Response:
    return json_response({"error": message}, status=status)


def _model(request: Request) -> Model | Response:
    state = _emulator(request).state
    model_id = request.query_params.get("model")
    if model_id is None:
        return state.default_model()
    model = state.models.get(model_id)
    if model is None:
        return _bad(f"unknown model {model_id}", 404)
    return model


async def health(request: Request) -> Response:
    return json_response({"status": "ok"})


async def reset(request: Request) -> Response:
    await _emulator(request).reset()
    return json_response({"status": "reset"})


async def load_fixture(request: Request) -> Response:
    """Replace the state with the posted fixture; ``?default=true`` also makes it the reset target."""
    try:
        fixture = await _json(request)
        await _emulator(request).load_fixture(
            fixture, make_default=request.query_params.get("default") == "true"
        )
    except (ValueError, FixtureError, KeyError, TypeError) as exc:
        return _bad(f"invalid fixture: {exc}")
    return json_response({"status": "loaded"})


async def list_items(request: Request) -> Response:
    model = _model(request)
    if isinstance(model, Response):
        return model
    lst = model.lists.get(request.path_params["listId"])
    if lst is None:
        return _bad(f"unknown list {request.path_params['listId']}", 404)
    return json_response({"id": lst.id, "name": lst.name, "items": [lst.item_api(n) for n in lst.items]})


async def module_cells(request: Request) -> Response:
    model = _model(request)
    if isinstance(model, Response):
        return model
    module = model.modules.get(request.path_params["moduleId"])
    if module is None:
        return _bad(f"unknown module {request.path_params['moduleId']}", 404)
    names = [d.name for d in module.dimensions]
    cells = [{**dict(zip(names, key, strict=True)), "value": value} for key, value in module.cells.items()]
    return json_response({"id": module.id, "name": module.name, "dimensions": names, "cells": cells})


async def file_content(request: Request) -> Response:
    model = _model(request)
    if isinstance(model, Response):
        return model
    obj = model.files.get(request.path_params["fileId"])
    if obj is None:
        return _bad(f"unknown file {request.path_params['fileId']}", 404)
    return Response(obj.content.read_all(), media_type="application/octet-stream")


async def register_certificate(request: Request) -> Response:
    """``{"user": email, "pem": "-----BEGIN CERTIFICATE-----..."}``."""
    state = _emulator(request).state
    try:
        body = await _json(request)
        cert = x509.load_pem_x509_certificate(str(body["pem"]).encode())
    except (ValueError, KeyError) as exc:
        return _bad(f"expected {{user, pem}} with a PEM certificate: {exc}")
    user = state.users.get(str(body.get("user", "")).lower())
    if user is None:
        return _bad(f"unknown user {body.get('user')!r}", 404)
    from cryptography.hazmat.primitives.serialization import Encoding

    state.security.certificates[cert.public_bytes(Encoding.DER)] = user.id
    return json_response(
        {"status": "registered", "user": user.email, "subject": cert.subject.rfc4514_string()}
    )


async def register_oauth_client(request: Request) -> Response:
    """``{"client_id", "rotatable": bool, "client_secret": str | null}``."""
    state = _emulator(request).state
    try:
        body = await _json(request)
        client = OAuthClient(
            client_id=str(body["client_id"]),
            rotatable=bool(body.get("rotatable", False)),
            client_secret=body.get("client_secret"),
        )
    except (ValueError, KeyError) as exc:
        return _bad(f"expected {{client_id, rotatable, client_secret}}: {exc}")
    state.security.oauth_clients[client.client_id] = client
    return json_response(
        {"status": "registered", "client_id": client.client_id, "rotatable": client.rotatable}
    )


async def approve_device_code(request: Request) -> Response:
    """``{"user_code", "user": email (default: first user), "deny": bool}``."""
    state = _emulator(request).state
    try:
        body = await _json(request)
        user_code = str(body["user_code"])
    except (ValueError, KeyError) as exc:
        return _bad(f"expected {{user_code}}: {exc}")
    status, answer = approve_device(state, user_code, body.get("user") or None, bool(body.get("deny")))
    return json_response(answer, status=status)


async def issue_oauth_tokens(request: Request) -> Response:
    """``{"client_id", "user"}`` -> a token pair as if the device flow completed (test shortcut)."""
    state = _emulator(request).state
    try:
        body = await _json(request)
        client_id = str(body["client_id"])
    except (ValueError, KeyError) as exc:
        return _bad(f"expected {{client_id}}: {exc}")
    if client_id not in state.security.oauth_clients:
        return _bad(f"unknown client {client_id!r}", 404)
    user = state.users.get(str(body.get("user") or next(iter(state.users))).lower())
    if user is None:
        return _bad("unknown user", 404)
    return json_response(issue_refresh_token(state, client_id, user))


async def refresh_tokens(request: Request) -> Response:
    """Every OAuth refresh token issued (``?client_id=`` filters), oldest first, alive or not."""
    state = _emulator(request).state
    client_id = request.query_params.get("client_id")
    tokens = sorted(state.security.refresh_tokens.values(), key=lambda t: t.issued_at)
    emails = {u.id: u.email for u in state.users.values()}
    return json_response(
        {
            "refresh_tokens": [
                t.to_admin(emails.get(t.user_id)) for t in tokens if client_id in (None, t.client_id)
            ]
        }
    )


async def expire_tokens(request: Request) -> Response:
    """Expire access tokens (``{"kind": "access"|"refresh"|"all"}``, default access)."""
    state = _emulator(request).state
    body = await _json(request)
    kind = body.get("kind", "access")
    past = time.time() - 1
    count = 0
    if kind in ("access", "all"):
        for token in state.security.tokens.values():
            token.expires_at = min(token.expires_at, past)
            count += 1
    if kind in ("refresh", "all"):
        for refresh in state.security.refresh_tokens.values():
            refresh.expires_at = min(refresh.expires_at, past)
            count += 1
    return json_response({"status": "expired", "count": count})


async def config(request: Request) -> Response:
    state = _emulator(request).state
    if request.method == "POST":
        try:
            state.config.update(await _json(request))
        except KeyError as exc:
            return _bad(f"unknown config key {exc}")
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
    return json_response(state.config.to_dict())


async def counters(request: Request) -> Response:
    emulator = _emulator(request)
    if request.method == "DELETE":
        from .state import Counters

        emulator.state.counters = Counters()
    return json_response(emulator.state.counters.to_dict())


async def faults(request: Request) -> Response:
    emulator = _emulator(request)
    try:
        if request.method == "POST":
            body = await _json(request)
            emulator.faults.set(body)
            if "token_ttl_seconds" in body:
                emulator.state.config.update({"token_ttl_seconds": body["token_ttl_seconds"]})
        elif request.method == "DELETE":
            emulator.faults.clear()
    except (ValueError, TypeError, KeyError) as exc:
        return _bad(str(exc))
    return json_response(emulator.faults.to_dict())


async def add_fault_rule(request: Request) -> Response:
    emulator = _emulator(request)
    try:
        rule = emulator.faults.add_rule(await _json(request))
    except (ValueError, TypeError, KeyError) as exc:
        return _bad(str(exc))
    return json_response(rule.to_dict())


async def tasks(request: Request) -> Response:
    model = _model(request)
    if isinstance(model, Response):
        return model
    return json_response({a: [t.to_api() for t in ts] for a, ts in model.tasks.items()})


def admin_routes() -> list[Route]:
    p = "/_emulator"
    return [
        Route(f"{p}/health", health, methods=["GET"]),
        Route(f"{p}/reset", reset, methods=["POST"]),
        Route(f"{p}/fixture", load_fixture, methods=["POST"]),
        Route(f"{p}/lists/{{listId}}", list_items, methods=["GET"]),
        Route(f"{p}/modules/{{moduleId}}", module_cells, methods=["GET"]),
        Route(f"{p}/files/{{fileId}}", file_content, methods=["GET"]),
        Route(f"{p}/certificates", register_certificate, methods=["POST"]),
        Route(f"{p}/oauth/clients", register_oauth_client, methods=["POST"]),
        Route(f"{p}/oauth/device/approve", approve_device_code, methods=["POST"]),
        Route(f"{p}/oauth/tokens", issue_oauth_tokens, methods=["POST"]),
        Route(f"{p}/oauth/refresh_tokens", refresh_tokens, methods=["GET"]),
        Route(f"{p}/tokens/expire", expire_tokens, methods=["POST"]),
        Route(f"{p}/config", config, methods=["GET", "POST"]),
        Route(f"{p}/counters", counters, methods=["GET", "DELETE"]),
        Route(f"{p}/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route(f"{p}/faults/rules", add_fault_rule, methods=["POST"]),
        Route(f"{p}/tasks", tasks, methods=["GET"]),
        *alm_admin_routes(),
        *transactional_admin_routes(),
    ]
