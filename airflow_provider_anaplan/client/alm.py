"""AlmMixin: the ALM API (revisions, sync tasks, comparison/summary reports, online status).

Async methods here are part of :class:`~airflow_provider_anaplan.client.bulk.AnaplanAsyncClient`
(it inherits this mixin); :class:`AlmFace` lists their blocking versions for
:class:`~airflow_provider_anaplan.client.sync.AnaplanClient`. One implementation of each step.

ALM paths are model-scoped without a workspace (``{api_url}/models/{modelId}/alm/...``). Every method
takes an optional ``model_id``; the default is the client's configured model. For a sync the path
model is the **target** (the deployed model) and the body names the source model and revision.

Sync and report tasks have the bulk task shape (``taskId``, ``taskState`` IN_PROGRESS/COMPLETE,
``result.successful``), so their statuses are :class:`TaskStatus` objects judged by THE outcome rule;
``result.error`` (``title``, ``messageText``) becomes the result's message.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_anaplan.client.alm_wait import poll_job
from airflow_provider_anaplan.client.faces import Blocking, SyncFace
from airflow_provider_anaplan.client.ids import normalize_model_id, normalize_task_id
from airflow_provider_anaplan.client.status import TaskStatus
from airflow_provider_anaplan.exceptions import (
    AnaplanConfigError,
    AnaplanNothingToSyncError,
    AnaplanTaskStartUnknownError,
)

if TYPE_CHECKING:
    from airflow_provider_anaplan.client.config import ClientConfig
    from airflow_provider_anaplan.client.http import HttpSession

__all__ = ["AlmFace", "AlmMixin", "alm_task_status"]

log = logging.getLogger(__name__)

_REVISION = re.compile(r"^[0-9A-F]{32}$")
_REPORTS = {
    "comparison": ("comparisonReportTasks", "comparisonReports"),
    "summary": ("summaryReportTasks", "summaryReports"),
}


def _revision_id(value: object, what: str = "revision_id") -> str:
    text = value.strip().upper() if isinstance(value, str) else ""
    if not _REVISION.match(text):
        raise AnaplanConfigError(f"{what} must be an ALM revision id (32 hex digits), got {value!r}")
    return text


def alm_task_status(model_id: str, payload: Mapping[str, Any], task_id: str | None = None) -> TaskStatus:
    """A sync/report task answer as a :class:`TaskStatus` (``action_id`` = the path model).

    ``result.error`` is carried as a detail message, so failures say what Anaplan said.
    """
    task = payload.get("task", payload) if isinstance(payload, Mapping) else {}
    task = dict(task) if isinstance(task, Mapping) else {}
    result = task.get("result")
    if isinstance(result, Mapping):
        result = dict(result)
        error = result.get("error")
        if isinstance(error, Mapping) and not result.get("details"):
            text = ": ".join(str(error[k]) for k in ("title", "messageText") if error.get(k))
            result["details"] = [{"localMessageText": text}] if text else []
        task["result"] = result
    return TaskStatus.from_api(model_id, {"task": task}, task_id)


class AlmMixin:
    """Async ALM methods of AnaplanAsyncClient (uses its session, config and helpers)."""

    if TYPE_CHECKING:
        config: ClientConfig

        @property
        def session(self) -> HttpSession: ...

        async def _get(self, url: str, object_id: str | None = None, **kwargs: Any) -> dict[str, Any]: ...

    # ------------------------------------------------------------------ plumbing
    def _alm_model(self, model_id: str | None) -> str:
        if model_id is None:
            if not self.config.model_id:
                raise AnaplanConfigError("model_id must be given or set in ClientConfig for ALM calls")
            return self.config.model_id
        return normalize_model_id(model_id)

    def _alm_url(self, model_id: str | None) -> tuple[str, str]:
        mid = self._alm_model(model_id)
        return mid, f"{self.config.api_url}/models/{mid}/alm"

    # ------------------------------------------------------------------ online status
    async def change_model_status(self, status: str, model_id: str | None = None) -> None:
        """Take a model ``"online"`` or ``"offline"`` (Workspace Administrator; 204).

        Setting a status is idempotent, so the request is retried like a read.
        """
        value = status.strip().lower() if isinstance(status, str) else ""
        if value not in ("online", "offline"):
            raise AnaplanConfigError(f"status must be 'online' or 'offline', got {status!r}")
        mid = self._alm_model(model_id)
        await self.session.request(
            "POST",
            f"{self.config.api_url}/models/{mid}/onlineStatus",
            idempotent=True,
            object_id=mid,
            json={"status": value},
        )
        log.info("Model %s is now %s", mid, value)

    # ------------------------------------------------------------------ revisions
    async def get_revisions(
        self,
        model_id: str | None = None,
        *,
        applied_after: str | None = None,
        applied_before: str | None = None,
    ) -> list[dict[str, Any]]:
        """Revisions of a model (paged; ``applied_after``/``applied_before`` as ``YYYY-MM-DD``)."""
        mid, url = self._alm_url(model_id)
        params: dict[str, Any] = {}
        for name, value in (("appliedAfter", applied_after), ("appliedBefore", applied_before)):
            if value is not None:
                if not isinstance(value, str) or not re.match(r"^\d{4}-\d{2}-\d{2}$", value.strip()):
                    raise AnaplanConfigError(f"{name} must be a date YYYY-MM-DD, got {value!r}")
                params[name] = value.strip()
        items: list[dict[str, Any]] = []
        while True:
            body = await self._get(
                f"{url}/revisions", mid, params={**params, "limit": 1000, "offset": len(items)}
            )
            page = body.get("revisions") or []
            items.extend(page)
            total = ((body.get("meta") or {}).get("paging") or {}).get("totalSize")
            if not page or total is None or len(items) >= int(total):
                return items

    async def get_latest_revision(self, model_id: str | None = None) -> dict[str, Any] | None:
        """The model's latest revision, or None when it has none (Anaplan then omits ``revisions``)."""
        mid, url = self._alm_url(model_id)
        revisions = (await self._get(f"{url}/latestRevision", mid)).get("revisions") or []
        return dict(revisions[0]) if revisions else None

    async def get_applied_to_models(
        self, revision_id: str, model_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Models a revision was applied to (the first one is the model it was created in)."""
        mid, url = self._alm_url(model_id)
        rid = _revision_id(revision_id)
        return list(
            (await self._get(f"{url}/revisions/{rid}/appliedToModels", rid)).get("appliedToModels") or []
        )

    async def get_syncable_revisions(
        self, source_model_id: str, model_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Revisions of ``source_model_id`` that can be synced into the (target) model, newest first."""
        mid, url = self._alm_url(model_id)
        source = normalize_model_id(source_model_id)
        body = await self._get(f"{url}/syncableRevisions", mid, params={"sourceModelId": source})
        return list(body.get("revisions") or [])

    async def create_revision(
        self, name: str, description: str | None = None, model_id: str | None = None
    ) -> dict[str, Any]:
        """Create a revision tag in a standard-mode model with structural changes; return it.

        Sent at most once (a revision is not idempotent). After an ambiguous failure (timeout, 5xx)
        the model's latest revision is read instead: a revision of this name created since the
        request is taken as this request's; otherwise :class:`AnaplanTaskStartUnknownError`.
        """
        from airflow_provider_anaplan.client.http import AmbiguousRequestError

        if not isinstance(name, str) or not name.strip() or len(name) > 60:
            raise AnaplanConfigError(f"revision name must be 1 to 60 characters, got {name!r}")
        if description is not None and (not isinstance(description, str) or len(description) > 250):
            raise AnaplanConfigError("revision description must be text of at most 250 characters")
        mid, url = self._alm_url(model_id)
        body: dict[str, Any] = {"name": name}
        if description:
            body["description"] = description
        before = await self.get_latest_revision(mid)
        try:
            response = await self.session.request(
                "POST", f"{url}/revisions", idempotent=False, object_id=mid, json=body
            )
        except AmbiguousRequestError as ambiguous:
            latest = await self.get_latest_revision(mid)
            if (
                latest
                and latest.get("name") == name
                and (before is None or latest.get("id") != before.get("id"))
            ):
                log.warning(
                    "Creating revision %r failed ambiguously; it was created (%s)", name, latest.get("id")
                )
                return latest
            raise AnaplanTaskStartUnknownError(
                f"Creating revision {name!r} in model {mid} failed ambiguously ({ambiguous.error}) and no new "
                "revision of that name is visible; it was not sent again. Check the model's revisions.",
                object_id=mid,
                since=time.time(),
            ) from None
        payload = response.json()
        revision = payload.get("revision")
        if not isinstance(revision, Mapping):
            revisions = payload.get("revisions") or [{}]
            revision = revisions[0]
        log.info("Created revision %s (%r) in model %s", revision.get("id"), name, mid)
        return dict(revision)

    # ------------------------------------------------------------------ sync tasks
    async def get_sync_tasks(self, model_id: str | None = None) -> list[dict[str, Any]]:
        """Sync tasks of a model (running, or finished in the last 48 hours)."""
        mid, url = self._alm_url(model_id)
        return list((await self._get(f"{url}/syncTasks", mid)).get("tasks") or [])

    async def get_sync_task(self, task_id: str, model_id: str | None = None) -> dict[str, Any]:
        """A sync task as Anaplan sends it (``taskState``, ``result``...)."""
        mid, url = self._alm_url(model_id)
        tid = normalize_task_id(task_id)
        body = await self._get(f"{url}/syncTasks/{tid}", tid)
        return dict(body.get("task") or body)

    async def get_sync_task_status(self, task_id: str, model_id: str | None = None) -> TaskStatus:
        """One poll of a sync task of the (target) model as a :class:`TaskStatus` (the ``alm_sync`` job kind)."""
        mid = self._alm_model(model_id)
        return alm_task_status(mid, {"task": await self.get_sync_task(task_id, mid)}, task_id)

    async def _sync_revision(self, source: str, source_revision_id: str | None, target: str) -> str:
        syncable = await self.get_syncable_revisions(source, target)
        if source_revision_id is not None:
            rid = _revision_id(source_revision_id, "source_revision_id")
            if not any(str(r.get("id", "")).upper() == rid for r in syncable):
                newest = syncable[0].get("id") if syncable else "none"
                raise AnaplanNothingToSyncError(
                    f"Revision {rid} of model {source} cannot be synced into model {target}: it is not among its "
                    f"syncable revisions (newest syncable: {newest}). Create a newer revision in {source}, or pick "
                    "one from get_syncable_revisions().",
                    object_id=rid,
                )
            return rid
        if not syncable:
            raise AnaplanNothingToSyncError(
                f"Nothing to sync from model {source} into model {target}: no revision of the source is newer "
                "than (and compatible with) the target's latest revision. Create a revision in the source "
                "model first.",
                object_id=target,
            )
        return _revision_id(syncable[0].get("id"), "syncable revision id")

    async def start_sync(
        self,
        source_model_id: str,
        source_revision_id: str | None = None,
        *,
        target_revision_id: str | None = None,
        model_id: str | None = None,
    ) -> str:
        """Start syncing a source revision into the (target) model; return the sync task id.

        ``source_revision_id`` defaults to the newest syncable one (:class:`AnaplanNothingToSyncError`
        when there is none); ``target_revision_id`` to the target's latest revision (Anaplan requires it).
        The POST is sent at most once: after an ambiguous failure the model's sync tasks are read and
        the one new task is taken (:class:`AnaplanTaskStartUnknownError` when none or several appeared).
        """
        from airflow_provider_anaplan.client.http import AmbiguousRequestError

        target, url = self._alm_url(model_id)
        source = normalize_model_id(source_model_id)
        if source == target:
            raise AnaplanConfigError(f"source_model_id and the target model are the same ({source})")
        rid = await self._sync_revision(source, source_revision_id, target)
        if target_revision_id is None:
            latest = await self.get_latest_revision(target)
            if latest is None:
                raise AnaplanNothingToSyncError(
                    f"Model {target} has no revision, so it is not in ALM with {source}; it cannot be synced",
                    object_id=target,
                )
            target_revision_id = str(latest.get("id"))
        body = {
            "sourceRevisionId": rid,
            "sourceModelId": source,
            "targetRevisionId": _revision_id(target_revision_id, "target_revision_id"),
        }
        seen = {str(t.get("taskId")) for t in await self.get_sync_tasks(target)}
        since = time.time()
        try:
            response = await self.session.request(
                "POST", f"{url}/syncTasks", idempotent=False, object_id=target, json=body
            )
        except AmbiguousRequestError as ambiguous:
            log.warning(
                "Starting the sync into %s failed ambiguously (%s); looking for its task",
                target,
                ambiguous.error,
            )
            return await self._resolve_sync(target, seen, since, ambiguous.error)
        task = response.json().get("task") or {}
        task_id = str(task.get("taskId") or "")
        if not task_id:
            raise AnaplanConfigError(
                f"Starting a sync into model {target}: Anaplan answered without a taskId"
            )
        log.info("Started sync task %s: revision %s of %s -> model %s", task_id, rid, source, target)
        return task_id

    async def _resolve_sync(self, target: str, seen: set[str], since: float, cause: BaseException) -> str:
        from airflow_provider_anaplan.client.coordination import find_started_job

        async def ids() -> list[str]:
            return [str(t.get("taskId")) for t in await self.get_sync_tasks(target)]

        found, candidates = await find_started_job(
            ids, seen, self.config.start_confirm_window, f"sync task of model {target}"
        )
        if found is not None:
            return found
        reason = (
            f"{len(candidates)} new sync tasks appeared ({', '.join(candidates)})"
            if candidates
            else f"no new sync task appeared within {self.config.start_confirm_window:g} s"
        )
        raise AnaplanTaskStartUnknownError(
            f"Starting a sync into model {target} failed ambiguously ({cause}) and it is unknown whether Anaplan "
            f"created a task: {reason}. The request was not sent again.",
            object_id=target,
            candidates=candidates,
            since=since,
        )

    async def wait_for_sync_task(
        self,
        task_id: str,
        poll_interval: float | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - public contract
        *,
        model_id: str | None = None,
        raise_on_failure: bool = True,
    ) -> TaskStatus:
        """Poll a sync task until it is terminal (the deadline/poll rules of ``wait_for_task``)."""
        from airflow_provider_anaplan.client.bulk import raise_for_task

        mid = self._alm_model(model_id)
        status = await poll_job(
            lambda: self.get_sync_task_status(task_id, mid),
            label=f"ALM sync task {task_id} of model {mid}",
            poll_interval=self.config.poll_interval if poll_interval is None else poll_interval,
            timeout=timeout,
        )
        if raise_on_failure:
            raise_for_task(status)
        return status

    async def sync_models(
        self,
        source_model_id: str,
        source_revision_id: str | None = None,
        *,
        model_id: str | None = None,
        wait: bool = True,
        timeout: float | None = None,  # noqa: ASYNC109 - public contract
        raise_on_failure: bool = True,
    ) -> TaskStatus | str:
        """Sync a source revision (default: the newest syncable) into the (target) model.

        With ``wait`` poll to the end and return the :class:`TaskStatus` (a failed sync raises
        :class:`AnaplanTaskFailedError` unless ``raise_on_failure`` is False); else return the task id.
        """
        task_id = await self.start_sync(source_model_id, source_revision_id, model_id=model_id)
        if not wait:
            return task_id
        return await self.wait_for_sync_task(
            task_id, None, timeout, model_id=model_id, raise_on_failure=raise_on_failure
        )

    # ------------------------------------------------------------------ comparison and summary reports
    async def _start_report(
        self,
        kind: str,
        source_model_id: str,
        source_revision_id: str,
        target_revision_id: str | None,
        model_id: str | None,
    ) -> tuple[str, str, str, str]:
        mid, url = self._alm_url(model_id)
        source = normalize_model_id(source_model_id)
        if target_revision_id is None:
            latest = await self.get_latest_revision(mid)
            if latest is None:
                raise AnaplanConfigError(
                    f"Model {mid} has no revision to compare with; give target_revision_id"
                )
            target_revision_id = str(latest.get("id"))
        body = {
            "sourceRevisionId": _revision_id(source_revision_id, "source_revision_id"),
            "sourceModelId": source,
            "targetRevisionId": _revision_id(target_revision_id, "target_revision_id"),
        }
        # A duplicate report task only costs Anaplan some work: safe to retry like a read.
        response = await self.session.request(
            "POST", f"{url}/{_REPORTS[kind][0]}", idempotent=True, object_id=mid, json=body
        )
        task_id = str((response.json().get("task") or {}).get("taskId") or "")
        if not task_id:
            raise AnaplanConfigError(
                f"Starting a {kind} report in model {mid}: Anaplan answered without a taskId"
            )
        return mid, task_id, body["targetRevisionId"], body["sourceRevisionId"]

    async def _report_task(self, kind: str, task_id: str, model_id: str | None) -> TaskStatus:
        mid, url = self._alm_url(model_id)
        tid = normalize_task_id(task_id)
        return alm_task_status(mid, await self._get(f"{url}/{_REPORTS[kind][0]}/{tid}", tid), tid)

    async def get_comparison_report_task(self, task_id: str, model_id: str | None = None) -> TaskStatus:
        """One poll of a comparison report task."""
        return await self._report_task("comparison", task_id, model_id)

    async def get_comparison_summary_task(self, task_id: str, model_id: str | None = None) -> TaskStatus:
        """One poll of a summary report task."""
        return await self._report_task("summary", task_id, model_id)

    async def get_comparison_report(
        self, target_revision_id: str, source_revision_id: str, model_id: str | None = None
    ) -> bytes:
        """The full comparison report (TSV bytes; kept 48 hours after its task)."""
        mid, url = self._alm_url(model_id)
        target, source = _revision_id(target_revision_id), _revision_id(source_revision_id)
        response = await self.session.request(
            "GET",
            f"{url}/comparisonReports/{target}/{source}",
            object_id=mid,
            headers={"Accept": "application/octet-stream"},
        )
        return response.content

    async def get_comparison_summary(
        self, target_revision_id: str, source_revision_id: str, model_id: str | None = None
    ) -> dict[str, Any]:
        """The summary report (``totals`` created/modified/deleted, ``differences`` by category)."""
        mid, url = self._alm_url(model_id)
        target, source = _revision_id(target_revision_id), _revision_id(source_revision_id)
        body = await self._get(f"{url}/summaryReports/{target}/{source}", mid)
        return dict(body.get("summaryReport") or body)

    async def _report(
        self,
        kind: str,
        source_model_id: str,
        source_revision_id: str,
        target_revision_id: str | None,
        model_id: str | None,
        wait: bool,
        timeout: float | None,  # noqa: ASYNC109 - the wait's budget
    ) -> tuple[str, str, str, str]:
        from airflow_provider_anaplan.client.bulk import raise_for_task

        mid, task_id, target, source = await self._start_report(
            kind, source_model_id, source_revision_id, target_revision_id, model_id
        )
        if wait:
            status = await poll_job(
                lambda: self._report_task(kind, task_id, mid),
                label=f"ALM {kind} report task {task_id} of model {mid}",
                poll_interval=self.config.poll_interval,
                timeout=timeout,
            )
            raise_for_task(status)
        return mid, task_id, target, source

    async def create_comparison_report(
        self,
        source_model_id: str,
        source_revision_id: str,
        target_revision_id: str | None = None,
        *,
        model_id: str | None = None,
        wait: bool = True,
        timeout: float | None = None,  # noqa: ASYNC109 - public contract
    ) -> bytes | str:
        """Generate the full comparison report of a source revision against a target revision (default:
        the model's latest); with ``wait`` return the TSV bytes, else the report task id."""
        mid, task_id, target, source = await self._report(
            "comparison", source_model_id, source_revision_id, target_revision_id, model_id, wait, timeout
        )
        return await self.get_comparison_report(target, source, mid) if wait else task_id

    async def create_comparison_summary(
        self,
        source_model_id: str,
        source_revision_id: str,
        target_revision_id: str | None = None,
        *,
        model_id: str | None = None,
        wait: bool = True,
        timeout: float | None = None,  # noqa: ASYNC109 - public contract
    ) -> dict[str, Any] | str:
        """Generate the summary report (counts of differences); with ``wait`` return it, else the task id."""
        mid, task_id, target, source = await self._report(
            "summary", source_model_id, source_revision_id, target_revision_id, model_id, wait, timeout
        )
        return await self.get_comparison_summary(target, source, mid) if wait else task_id


class AlmFace(SyncFace):
    """Blocking versions of :class:`AlmMixin`'s methods (``name = Blocking(AlmMixin.name)``)."""

    change_model_status = Blocking(AlmMixin.change_model_status)
    get_revisions = Blocking(AlmMixin.get_revisions)
    get_latest_revision = Blocking(AlmMixin.get_latest_revision)
    get_applied_to_models = Blocking(AlmMixin.get_applied_to_models)
    get_syncable_revisions = Blocking(AlmMixin.get_syncable_revisions)
    create_revision = Blocking(AlmMixin.create_revision)
    get_sync_tasks = Blocking(AlmMixin.get_sync_tasks)
    get_sync_task = Blocking(AlmMixin.get_sync_task)
    get_sync_task_status = Blocking(AlmMixin.get_sync_task_status)
    start_sync = Blocking(AlmMixin.start_sync)
    wait_for_sync_task = Blocking(AlmMixin.wait_for_sync_task)
    sync_models = Blocking(AlmMixin.sync_models)
    get_comparison_report_task = Blocking(AlmMixin.get_comparison_report_task)
    get_comparison_summary_task = Blocking(AlmMixin.get_comparison_summary_task)
    get_comparison_report = Blocking(AlmMixin.get_comparison_report)
    get_comparison_summary = Blocking(AlmMixin.get_comparison_summary)
    create_comparison_report = Blocking(AlmMixin.create_comparison_report)
    create_comparison_summary = Blocking(AlmMixin.create_comparison_summary)
