"""Transactional metadata (modules, views, line items, lists, dimensions, calendar) and the model's
open/close lifecycle, as methods of :class:`~airflow_provider_anaplan.client.bulk.AnaplanAsyncClient`.

Paths follow the spec (``integration-openapi.json``): the workspace form
``/workspaces/{ws}/models/{model}/...`` where the spec lists it, the model form ``/models/{model}/...``
where it lists only that one (open, close, fiscal year, view data, module data).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import TYPE_CHECKING, Any

from airflow_provider_anaplan.client.status import TaskResult, TaskState, TaskStatus
from airflow_provider_anaplan.client.transactional_common import clean_id
from airflow_provider_anaplan.exceptions import AnaplanConfigError, AnaplanModelClosedError
from airflow_provider_anaplan.validation import MIN_POLL_INTERVAL, validate_seconds

if TYPE_CHECKING:
    from airflow_provider_anaplan.client.config import ClientConfig
    from airflow_provider_anaplan.client.http import HttpSession

__all__ = ["TransactionalMetaMixin", "model_open_status"]

log = logging.getLogger(__name__)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def model_open_status(model_id: str, request_status: dict[str, Any]) -> TaskStatus:
    """``GET /models/{id}/status`` as a job status: ``Open`` is COMPLETE + successful (open and idle),
    ``Closed`` is NOT_STARTED, any other step (loading, or a task running) IN_PROGRESS."""
    step = str(request_status.get("currentStep") or "")
    raw_progress: Any = request_status.get("progress")
    try:
        progress = float(raw_progress) if raw_progress is not None else -1.0
    except (TypeError, ValueError):
        progress = -1.0
    if step.lower() == "open":
        state, successful = TaskState.COMPLETE, True
    elif step.lower() == "closed":
        state, successful = TaskState.NOT_STARTED, None
    else:
        state, successful = TaskState.IN_PROGRESS, None
    result = TaskResult(object_id=model_id, successful=successful, failure_dump_available=False) if successful else None
    return TaskStatus(
        task_id=str(request_status.get("taskId") or ""),
        action_id=model_id,
        state=state,
        progress=max(progress, 0.0),
        current_step=step or None,
        successful=successful,
        object_id=model_id,
        raw=dict(request_status),
        result=result,
    )


class TransactionalMetaMixin:
    """Metadata and model lifecycle (async; part of AnaplanAsyncClient)."""

    if TYPE_CHECKING:
        config: ClientConfig

        @property
        def session(self) -> HttpSession: ...
        @property
        def model_url(self) -> str: ...
        async def _get(self, url: str, object_id: str | None = None, **kwargs: Any) -> dict[str, Any]: ...
        async def _paged(self, url: str, key: str, object_id: str | None = None) -> list[dict[str, Any]]: ...
        async def get_model_status(self) -> dict[str, Any]: ...

    @property
    def model_direct_url(self) -> str:
        """``{api_url}/models/{model_id}`` (the spec's model-scoped form)."""
        _, model_id = self.config.require_model()
        return f"{self.config.api_url}/models/{model_id}"

    async def _collect(self, url: str, key: str, object_id: str | None, extra: dict[str, str]) -> list[dict[str, Any]]:
        """Every page of a paged collection, with extra query parameters (``limit``/``offset`` paging)."""
        items: list[dict[str, Any]] = []
        while True:
            body = await self._get(url, object_id, params={**extra, "limit": 5000, "offset": len(items)})
            page = body.get(key) or []
            items.extend(page)
            total = ((body.get("meta") or {}).get("paging") or {}).get("totalSize")
            if not page or total is None or len(items) >= int(total):
                return items

    # ---- modules, views, line items -------------------------------------------------------------
    async def get_modules(self) -> list[dict[str, Any]]:
        """Modules of the model (``id``, ``name``)."""
        return await self._paged(f"{self.model_url}/modules", "modules", self.config.model_id)

    async def get_views(self, module_id: str | int | None = None, include_subsidiary_views: bool = False) -> list[dict[str, Any]]:
        """Views of the model, or of one module (``id``, ``name``, ``moduleId``); the default view of a
        module has the module's id."""
        url = f"{self.model_url}/views" if module_id is None else f"{self.model_url}/modules/{clean_id(module_id, 'module_id')}/views"
        extra = {"includesubsidiaryviews": "true"} if include_subsidiary_views else {}
        return await self._collect(url, "views", self.config.model_id, extra)

    async def get_view_info(self, view_id: str | int) -> dict[str, Any]:
        """Dimensions on each axis of a view: ``{"viewId", "viewName", "rows", "columns", "pages"}`` (an
        empty axis is absent)."""
        vid = clean_id(view_id, "view_id")
        body = await self._get(f"{self.model_url}/views/{vid}", vid)
        return {k: v for k, v in body.items() if k not in ("meta", "status")}

    async def get_view_dimension_items(self, view_id: str | int, dimension_id: str | int) -> list[dict[str, Any]]:
        """Items of a dimension as the view shows them (hidden and filtered items left out)."""
        vid, did = clean_id(view_id, "view_id"), clean_id(dimension_id, "dimension_id")
        body = await self._get(f"{self.model_direct_url}/views/{vid}/dimensions/{did}/items", vid)
        return list(body.get("items") or [])

    async def get_line_items(self, module_id: str | int | None = None, include_all: bool = True) -> list[dict[str, Any]]:
        """Line items of the model or of one module (``includeAll``: format, applies-to, formula...)."""
        if module_id is None:
            url = f"{self.model_url}/lineItems"
        else:
            url = f"{self.model_url}/modules/{clean_id(module_id, 'module_id')}/lineItems"
        extra = {"includeAll": "true"} if include_all else {}
        return await self._collect(url, "items", self.config.model_id, extra)

    async def get_line_item_dimensions(self, line_item_id: str | int) -> list[dict[str, Any]]:
        """Dimensions of a line item (``id``, ``name``), Time and Versions included."""
        lid = clean_id(line_item_id, "line_item_id")
        return await self._paged(f"{self.model_url}/lineItems/{lid}/dimensions", "dimensions", lid)

    # ---- lists and dimensions ---------------------------------------------------------------------
    async def get_lists(self) -> list[dict[str, Any]]:
        """Lists of the model (``id``, ``name``)."""
        return await self._paged(f"{self.model_url}/lists", "lists", self.config.model_id)

    async def get_list_metadata(self, list_id: str | int) -> dict[str, Any]:
        """A list's metadata (properties, parent, ``numberedList``, ``itemCount``, subsets...)."""
        lid = clean_id(list_id, "list_id")
        body = await self._get(f"{self.model_url}/lists/{lid}", lid)
        return dict(body.get("metadata") or {})

    async def get_dimension_items(self, dimension_id: str | int) -> list[dict[str, Any]]:
        """Every item of a list, list subset, line item subset or Users (``id``, ``name``, ``code``);
        Anaplan refuses dimensions above 1,000,000 items (use a large-volume list read)."""
        did = clean_id(dimension_id, "dimension_id")
        body = await self._get(f"{self.model_url}/dimensions/{did}/items", did)
        return list(body.get("items") or [])

    async def lookup_dimension_items(
        self, dimension_id: str | int, names: list[str] | None = None, codes: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Items of a dimension matching ``names`` or ``codes`` (case-insensitive); unknown ones are left out."""
        did = clean_id(dimension_id, "dimension_id")
        if not names and not codes:
            raise AnaplanConfigError("lookup_dimension_items needs non-empty names or codes")
        body: dict[str, list[str]] = {}
        if names:
            body["names"] = [str(n) for n in names]
        if codes:
            body["codes"] = [str(c) for c in codes]
        response = await self.session.request(
            "POST", f"{self.model_url}/dimensions/{did}/items", idempotent=True, object_id=did, json=body
        )
        return list(response.json().get("items") or [])

    # ---- calendar ---------------------------------------------------------------------------------
    async def get_current_period(self) -> dict[str, Any]:
        """``{"periodText", "lastDay", "calendarType"}`` (empty strings when no current period is set)."""
        body = await self._get(f"{self.model_url}/currentPeriod", self.config.model_id)
        return dict(body.get("currentPeriod") or {})

    async def set_current_period(self, date: str) -> dict[str, Any]:
        """Set the current period to the period containing ``date`` (``YYYY-MM-DD``; ``""`` resets it).

        Warning (Anaplan's): changing time settings can delete data of periods that leave the timescale.
        """
        if not isinstance(date, str) or (date and not _DATE.match(date)):
            raise AnaplanConfigError(f"date must be 'YYYY-MM-DD' (or '' to reset), got {date!r}")
        response = await self.session.request(
            "PUT", f"{self.model_url}/currentPeriod", object_id=self.config.model_id, json={"date": date}
        )
        return dict(response.json().get("currentPeriod") or {})

    async def get_model_calendar(self) -> dict[str, Any]:
        """The model calendar (``fiscalYear`` with start/end dates, calendar type, totals...)."""
        body = await self._get(f"{self.model_url}/modelCalendar", self.config.model_id)
        return dict(body.get("modelCalendar") or {})

    async def set_current_fiscal_year(self, year: str) -> dict[str, Any]:
        """Set the current fiscal year (e.g. ``"FY27"``); returns the calendar's ``fiscalYear``."""
        if not isinstance(year, str) or not year.strip():
            raise AnaplanConfigError(f"year must be a fiscal year label such as 'FY27', got {year!r}")
        response = await self.session.request(
            "PUT", f"{self.model_direct_url}/modelCalendar/fiscalYear", object_id=self.config.model_id, json={"year": year}
        )
        return dict((response.json().get("modelCalendar") or {}).get("fiscalYear") or {})

    # ---- model lifecycle --------------------------------------------------------------------------
    async def get_model_open_status(self) -> TaskStatus:
        """The model's open state as a job status (the ``model_open`` job kind): see :func:`model_open_status`."""
        _, model_id = self.config.require_model()
        return model_open_status(model_id, await self.get_model_status())

    async def open_model(self) -> None:
        """Ask Anaplan to load the model (returns before it is open; see :meth:`wake_model`)."""
        _, model_id = self.config.require_model()
        await self.session.request(
            "POST",
            f"{self.model_direct_url}/open",
            idempotent=True,
            object_id=model_id,
            content=b"",
            headers={"Content-Type": "application/text"},
        )
        log.info("Asked Anaplan to open model %s", model_id)

    async def close_model(self) -> None:
        """Unload the model. Warning: this closes it for every user in it, without notice."""
        _, model_id = self.config.require_model()
        await self.session.request(
            "POST",
            f"{self.model_direct_url}/close",
            idempotent=True,
            object_id=model_id,
            content=b"",
            headers={"Content-Type": "application/text"},
        )
        log.info("Asked Anaplan to close model %s", model_id)

    async def wake_model(self, timeout: float | None = 1800.0, poll_interval: float | None = None) -> TaskStatus:  # noqa: ASYNC109
        """Open the model if it is closed and wait until it is open and idle.

        :param timeout: seconds to wait (None: no limit); then :class:`AnaplanModelClosedError`.
        :param poll_interval: seconds between status polls (default ``config.poll_interval``).
        """
        limit = validate_seconds(timeout, "timeout", allow_none=True)
        interval = validate_seconds(
            self.config.poll_interval if poll_interval is None else poll_interval,
            "poll_interval",
            minimum=MIN_POLL_INTERVAL,
            inclusive=True,
        )
        assert interval is not None
        status = await self.get_model_open_status()
        if status.is_success:
            return status
        if status.state is TaskState.NOT_STARTED:
            await self.open_model()
        deadline = None if limit is None else time.monotonic() + limit
        while True:
            status = await self.get_model_open_status()
            if status.is_success:
                log.info("Model %s is open", status.action_id)
                return status
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise AnaplanModelClosedError(
                    f"Model {status.action_id} is not open after {limit:g} s (current step "
                    f"{status.current_step!r}); large models can take minutes to load: raise the timeout",
                    object_id=status.action_id,
                )
            await asyncio.sleep(interval if remaining is None else min(interval, remaining))
