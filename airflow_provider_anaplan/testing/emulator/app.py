"""The ASGI application: routing for ``/token``, ``/oauth``, ``/2/0``, ``/_emulator`` and the browser pages."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import auth, bulk_files, bulk_meta, bulk_tasks, oauth
from .admin import admin_routes
from .alm import alm_routes
from .cloudworks import cloudworks_routes
from .engine import Engine
from .faults import FaultMiddleware, FaultSettings
from .pages import page_routes
from .responses import STATUS_MESSAGES, ApiError, error_response
from .seed import build_state, default_fixture
from .state import SPOOL, EmulatorState
from .transactional import transactional_routes

log = logging.getLogger(__name__)

API = "/2/0"
WS_MODEL = f"{API}/workspaces/{{workspaceId}}/models/{{modelId}}"
MODEL = f"{API}/models/{{modelId}}"


class Emulator:
    """Holds the live state, the task engine and the fault settings; reset swaps them."""

    def __init__(self, fixture: dict[str, Any] | None = None) -> None:
        self.base_fixture = fixture if fixture is not None else default_fixture()
        self.state: EmulatorState = build_state(self.base_fixture)
        self.engine = Engine(self.state)
        self.faults = FaultSettings()
        #: Bumped whenever the state is replaced; a request held by a fault across a reset is dropped.
        self.generation = 0

    def _discard_storage(self) -> None:
        for model in self.state.models.values():
            for obj in model.files.values():
                obj.content.clear()
            for dump in model.dumps.values():
                dump.content.clear()

    async def reset(self) -> None:
        """Back to the base fixture: data, credentials, config, counters and faults; the seed objects of
        the emulated object store get their seed content back (other objects are left alone)."""
        from .objectstore import object_store
        from .state.cloudworks import seed_objects

        await self._replace(build_state(self.base_fixture))
        seed_objects(object_store(), restore=True)

    async def load_fixture(self, fixture: dict[str, Any], make_default: bool = False) -> None:
        """Replace the model data with ``fixture`` (validated first; a bad fixture changes nothing).

        Issued tokens, registered certificates and OAuth state of users that still exist are kept,
        so a test can authenticate before loading its fixture.
        """
        new_state = build_state(fixture)
        old = self.state.security
        user_ids = {u.id for u in new_state.users.values()}
        security = new_state.security
        security.tokens = {k: t for k, t in old.tokens.items() if t.user_id in user_ids}
        security.certificates = {k: u for k, u in old.certificates.items() if u in user_ids}
        security.seen_payloads = old.seen_payloads
        security.refresh_tokens = {k: t for k, t in old.refresh_tokens.items() if t.user_id in user_ids}
        security.device_codes = old.device_codes
        for client_id, client in old.oauth_clients.items():
            security.oauth_clients.setdefault(client_id, client)
        new_state.counters = self.state.counters
        await self._replace(new_state, clear_faults=False)
        if make_default:
            self.base_fixture = fixture

    async def _replace(self, new_state: EmulatorState, clear_faults: bool = True) -> None:
        await self.engine.shutdown()
        self._discard_storage()
        self.state = new_state
        self.engine = Engine(new_state)
        self.generation += 1
        if clear_faults:
            self.faults.clear()


def _model_routes(base: str) -> list[Route]:
    routes = [
        Route(f"{base}/files", bulk_files.list_files, methods=["GET"]),
        Route(f"{base}/files/{{fileId}}", bulk_files.get_file, methods=["GET"]),
        Route(f"{base}/files/{{fileId}}", bulk_files.set_chunk_count, methods=["POST"]),
        Route(f"{base}/files/{{fileId}}", bulk_files.put_file, methods=["PUT"]),
        Route(f"{base}/files/{{fileId}}", bulk_files.delete_file, methods=["DELETE"]),
        Route(f"{base}/files/{{fileId}}/complete", bulk_files.complete, methods=["POST"]),
        Route(f"{base}/files/{{fileId}}/chunks", bulk_files.list_chunks, methods=["GET"]),
        Route(f"{base}/files/{{fileId}}/chunks/{{chunkId}}", bulk_files.get_chunk, methods=["GET"]),
        Route(f"{base}/files/{{fileId}}/chunks/{{chunkId}}", bulk_files.put_chunk, methods=["PUT"]),
        Route(f"{base}/imports", bulk_meta.list_imports, methods=["GET"]),
        Route(f"{base}/imports/", bulk_meta.list_imports, methods=["GET"]),
        Route(f"{base}/imports/{{importId}}", bulk_meta.get_import, methods=["GET"]),
        Route(f"{base}/exports", bulk_meta.list_exports, methods=["GET"]),
        Route(f"{base}/exports/{{exportId}}", bulk_meta.get_export, methods=["GET"]),
        Route(f"{base}/actions", bulk_meta.list_actions, methods=["GET"]),
        Route(f"{base}/actions/{{actionId}}", bulk_meta.get_action, methods=["GET"]),
        Route(f"{base}/processes", bulk_meta.list_processes, methods=["GET"]),
        Route(f"{base}/processes/{{processId}}", bulk_meta.get_process, methods=["GET"]),
        Route(f"{base}/status", bulk_meta.model_status, methods=["GET"]),
    ]
    for segment, (param, *_rest) in bulk_tasks.KINDS.items():
        tasks = f"{base}/{segment}/{{{param}}}/tasks"
        routes += [
            Route(tasks, bulk_tasks.list_tasks, methods=["GET"]),
            Route(tasks, bulk_tasks.create_task, methods=["POST"]),
            Route(f"{tasks}/{{taskId}}", bulk_tasks.get_task, methods=["GET"]),
            Route(f"{tasks}/{{taskId}}", bulk_tasks.cancel_task, methods=["DELETE"]),
        ]
    dump = f"{base}/imports/{{importId}}/tasks/{{taskId}}/dump"
    pdump = f"{base}/processes/{{processId}}/tasks/{{taskId}}/dumps/{{objectId}}"
    routes += [
        Route(dump, bulk_tasks.import_dump, methods=["GET"]),
        Route(f"{dump}/chunks", bulk_tasks.import_dump_chunks, methods=["GET"]),
        Route(f"{dump}/chunks/{{chunkId}}", bulk_tasks.import_dump_chunk, methods=["GET"]),
        Route(pdump, bulk_tasks.process_dump, methods=["GET"]),
        Route(f"{pdump}/chunks", bulk_tasks.process_dump_chunks, methods=["GET"]),
        Route(f"{pdump}/chunks/{{chunkId}}", bulk_tasks.process_dump_chunk, methods=["GET"]),
    ]
    return routes


def routes() -> list[Route]:
    """Every route of the emulator (full path templates, used as counter keys)."""
    return [
        Route("/token/authenticate", auth.authenticate, methods=["POST"]),
        Route("/token/refresh", auth.refresh, methods=["POST"]),
        Route("/token/validate", auth.validate, methods=["GET"]),
        Route("/token/logout", auth.logout, methods=["POST"]),
        Route("/oauth/device/code", oauth.device_code, methods=["POST"]),
        Route("/oauth/token", oauth.token, methods=["POST"]),
        Route(f"{API}/users/me", bulk_meta.users_me, methods=["GET"]),
        Route(f"{API}/workspaces", bulk_meta.list_workspaces, methods=["GET"]),
        Route(f"{API}/workspaces/{{workspaceId}}", bulk_meta.get_workspace, methods=["GET"]),
        Route(f"{API}/workspaces/{{workspaceId}}/models", bulk_meta.list_models, methods=["GET"]),
        Route(f"{API}/models", bulk_meta.list_models, methods=["GET"]),
        Route(MODEL, bulk_meta.get_model, methods=["GET"]),
        *_model_routes(WS_MODEL),
        *_model_routes(MODEL),
        *transactional_routes(API),
        *alm_routes(API),
        *cloudworks_routes(),
        *page_routes(),
        *admin_routes(),
    ]


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.code, exc.message, request.url.path, exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = STATUS_MESSAGES.get(exc.status_code, exc.detail)
    if exc.status_code == 404:
        message = f"No such resource: {request.method} {request.url.path}"
    return error_response(exc.status_code, message, request.url.path, dict(exc.headers or {}))


def create_app(fixture: dict[str, Any] | None = None) -> FaultMiddleware:
    """Build the emulator ASGI app (the fault/accounting middleware wrapping Starlette).

    ``app.emulator`` is the :class:`Emulator` (state, engine, faults).
    """
    emulator = Emulator(fixture)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await emulator.engine.shutdown()
            SPOOL.cleanup()

    starlette_app = Starlette(
        routes=routes(),
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
        lifespan=lifespan,
    )
    starlette_app.state.emulator = emulator
    starlette_app.router.redirect_slashes = False
    app = FaultMiddleware(starlette_app, emulator)
    app.emulator = emulator
    return app
