"""CloudWorksMixin: the CloudWorks API (connections, integrations, runs, error dumps).

Async methods here are part of :class:`~airflow_provider_anaplan.client.bulk.AnaplanAsyncClient`
(it inherits this mixin); :class:`CloudWorksFace` lists their blocking versions for
:class:`~airflow_provider_anaplan.client.sync.AnaplanClient`. One implementation of each step.
Integration flows are in :mod:`~airflow_provider_anaplan.client.cloudworks_flows`.

CloudWorks has its own base URL (``ClientConfig.cloudworks_url``; both forms of the spec work) and
takes the same Anaplan token. A run is polled as a :class:`TaskStatus`
(:mod:`~airflow_provider_anaplan.client.cloudworks_status`: partial success is a success with
rejected rows). A run is started **at most once**: CloudWorks answers 409 while the integration runs,
so a 409 is not retried but explained; after an ambiguous failure (timeout, 5xx) the integration's
run history is read and the one run that appeared since the request is taken as this start's
(:class:`AnaplanTaskStartUnknownError` when none or several appeared); the POST is never re-sent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_anaplan.client.alm_wait import poll_job
from airflow_provider_anaplan.client.cloudworks_flows import CloudWorksFlowsMixin
from airflow_provider_anaplan.client.cloudworks_status import error_records, run_task_status
from airflow_provider_anaplan.client.faces import Blocking, SyncFace
from airflow_provider_anaplan.client.ids import normalize_model_id
from airflow_provider_anaplan.client.status import TaskStatus
from airflow_provider_anaplan.exceptions import (
    AnaplanConfigError,
    AnaplanConflictError,
    AnaplanNotFoundError,
    AnaplanTaskStartUnknownError,
)

if TYPE_CHECKING:
    from airflow_provider_anaplan.client.config import ClientConfig
    from airflow_provider_anaplan.client.http import HttpSession

__all__ = ["CloudWorksFace", "CloudWorksMixin", "cloudworks_id"]

log = logging.getLogger(__name__)

_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
PAGE = 100


def cloudworks_id(value: object, what: str) -> str:
    """A CloudWorks id (integration, flow, run, connection: 32 lower-case hex digits at Anaplan)."""
    text = value.strip() if isinstance(value, str) else ""
    if not _ID.match(text):
        raise AnaplanConfigError(f"{what} must be a CloudWorks id string, got {value!r}")
    return text


class CloudWorksMixin(CloudWorksFlowsMixin):
    """Async CloudWorks methods of AnaplanAsyncClient (uses its session, config and helpers)."""

    if TYPE_CHECKING:
        config: ClientConfig

        @property
        def session(self) -> HttpSession: ...

    # ------------------------------------------------------------------ plumbing
    @property
    def cloudworks_url(self) -> str:
        """The CloudWorks API base URL of the configuration."""
        return str(self.config.cloudworks_url)

    def _cw_session(self) -> HttpSession:
        """The session with 409 not retried: in CloudWorks it means "already running" / "not running"."""
        from airflow_provider_anaplan.client.http import HttpSession

        base = self.session
        policy = dataclasses.replace(base.policy, retry_statuses=base.policy.retry_statuses - {409})
        return HttpSession(base.client, policy, base.tokens, timeout=base.timeout)

    async def _cw_get(self, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
        response = await self.session.request("GET", f"{self.cloudworks_url}{path}", what=what, **kwargs)
        body = response.json()
        return body if isinstance(body, dict) else {}

    async def _cw_paged(self, path: str, key: str, what: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            body = await self._cw_get(path, what, params={**params, "offset": len(items), "limit": PAGE})
            page = body.get(key) or []
            items.extend(page)
            total = ((body.get("meta") or {}).get("paging") or {}).get("totalSize")
            if not page or total is None or len(items) >= int(total):
                return items

    # ------------------------------------------------------------------ connections and integrations
    async def get_connections(self) -> list[dict[str, Any]]:
        """CloudWorks connections the user can see (S3, Azure Blob, BigQuery; secrets are never returned)."""
        return await self._cw_paged("/integrations/connections", "connections", "CloudWorks connections")

    async def get_integrations(
        self, model_id: str | None = None, *, my_integrations: bool = False
    ) -> list[dict[str, Any]]:
        """Integrations (summaries); with ``model_id`` only those of that model (filtered here: the
        by-model endpoint is no longer served). ``my_integrations``: only the current user's."""
        items = await self._cw_paged(
            "/integrations",
            "integrations",
            "CloudWorks integrations",
            myIntegrations=1 if my_integrations else 0,
        )
        if model_id is None:
            return items
        mid = normalize_model_id(model_id)
        return [i for i in items if str(i.get("modelId", "")).upper() == mid]

    async def get_integration(self, integration_id: str) -> dict[str, Any]:
        """One integration with its ``jobs`` (sources, targets, connection ids)."""
        iid = cloudworks_id(integration_id, "integration_id")
        body = await self._cw_get(f"/integrations/{iid}", f"CloudWorks integration {iid}")
        return dict(body.get("integration") or body)

    # ------------------------------------------------------------------ runs
    async def get_run_history(self, integration_id: str, *, limit: int = 25) -> list[dict[str, Any]]:
        """The newest ``limit`` runs of an integration (or flow), newest first."""
        iid = cloudworks_id(integration_id, "integration_id")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise AnaplanConfigError(f"limit must be a positive integer, got {limit!r}")
        body = await self._cw_get(
            f"/integrations/runs/{iid}",
            f"CloudWorks run history of {iid}",
            params={"offset": 0, "limit": limit},
        )
        history = body.get("history_of_runs") or {}
        return list(history.get("runs") or []) if isinstance(history, Mapping) else []

    async def get_run_status(self, run_id: str) -> dict[str, Any]:
        """A run as CloudWorks reports it (``success``, ``message``, ``executionErrorCode``, dates)."""
        rid = cloudworks_id(run_id, "run_id")
        body = await self._cw_get(f"/integrations/run/{rid}", f"CloudWorks run {rid}")
        return dict(body.get("run") or {})

    async def get_run_error(self, run_id: str) -> list[dict[str, Any]]:
        """The run's error records (one per failing action: messages, ``failureDumpGenerated``)."""
        rid = cloudworks_id(run_id, "run_id")
        return error_records(
            await self._cw_get(f"/integrations/runerror/{rid}", f"CloudWorks run {rid} errors")
        )

    async def run_integration(self, integration_id: str) -> str:
        """Start a run of an integration; return the run id (sent at most once, see the module doc).

        :raises AnaplanConflictError: the integration is already running (CloudWorks runs one at a time).
        :raises AnaplanTaskStartUnknownError: the answer was lost and the run cannot be identified.
        """
        iid = cloudworks_id(integration_id, "integration_id")
        return await self._start_run(iid, f"/integrations/{iid}/run", None, "integration")

    async def _start_run(self, owner: str, path: str, body: dict[str, Any] | None, noun: str) -> str:
        from airflow_provider_anaplan.client.http import AmbiguousRequestError

        what = f"CloudWorks {noun} {owner}"
        seen = {str(r.get("id")) for r in await self.get_run_history(owner)}
        since = time.time()
        try:
            response = await self._cw_session().request(
                "POST", f"{self.cloudworks_url}{path}", idempotent=False, what=what, json=body or {}
            )
        except AmbiguousRequestError as ambiguous:
            log.warning("Starting %s failed ambiguously (%s); looking for its run", what, ambiguous.error)
            return await self._resolve_run(owner, seen, since, ambiguous.error, what)
        except AnaplanConflictError as exc:
            raise await self._already_running(owner, what, exc) from None
        run_id = str((response.json().get("run") or {}).get("id") or "")
        if not run_id:
            raise AnaplanConfigError(f"Starting {what}: CloudWorks answered without a run id")
        log.info("Started run %s of %s", run_id, what)
        return run_id

    async def _already_running(
        self, owner: str, what: str, exc: AnaplanConflictError
    ) -> AnaplanConflictError:
        try:
            active = [r for r in await self.get_run_history(owner, limit=5) if not r.get("endDate")]
        except Exception:  # the explanation is best effort; the 409 stands
            active = []
        detail = (
            f" (run {active[0].get('id')} started {active[0].get('startDate')} by {active[0].get('triggeredBy')})"
            if active
            else ""
        )
        return AnaplanConflictError(
            f"{what} is already running{detail}: CloudWorks runs one at a time. Wait for that run to end or "
            f"cancel it, then start again. CloudWorks said: {exc.anaplan_message or exc}",
            status_code=409,
            object_id=owner,
            anaplan_message=exc.anaplan_message,
            method=exc.method,
            path=exc.path,
        )

    async def _resolve_run(
        self, owner: str, seen: set[str], since: float, cause: BaseException, what: str
    ) -> str:
        from airflow_provider_anaplan.client.coordination import find_started_job

        async def ids() -> list[str]:
            return [str(r.get("id")) for r in await self.get_run_history(owner)]

        found, candidates = await find_started_job(ids, seen, self.config.start_confirm_window, f"run of {what}")
        if found is not None:
            return found
        reason = (
            f"{len(candidates)} new runs appeared ({', '.join(candidates)}): something else started it too"
            if candidates
            else f"no new run appeared in its history within {self.config.start_confirm_window:g} s"
        )
        raise AnaplanTaskStartUnknownError(
            f"Starting {what} failed ambiguously ({cause}) and it is unknown whether CloudWorks started a run: "
            f"{reason}. The request was not sent again, so it did not run twice. Check its run history.",
            object_id=owner,
            candidates=candidates,
            since=since,
        )

    async def cancel_run(self, integration_id: str) -> bool:
        """Cancel the integration's (or flow's) current run; False when nothing was running (409)."""
        iid = cloudworks_id(integration_id, "integration_id")
        try:
            await self._cw_session().request(
                "POST",
                f"{self.cloudworks_url}/integrations/{iid}/cancel",
                idempotent=True,
                what=f"CloudWorks {iid}",
            )
        except AnaplanConflictError as exc:
            log.info("Nothing to cancel for %s (%s)", iid, exc.anaplan_message or exc)
            return False
        log.info("Requested cancellation of the run of %s", iid)
        return True

    async def _run_dumps(
        self, owner: str, records: list[dict[str, Any]], run_id: str
    ) -> list[dict[str, Any]]:
        """Where the failure dumps of a finished run are (``run_id``, ``action_id``, ``process``)."""
        actions = [str(r.get("actionId")) for r in records if r.get("failureDumpGenerated") is True]
        if not actions:
            return []
        process = len(actions) > 1
        if not process:
            try:
                process = (await self.get_integration(owner)).get("integrationType") == "Process"
            except Exception:  # a flow id, or the integration is gone: the run-level dump path
                process = False
        return [{"run_id": run_id, "action_id": a, "process": process, "owner": owner} for a in actions]

    async def get_run_job_status(self, integration_id: str, run_id: str) -> TaskStatus:
        """One poll of an integration run as a :class:`TaskStatus` (the ``cloudworks_run`` job kind).

        A run that ended with errors or partially also gets its error records (row counts, dumps).
        """
        iid = cloudworks_id(integration_id, "integration_id")
        run = await self.get_run_status(run_id)
        if iid not in (run.get("integrationId"), run.get("flowGroupId")) and run.get("integrationId"):
            raise AnaplanConfigError(
                f"CloudWorks run {run_id} belongs to integration {run.get('integrationId')}, not {iid}"
            )
        status = run_task_status(iid, run)
        if status.outcome.is_terminal and (
            run.get("success") is not True or run.get("executionErrorCode") is not None
        ):
            records = await self.get_run_error(run_id)
            status = run_task_status(
                iid, run, records, extra={"dumps": await self._run_dumps(iid, records, str(run_id))}
            )
        return status

    async def cancel_run_job(self, integration_id: str, run_id: str) -> None:
        """Cancel a run if it is still the integration's running one (no-op once it ended)."""
        status = await self.get_run_job_status(integration_id, run_id)
        if status.outcome.is_terminal:
            log.info("CloudWorks run %s already ended (%s); nothing to cancel", run_id, status.state.value)
            return
        await self.cancel_run(integration_id)

    async def wait_for_run(
        self,
        integration_id: str,
        run_id: str,
        poll_interval: float | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - public contract
        *,
        raise_on_failure: bool = True,
        fail_on_partial: bool | None = None,
    ) -> TaskStatus:
        """Poll an integration run until it ends (``wait_for_task``'s rules; partial success: see
        ``fail_on_partial`` of :meth:`TaskStatus.verdict`)."""
        from airflow_provider_anaplan.client.bulk import raise_for_task

        status = await poll_job(
            lambda: self.get_run_job_status(integration_id, run_id),
            label=f"CloudWorks run {run_id} of integration {integration_id}",
            poll_interval=self.config.poll_interval if poll_interval is None else poll_interval,
            timeout=timeout,
        )
        if raise_on_failure:
            raise_for_task(status, fail_on_partial=fail_on_partial)
        return status

    # ------------------------------------------------------------------ error dumps
    async def get_run_dump(self, run_id: str) -> bytes:
        """The import error log (CSV of rejected rows) of an import integration's run."""
        rid = cloudworks_id(run_id, "run_id")
        response = await self.session.request(
            "GET", f"{self.cloudworks_url}/integrations/run/{rid}/dumps", what=f"CloudWorks run {rid} dump"
        )
        return response.content

    async def get_process_run_dump(self, run_id: str, action_id: str | int) -> bytes:
        """The error log of one import action of a process integration's run."""
        rid = cloudworks_id(run_id, "run_id")
        aid = cloudworks_id(str(action_id), "action_id")
        response = await self.session.request(
            "GET",
            f"{self.cloudworks_url}/integrations/run/{rid}/process/import/{aid}/dumps",
            what=f"CloudWorks run {rid} dump of {aid}",
        )
        return response.content

    async def download_run_dumps(self, status: TaskStatus, directory: str | os.PathLike[str]) -> list[str]:
        """Write every error dump of a finished run (integration or flow) into ``directory``.

        ``status`` comes from :meth:`get_run_job_status` / ``get_flow_run_job_status``. A dump that
        answers 404 (expired, or none after all) is logged and skipped. Returns the paths written.
        """
        folder = os.fspath(directory)
        await asyncio.to_thread(os.makedirs, folder, exist_ok=True)
        written: list[str] = []
        for dump in status.raw.get("dumps") or []:
            run_id, action_id = str(dump["run_id"]), str(dump["action_id"])
            try:
                if dump.get("process"):
                    data = await self.get_process_run_dump(run_id, action_id)
                else:
                    data = await self.get_run_dump(run_id)
            except AnaplanNotFoundError as exc:
                log.warning("Error dump of run %s (action %s) is not available: %s", run_id, action_id, exc)
                continue
            path = os.path.join(folder, f"{run_id}_{action_id}_dump.csv")
            await asyncio.to_thread(_write, path, data)
            written.append(path)
            log.info("Wrote CloudWorks error dump %s", path)
        return written


def _write(path: str, data: bytes) -> None:
    tmp = f"{path}.part"
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


class CloudWorksFace(SyncFace):
    """Blocking versions of :class:`CloudWorksMixin`'s methods (``name = Blocking(CloudWorksMixin.name)``)."""

    get_connections = Blocking(CloudWorksMixin.get_connections)
    get_integrations = Blocking(CloudWorksMixin.get_integrations)
    get_integration = Blocking(CloudWorksMixin.get_integration)
    get_run_history = Blocking(CloudWorksMixin.get_run_history)
    get_run_status = Blocking(CloudWorksMixin.get_run_status)
    get_run_error = Blocking(CloudWorksMixin.get_run_error)
    run_integration = Blocking(CloudWorksMixin.run_integration)
    cancel_run = Blocking(CloudWorksMixin.cancel_run)
    get_run_job_status = Blocking(CloudWorksMixin.get_run_job_status)
    cancel_run_job = Blocking(CloudWorksMixin.cancel_run_job)
    wait_for_run = Blocking(CloudWorksMixin.wait_for_run)
    get_run_dump = Blocking(CloudWorksMixin.get_run_dump)
    get_process_run_dump = Blocking(CloudWorksMixin.get_process_run_dump)
    download_run_dumps = Blocking(CloudWorksMixin.download_run_dumps)
    get_flows = Blocking(CloudWorksMixin.get_flows)
    get_flow = Blocking(CloudWorksMixin.get_flow)
    run_flow = Blocking(CloudWorksMixin.run_flow)
    get_flow_step_runs = Blocking(CloudWorksMixin.get_flow_step_runs)
    get_flow_run_job_status = Blocking(CloudWorksMixin.get_flow_run_job_status)
    cancel_flow_run_job = Blocking(CloudWorksMixin.cancel_flow_run_job)
    wait_for_flow_run = Blocking(CloudWorksMixin.wait_for_flow_run)
