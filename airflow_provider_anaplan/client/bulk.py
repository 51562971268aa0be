"""AnaplanAsyncClient: the bulk API v2 (metadata, files, tasks, dumps) on ``httpx.AsyncClient``.

The client authenticates lazily (first request), shares tokens process-wide (see ``tokens.py``) and
sends a task creation at most once: after an ambiguous failure it looks for the task and takes it only
when it is provably its own (see :meth:`AnaplanAsyncClient.start_task` and ``coordination.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import httpx

from airflow_provider_anaplan import __version__
from airflow_provider_anaplan.client import transfer
from airflow_provider_anaplan.client.alm import AlmMixin
from airflow_provider_anaplan.client.cloudworks import CloudWorksMixin
from airflow_provider_anaplan.client.config import MIN_POLL_INTERVAL, ClientConfig, validate_seconds
from airflow_provider_anaplan.client.coordination import (
    CLOCK_SKEW,
    PROCESS_COORDINATION,
    FileLease,
    FileLeases,
    StartClaims,
    StartIntent,
    new_tasks,
)
from airflow_provider_anaplan.client.http import AmbiguousRequestError, HttpSession, ssl_verify
from airflow_provider_anaplan.client.ids import action_collection, normalize_object_id, normalize_task_id
from airflow_provider_anaplan.client.jobs import JOB_KINDS, job_args, job_label, parse_job
from airflow_provider_anaplan.client.status import TaskOutcome, TaskResult, TaskStatus
from airflow_provider_anaplan.client.tokens import TokenManager
from airflow_provider_anaplan.client.transactional import TransactionalMixin
from airflow_provider_anaplan.exceptions import (
    AnaplanConfigError,
    AnaplanNotFoundError,
    AnaplanTaskCancelledError,
    AnaplanTaskFailedError,
    AnaplanTaskStartUnknownError,
    AnaplanTaskTimeoutError,
)

__all__ = ["AnaplanAsyncClient", "MappingParameters"]

log = logging.getLogger(__name__)

MappingParameters = Mapping[str, str] | Sequence[Mapping[str, str]]


def _mapping_parameters(value: MappingParameters | None) -> list[dict[str, str]] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        pairs = []
        for entry in value:
            if not isinstance(entry, Mapping) or "entityType" not in entry or "entityName" not in entry:
                raise AnaplanConfigError(
                    "mapping_parameters entries must be {'entityType': ..., 'entityName': ...}, got "
                    f"{entry!r}"
                )
            pairs.append((entry["entityType"], entry["entityName"]))
    else:
        raise AnaplanConfigError(
            f"mapping_parameters must be a dict (entityType -> entityName) or a list of dicts, got {value!r}"
        )
    for key, name in pairs:
        if not isinstance(key, str) or not key.strip() or not isinstance(name, str):
            raise AnaplanConfigError(f"mapping parameter {key!r} -> {name!r}: both must be strings")
    return [{"entityType": k, "entityName": v} for k, v in pairs]


def _dump_targets(status: TaskStatus | Mapping[str, Any]) -> tuple[str, bool, list[str]]:
    """``(task id, import dump available, process step ids with a dump)`` from a status or to_dict()."""
    if isinstance(status, TaskStatus):
        results: list[TaskResult] = []
        stack = list(status.nested)
        while stack:
            result = stack.pop(0)
            results.append(result)
            stack.extend(result.nested)
        steps = [r.object_id for r in results if r.failure_dump_available and r.object_id]
        return status.task_id, status.failure_dump_available, steps
    nested = status.get("nested") or []
    steps = [str(n["object_id"]) for n in nested if n.get("failure_dump_available") and n.get("object_id")]
    return str(status.get("task_id") or ""), bool(status.get("failure_dump_available")), steps


class AnaplanAsyncClient(TransactionalMixin, AlmMixin, CloudWorksMixin):
    """Async Anaplan API client: bulk here; transactional, ALM and CloudWorks from the family mixins.

    Use as ``async with AnaplanAsyncClient(config) as client:``.

    Ids may be given as ``str`` or ``int``. All ``list_*`` methods follow paging and return
    ``list[dict]`` as Anaplan sends them.
    """

    page_size = 5000

    def __init__(self, config: ClientConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        if not isinstance(config, ClientConfig):
            raise AnaplanConfigError(f"config must be a ClientConfig, got {type(config).__name__}")
        self.config = config
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._session: HttpSession | None = None
        self._closed = False

    # ----------------------------------------------------------------------------- plumbing
    async def __aenter__(self) -> AnaplanAsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close connections (the shared token stays cached for other clients)."""
        self._closed = True
        if self._http is not None:
            await self._http.aclose()
            self._http = None
            self._session = None

    @property
    def session(self) -> HttpSession:
        """The authenticated HTTP session (created on first use; nothing is sent until then)."""
        if self._closed:
            raise RuntimeError("This AnaplanAsyncClient is closed")
        if self._session is None:
            cfg = self.config
            self._http = httpx.AsyncClient(
                verify=ssl_verify(cfg.verify),
                timeout=httpx.Timeout(cfg.timeout),
                limits=httpx.Limits(
                    max_connections=cfg.max_concurrency + 8,
                    max_keepalive_connections=cfg.max_concurrency + 8,
                    # Keep connections across polls (httpx's default 5 s equals Anaplan's poll interval,
                    # which would open a new TCP + TLS connection for every poll).
                    keepalive_expiry=max(30.0, 3 * cfg.poll_interval),
                ),
                transport=self._transport,
                headers={"User-Agent": f"airflow-provider-anaplan/{__version__}"},
            )
            auth_session = HttpSession(self._http, cfg.retry, timeout=cfg.timeout)
            self._session = HttpSession(
                self._http, cfg.retry, TokenManager(cfg, auth_session), timeout=cfg.timeout
            )
        return self._session

    @property
    def model_url(self) -> str:
        """``{api_url}/workspaces/{workspace_id}/models/{model_id}``."""
        workspace_id, model_id = self.config.require_model()
        return f"{self.config.api_url}/workspaces/{workspace_id}/models/{model_id}"

    async def _get(self, url: str, object_id: str | None = None, **kwargs: Any) -> dict[str, Any]:
        response = await self.session.request("GET", url, object_id=object_id, **kwargs)
        return response.json()

    async def _paged(self, url: str, key: str, object_id: str | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            body = await self._get(url, object_id, params={"limit": self.page_size, "offset": len(items)})
            page = body.get(key) or []
            items.extend(page)
            total = ((body.get("meta") or {}).get("paging") or {}).get("totalSize")
            if not page or total is None or len(items) >= int(total):
                return items

    # ----------------------------------------------------------------------------- metadata
    async def list_workspaces(self) -> list[dict[str, Any]]:
        """Workspaces the user can see (in the default tenant)."""
        return await self._paged(f"{self.config.api_url}/workspaces", "workspaces")

    async def list_models(self) -> list[dict[str, Any]]:
        """Models of the configured workspace, or all the user's models if no workspace is set."""
        cfg = self.config
        url = (
            f"{cfg.api_url}/workspaces/{cfg.workspace_id}/models"
            if cfg.workspace_id
            else f"{cfg.api_url}/models"
        )
        return await self._paged(url, "models", cfg.workspace_id)

    async def get_model(self) -> dict[str, Any]:
        """Metadata of the configured model."""
        _, model_id = self.config.require_model()
        body = await self._get(f"{self.config.api_url}/models/{model_id}", model_id)
        return body.get("model") or body

    async def get_model_status(self) -> dict[str, Any]:
        """The model's runtime state (``requestStatus``: current step, progress, running task)."""
        _, model_id = self.config.require_model()
        body = await self._get(f"{self.config.api_url}/models/{model_id}/status", model_id)
        return body.get("requestStatus") or body

    async def list_files(self) -> list[dict[str, Any]]:
        return await self._paged(f"{self.model_url}/files", "files", self.config.model_id)

    async def list_imports(self) -> list[dict[str, Any]]:
        return await self._paged(f"{self.model_url}/imports", "imports", self.config.model_id)

    async def list_exports(self) -> list[dict[str, Any]]:
        return await self._paged(f"{self.model_url}/exports", "exports", self.config.model_id)

    async def list_actions(self) -> list[dict[str, Any]]:
        return await self._paged(f"{self.model_url}/actions", "actions", self.config.model_id)

    async def list_processes(self) -> list[dict[str, Any]]:
        return await self._paged(f"{self.model_url}/processes", "processes", self.config.model_id)

    async def _metadata(self, collection: str, kind: str, object_id: object, key: str) -> dict[str, Any]:
        oid = normalize_object_id(object_id, kind, what=f"{kind}_id")
        body = await self._get(f"{self.model_url}/{collection}/{oid}", oid)
        return body.get(key) or body.get(kind) or body

    async def get_import(self, import_id: str | int) -> dict[str, Any]:
        """Import definition (``importMetadata``: source file format, columns...)."""
        return await self._metadata("imports", "import", import_id, "importMetadata")

    async def get_export(self, export_id: str | int) -> dict[str, Any]:
        """Export definition (``exportMetadata``: columns, format, row count...)."""
        return await self._metadata("exports", "export", export_id, "exportMetadata")

    async def get_process(self, process_id: str | int) -> dict[str, Any]:
        """Process definition (``processMetadata``: its actions in order)."""
        return await self._metadata("processes", "process", process_id, "processMetadata")

    async def get_action(self, action_id: str | int) -> dict[str, Any]:
        """Action (117…) definition."""
        return await self._metadata("actions", "action", action_id, "actionMetadata")

    # ----------------------------------------------------------------------------- files
    async def _writable_file(self, file_id: str | int) -> tuple[str, str]:
        """Check a file id's prefix and existence before writing (POSTing a chunk count to an unknown
        id silently creates a new file at Anaplan)."""
        fid = normalize_object_id(file_id, "file", what="file_id")
        if not any(str(f.get("id")) == fid for f in await self.list_files()):
            raise AnaplanNotFoundError(
                f"File {fid}: not in model {self.config.model_id} (not found or no access); upload the file "
                "once in Anaplan to create it (a chunk count sent to an unknown id would create a stray file)",
                status_code=404,
                object_id=fid,
                method="GET",
                path=f"{self.model_url}/files",
            )
        return fid, f"{self.model_url}/files/{fid}"

    async def upload_file(self, file_id: str | int, source: object) -> int:
        """Upload ``source`` to an existing file; return the uncompressed byte count.

        ``source``: a ``str`` or ``pathlib.Path``/``os.PathLike`` (a local file path; a ``str`` is
        always a path, never content — a missing file is an :class:`AnaplanConfigError`), bytes or
        :class:`~airflow_provider_anaplan.client.transfer.Content` (in-memory content), an object with
        ``.open("rb")`` (``ObjectStoragePath``), a binary file object, or an (async) iterable of
        bytes/str chunks. See :func:`~airflow_provider_anaplan.client.transfer.resolve_source`.
        """
        return await self._upload(file_id, source, stream=False)

    async def upload_file_stream(self, file_id: str | int, content: object) -> int:
        """Upload content of unknown length (iterable/async iterable of bytes or str): ``chunkCount -1``
        then ``complete``. Sync iterables are pulled in a worker thread."""
        return await self._upload(file_id, content, stream=True)

    async def _upload(self, file_id: str | int, source: object, *, stream: bool) -> int:
        """The one upload path: check the source and the file id, then run the transfer engine."""
        source = transfer.resolve_source(source)  # a bad path fails before any request
        fid, url = await self._writable_file(file_id)
        cfg = self.config
        return await transfer.upload(
            self.session,
            url,
            fid,
            source,
            chunk_size=cfg.chunk_size,
            compression=cfg.compression,
            max_concurrency=cfg.max_concurrency,
            stream=stream,
        )

    def _readable_file(self, file_id: str | int) -> tuple[str, str]:
        fid = normalize_object_id(file_id, "file", "export", what="file_id")
        return fid, f"{self.model_url}/files/{fid}"

    async def get_file_stream(self, file_id: str | int) -> AsyncIterator[bytes]:
        """Yield a file's content chunk by chunk (fetched concurrently, yielded in order).

        An export's file id is the export id.
        """
        fid, url = self._readable_file(file_id)
        async for data in transfer.iter_chunks(
            transfer.chunk_session(self), url, fid, max_concurrency=self.config.max_concurrency
        ):
            yield data

    async def get_file(self, file_id: str | int) -> bytes:
        """A file's whole content in memory (use :meth:`download_file` for big files)."""
        return b"".join([data async for data in self.get_file_stream(file_id)])

    async def download_file(self, file_id: str | int, destination: object) -> int:
        """Stream a file to ``destination`` atomically (temporary sibling + rename): a local path (``str``
        or ``os.PathLike``; a ``str`` is always a path) or an ``ObjectStoragePath``-like object.

        :returns: bytes written.
        """
        fid, url = self._readable_file(file_id)
        return await transfer.download(
            transfer.chunk_session(self), url, fid, destination, max_concurrency=self.config.max_concurrency
        )

    # ----------------------------------------------------------------------------- tasks
    def _tasks_url(self, action_id: str | int) -> tuple[str, str]:
        aid, collection = action_collection(action_id)
        return aid, f"{self.model_url}/{collection}/{aid}/tasks"

    async def list_tasks(self, action_id: str | int) -> list[dict[str, Any]]:
        """Tasks of an import/export/action/process (``taskId``, ``taskState``, ``creationTime``)."""
        aid, url = self._tasks_url(action_id)
        return await self._paged(url, "tasks", aid)

    def _claims(self) -> StartClaims:
        store = self.config.coordination or PROCESS_COORDINATION
        return StartClaims(store, lifetime=self._intent_lifetime())

    def _intent_lifetime(self) -> float:
        # An unclaimed intent must outlive every ambiguous resolution that might wait for it; a
        # crashed process's intent then expires by itself.
        return 3 * self.config.timeout + 2 * self.config.start_confirm_window + CLOCK_SKEW

    async def start_task(
        self,
        action_id: str | int,
        mapping_parameters: MappingParameters | None = None,
        locale: str = "en_US",
        *,
        on_intent: Callable[[StartIntent], Awaitable[None]] | None = None,
    ) -> str:
        """Start an import (112), export (116), action (117) or process (118); return the task id.

        Task creation is not idempotent, so the POST is sent **at most once**: it is retried only when
        Anaplan provably did not act (409, 429, connection refused). Before it, the start is registered
        in the coordination store; after an *ambiguous* failure (timeout, connection lost after
        sending, 5xx) :meth:`resolve_start` looks for the task instead of POSTing again, and takes it
        only when it is provably this start's (see ``coordination.py``), else raises
        :class:`AnaplanTaskStartUnknownError`.

        :param mapping_parameters: ``{"Version": "Actual"}`` or ``[{"entityType", "entityName"}]``.
        :param on_intent: awaited with the registered :class:`StartIntent` right before the POST (an
            operator persists it so a later try can resolve this start); if it raises, nothing is sent.
        """
        aid, url = self._tasks_url(action_id)
        if not isinstance(locale, str) or not locale.strip():
            raise AnaplanConfigError(f"locale must be a locale name such as 'en_US', got {locale!r}")
        body: dict[str, Any] = {"localeName": locale}  # localeName must come first
        mapping = _mapping_parameters(mapping_parameters)
        if mapping:
            body["mappingParameters"] = mapping
        workspace_id, model_id = self.config.require_model()
        claims = self._claims()
        before = await self.list_tasks(aid)
        since = time.time()
        recent = [str(t.get("taskId")) for t in new_tasks(before, (), since)]
        intent = await claims.register(StartClaims.scope(workspace_id, model_id, aid), aid, since, recent)
        try:
            if on_intent is not None:
                await on_intent(intent)
            response = await self.session.request("POST", url, idempotent=False, object_id=aid, json=body)
        except AmbiguousRequestError as ambiguous:
            log.warning(
                "Starting %s failed ambiguously (%s): Anaplan may have created the task; looking for it "
                "instead of sending the request again",
                aid,
                ambiguous.error,
            )
            return await self.resolve_start(intent, cause=ambiguous.error)
        except Exception:
            await claims.withdraw(intent)  # a definite refusal, or nothing sent: no task was created
            raise
        payload = response.json()
        task = payload.get("task") if isinstance(payload.get("task"), Mapping) else payload
        task_id = str(task.get("taskId") or "")
        if not task_id:
            raise AnaplanConfigError(f"Starting {aid}: Anaplan answered without a taskId")
        await self._claim(claims, intent, task_id)
        log.info("Started task %s of %s", task_id, aid)
        return task_id

    async def acquire_file_lease(
        self, file_id: str | int, *, hold_for: float, wait: float, owner: str = ""
    ) -> dict[str, str]:
        """Become the only writer of a model file in this deployment until released or ``hold_for`` s.

        Anaplan files are per user and not safe for concurrent writers: an import reads the file when
        its task runs, so a run holds the lease from its upload until its task is terminal. Waits up to
        ``wait`` seconds for another holder. Returns the lease (JSON-safe) for
        :meth:`release_file_lease`.

        :raises FileLeaseTimeout: the file stayed in use for longer than ``wait``.
        """
        fid = normalize_object_id(file_id, "file", what="file_id")
        workspace_id, model_id = self.config.require_model()
        leases = FileLeases(self.config.coordination or PROCESS_COORDINATION)
        lease = await leases.acquire(
            FileLeases.scope(workspace_id, model_id, fid), fid, hold_for=hold_for, wait=wait, owner=owner
        )
        return {"scope": lease.scope, "id": lease.id, "file_id": lease.file_id}

    async def release_file_lease(self, lease: Mapping[str, str]) -> None:
        """Give back a lease from :meth:`acquire_file_lease` (best effort; it also expires)."""
        leases = FileLeases(self.config.coordination or PROCESS_COORDINATION)
        await leases.release(FileLease(scope=lease["scope"], id=lease["id"], file_id=lease["file_id"]))

    async def _claim(self, claims: StartClaims, intent: StartIntent, task_id: str) -> None:
        try:
            await claims.claim(intent, task_id)
        except Exception as exc:  # others then wait for this intent until it expires; not fatal here
            log.warning(
                "Could not record task %s as this start's in %s (%s)", task_id, claims.store.name, exc
            )

    async def resolve_start(
        self,
        intent: StartIntent,
        *,
        window: float | None = None,
        cause: BaseException | None = None,
    ) -> str:
        """Find the task a start made although its answer was lost; never POST.

        Polls the action's task list (with backoff, through transient failures) for up to ``window``
        seconds (default ``config.start_confirm_window``). A task is taken when it is new since the
        start, claimed by no other start of this deployment, the only such task, and no other start of
        the action is still unresolved (one that is waits for its own answer first).

        :raises AnaplanTaskStartUnknownError: no task appeared (the request was probably not executed;
            it was not sent again) or more than one unclaimed task appeared (started outside this
            deployment); ``candidates`` lists them.
        """
        claims = self._claims()
        aid = intent.action_id
        span = self.config.start_confirm_window if window is None else window
        deadline = time.monotonic() + span
        delay = 0.25
        waiting_for: list[str] = []
        problem: str | None = None
        candidates: list[str] = []
        while True:
            try:
                own = (await _scan_own(claims, intent)) or intent
                if own.task_id:
                    return own.task_id
                tasks = await self.list_tasks(aid)
                others = await claims.others(intent)
            except Exception as exc:  # the store or Anaplan failing: keep looking until the deadline
                problem = f"looking for it failed ({type(exc).__name__}: {exc})"
                log.warning("Looking for the task of %s failed (%s); trying again", aid, exc)
            else:
                problem = None
                claimed = {o.task_id for o in others if o.task_id}
                waiting_for = [o.writer or o.id for o in others if not o.task_id]
                candidates = [str(t["taskId"]) for t in new_tasks(tasks, intent.seen, intent.since)]
                candidates = [t for t in candidates if t not in claimed]
                if not waiting_for and len(candidates) == 1:
                    task_id = candidates[0]
                    await self._claim(claims, intent, task_id)
                    log.warning("Task %s of %s is the one this start created; using it", task_id, aid)
                    return task_id
                if not waiting_for and len(candidates) > 1:
                    break
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(5.0, delay * 2)
        if candidates and not waiting_for:
            reason = (
                f"{len(candidates)} tasks of it appeared that no start of this deployment claims "
                f"({', '.join(candidates)}): something outside this deployment started it too, and Anaplan "
                "cannot say which task is ours"
            )
        elif waiting_for:
            reason = (
                f"another start of the same action ({', '.join(waiting_for)}) is unresolved, so the "
                f"new task(s) {', '.join(candidates) or '(none)'} cannot be told apart"
            )
        else:
            reason = problem or f"no new task of it appeared within {span:g} s"
        raise AnaplanTaskStartUnknownError(
            f"Starting {aid} failed ambiguously{f' ({cause})' if cause else ''} and it is unknown whether "
            f"Anaplan created a task: {reason}. The request was not sent again, so the action did not run "
            "twice. Check the action's tasks in Anaplan before running it again.",
            object_id=aid,
            candidates=candidates,
            since=intent.since,
        )

    async def get_task_status(self, action_id: str | int, task_id: str) -> TaskStatus:
        """One status poll."""
        aid, url = self._tasks_url(action_id)
        tid = normalize_task_id(task_id)
        body = await self._get(f"{url}/{tid}", aid)
        return TaskStatus.from_api(aid, body, tid)

    async def cancel_task(self, action_id: str | int, task_id: str) -> None:
        """Ask Anaplan to cancel a task (no-op on a finished task)."""
        aid, url = self._tasks_url(action_id)
        tid = normalize_task_id(task_id)
        await self.session.request("DELETE", f"{url}/{tid}", object_id=aid)
        log.info("Requested cancellation of task %s of %s", tid, aid)

    # ----------------------------------------------------------------------------- any job kind
    async def get_job_status(self, kind: str, ids: Mapping[str, Any]) -> TaskStatus:
        """Poll one asynchronous job of any kind (``client/jobs.py``): a bulk task, a read request, a
        model opening, an ALM sync, a CloudWorks run. THE outcome rule applies to the result."""
        job_kind, clean = parse_job(kind, ids)
        method = getattr(self, JOB_KINDS[job_kind].status_method)
        status: TaskStatus = await method(*job_args(job_kind, clean))
        return status

    async def cancel_job(self, kind: str, ids: Mapping[str, Any]) -> bool:
        """Stop a job (a read request is deleted); False when its kind cannot be cancelled."""
        job_kind, clean = parse_job(kind, ids)
        name = JOB_KINDS[job_kind].cancel_method
        if name is None:
            log.info("%s cannot be cancelled; it is left to finish", job_label(job_kind, clean))
            return False
        await getattr(self, name)(*job_args(job_kind, clean))
        return True

    async def wait_for_task(
        self,
        action_id: str | int,
        task_id: str,
        poll_interval: float | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - public contract
        *,
        raise_on_failure: bool = True,
        fail_on_partial: bool | None = None,
    ) -> TaskStatus:
        """Poll until the task is terminal.

        :param poll_interval: seconds between polls, >= 0.1 (default ``config.poll_interval``).
        :param timeout: seconds (finite, > 0); then :class:`AnaplanTaskTimeoutError` (the task is not
            cancelled). None: no limit.
        :param raise_on_failure: raise :class:`AnaplanTaskFailedError` / :class:`AnaplanTaskCancelledError`
            (carrying ``.status``) instead of returning a failed/cancelled status. What counts as a
            failure is the one outcome rule (:meth:`TaskStatus.verdict`): COMPLETE without
            ``successful: true`` is a failure.
        :param fail_on_partial: None (default): Anaplan's verdict alone. True: also fail a successful
            task that rejected rows (the operators' default). False: accept rejected rows and partial
            loads (see :meth:`TaskStatus.verdict`).
        """
        interval = validate_seconds(
            self.config.poll_interval if poll_interval is None else poll_interval,
            "poll_interval",
            minimum=MIN_POLL_INTERVAL,
            inclusive=True,
        )
        limit = validate_seconds(timeout, "timeout", allow_none=True)
        assert interval is not None
        deadline = None if limit is None else time.monotonic() + limit
        while True:
            status = await self.get_task_status(action_id, task_id)
            if status.outcome.is_terminal:
                break
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise AnaplanTaskTimeoutError(
                    f"Task {status.task_id} of {status.action_id} is still {status.state.value} after {limit:g} s",
                    status=status,
                    object_id=status.task_id,
                )
            await asyncio.sleep(interval if remaining is None else min(interval, remaining))
        log.info("%s", status.summary())
        if raise_on_failure:
            raise_for_task(status, fail_on_partial=fail_on_partial)
        return status

    async def run_action(
        self,
        action_id: str | int,
        wait: bool = True,
        mapping_parameters: MappingParameters | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - public contract
        raise_on_failure: bool = True,
        fail_on_partial: bool | None = None,
    ) -> TaskStatus | str:
        """Start a task; with ``wait`` poll it to the end and return its status, else return its id.

        ``timeout``, ``raise_on_failure`` and ``fail_on_partial`` are those of :meth:`wait_for_task`
        (checked before the task is started).
        """
        validate_seconds(timeout, "timeout", allow_none=True)
        task_id = await self.start_task(action_id, mapping_parameters)
        if not wait:
            return task_id
        return await self.wait_for_task(
            action_id,
            task_id,
            timeout=timeout,
            raise_on_failure=raise_on_failure,
            fail_on_partial=fail_on_partial,
        )

    async def upload_and_import(
        self,
        file_id: str | int,
        content: object,
        action_id: str | int,
        mapping_parameters: MappingParameters | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - public contract
        raise_on_failure: bool = True,
    ) -> TaskStatus:
        """Upload ``content`` (any :meth:`upload_file` source) then run the import/process and wait."""
        action_collection(action_id)  # validate before uploading
        await self.upload_file(file_id, content)
        status = await self.run_action(
            action_id, True, mapping_parameters, timeout=timeout, raise_on_failure=raise_on_failure
        )
        assert isinstance(status, TaskStatus)
        return status

    async def export_and_download(
        self,
        export_id: str | int,
        destination: object | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> bytes | int:
        """Run an export, wait, then return its content (``destination`` None) or write it and return
        the byte count. Warns when the output is empty or holds only a header row."""
        eid = normalize_object_id(export_id, "export", what="export_id")
        await self.run_action(eid, True, timeout=timeout)
        newlines = 0
        size = 0
        last = b"\n"
        last_index = -1

        def observe(index: int, data: bytes) -> None:  # chunks may arrive in any order
            nonlocal newlines, size, last, last_index
            size += len(data)
            if newlines < 2:
                newlines += data.count(b"\n")
            if data and index > last_index:
                last, last_index = data[-1:], index

        if destination is None:
            parts = [data async for data in self.get_file_stream(eid)]
            for index, data in enumerate(parts):
                observe(index, data)
            result: bytes | int = b"".join(parts)
        else:
            result = await transfer.download(
                transfer.chunk_session(self),
                f"{self.model_url}/files/{eid}",
                eid,
                destination,
                max_concurrency=self.config.max_concurrency,
                observe=observe,
            )
        if size == 0:
            log.warning("Export %s produced an empty file (check selective access and filters)", eid)
        elif newlines == 0 or (newlines == 1 and last == b"\n"):
            log.warning("Export %s produced only a header row (check selective access and filters)", eid)
        return result

    # ----------------------------------------------------------------------------- dumps
    async def get_import_dump_stream(self, import_id: str | int, task_id: str) -> AsyncIterator[bytes]:
        """Stream the failure dump (CSV of rejected rows) of an import task."""
        iid = normalize_object_id(import_id, "import", what="import_id")
        url = f"{self.model_url}/imports/{iid}/tasks/{normalize_task_id(task_id)}/dump"
        async for data in transfer.iter_chunks(
            transfer.chunk_session(self), url, iid, max_concurrency=self.config.max_concurrency
        ):
            yield data

    async def get_process_dump_stream(
        self, process_id: str | int, task_id: str, object_id: str | int
    ) -> AsyncIterator[bytes]:
        """Stream the failure dump of one step (``objectId`` from ``nestedResults``) of a process task."""
        pid = normalize_object_id(process_id, "process", what="process_id")
        oid = normalize_object_id(object_id, what="object_id")
        url = f"{self.model_url}/processes/{pid}/tasks/{normalize_task_id(task_id)}/dumps/{oid}"
        async for data in transfer.iter_chunks(
            transfer.chunk_session(self), url, oid, max_concurrency=self.config.max_concurrency
        ):
            yield data

    async def download_failure_dumps(
        self, action_id: str | int, status: TaskStatus | Mapping[str, Any], directory: str | os.PathLike[str]
    ) -> list[str]:
        """Write every failure dump of a finished import/process task into ``directory``.

        ``status`` is a :class:`TaskStatus` or its ``to_dict()``. A dump announced by
        ``failureDumpAvailable`` that answers 404 (expired after 48 h, replaced by a newer task) is
        logged as a warning and skipped. Returns the paths written.
        """
        aid, collection = action_collection(action_id)
        task_id, import_dump, steps = _dump_targets(status)
        folder = os.fspath(directory)
        await asyncio.to_thread(os.makedirs, folder, exist_ok=True)
        jobs: list[tuple[str, AsyncIterator[bytes]]] = []
        if collection == "imports" and import_dump:
            jobs.append((f"{aid}_{task_id}_dump.csv", self.get_import_dump_stream(aid, task_id)))
        elif collection == "processes":
            jobs.extend(
                (f"{aid}_{task_id}_{step}_dump.csv", self.get_process_dump_stream(aid, task_id, step))
                for step in steps
            )
        written: list[str] = []
        for name, stream in jobs:
            path = os.path.join(folder, name)
            try:
                await transfer.write_stream(stream, path)
            except AnaplanNotFoundError as exc:
                log.warning(
                    "Failure dump %s is no longer available (%s); dumps are kept 48 h and replaced by newer tasks",
                    name,
                    exc,
                )
                continue
            written.append(path)
            log.info("Wrote failure dump %s", path)
        return written


def raise_for_task(status: TaskStatus, *, fail_on_partial: bool | None = None) -> None:
    """Raise for a task that ended badly, by the one outcome rule (:meth:`TaskStatus.verdict`).

    CANCELLED -> :class:`AnaplanTaskCancelledError`; COMPLETE without ``successful: true`` (false,
    missing, odd: Anaplan gave no verdict), or with rejected rows when ``fail_on_partial`` ->
    :class:`AnaplanTaskFailedError`. A success, an accepted partial load, or a task still running
    returns None.
    """
    verdict = status.verdict(fail_on_partial=fail_on_partial)
    if verdict.outcome is TaskOutcome.CANCELLED:
        raise AnaplanTaskCancelledError(
            f"{status.summary()} (cancelled)", status=status, object_id=status.task_id
        )
    if verdict.outcome is TaskOutcome.RUNNING:
        return
    if not verdict.ok:
        raise AnaplanTaskFailedError(
            f"{status.summary()}: {verdict.reason}", status=status, object_id=status.task_id
        )
    if verdict.accepted_partial:
        log.warning("Accepted with rejected rows (fail_on_partial=False): %s", verdict.reason)


async def _scan_own(claims: StartClaims, intent: StartIntent) -> StartIntent | None:
    """This intent as recorded in the store (a previous try may have claimed its task already)."""
    text = (await asyncio.to_thread(claims.store.scan, intent.scope)).get(intent.id)
    if not text:
        return None
    try:
        return StartIntent.from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError):
        return None
