"""Model-level transactional endpoints: current period, model calendar, open/close and the status body."""

from __future__ import annotations

import calendar as _cal
import datetime as dt
import re
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .bulk_meta import resolve_model
from .responses import ApiError, envelope, json_response
from .state import Model
from .transactional_common import json_body, open_model

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# -------------------------------------------------------------------------------- calendar, period
def _period_api(model: Model) -> dict[str, Any]:
    cal = model.transactional.calendar
    day = cal.current_period
    if day is None:
        return {"periodText": "", "lastDay": "", "calendarType": cal.calendar_type}
    last = day.replace(day=_cal.monthrange(day.year, day.month)[1])
    return {
        "periodText": day.strftime("%b %y"),
        "lastDay": last.isoformat(),
        "calendarType": cal.calendar_type,
    }


async def get_current_period(request: Request) -> Response:
    _, model = open_model(request)
    return json_response(envelope(request, None, "currentPeriod", currentPeriod=_period_api(model)))


async def set_current_period(request: Request) -> Response:
    """``PUT .../currentPeriod`` with ``?date=`` or ``{"date"}`` (not both); blank resets."""
    _, model = open_model(request, write=True)
    query = request.query_params.get("date")
    body = await json_body(request)
    in_body = isinstance(body, dict) and "date" in body
    if query is not None and in_body:
        raise ApiError(400, "use query parameter or body to set date, not both")
    raw = query if query is not None else (body.get("date") if in_body else None)
    if raw is None:
        raise ApiError(400, "Provide the date as the 'date' query parameter or body field (YYYY-MM-DD)")
    cal = model.transactional.calendar
    text = str(raw).strip()
    if text == "":
        cal.current_period = None
    else:
        try:
            if not _DATE_RE.match(text):
                raise ValueError(text)
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise ApiError(
                400, f"Invalid ISO date format '{text}'. Date should match format YYYY-MM-DD"
            ) from None
        if not cal.start <= day <= cal.end:
            raise ApiError(
                400,
                f"Specified date '{text}' is out of timescale range {cal.start.isoformat()} - {cal.end.isoformat()}",
            )
        cal.current_period = day
    return json_response(envelope(request, None, "currentPeriod", currentPeriod=_period_api(model)))


def _calendar_api(model: Model) -> dict[str, Any]:
    cal = model.transactional.calendar
    period = _period_api(model)
    return {
        "calendarType": cal.calendar_type,
        "fiscalYear": {
            "year": f"FY{cal.fiscal_year % 100:02d}",
            "startDate": f"{cal.fiscal_year}-01-01",
            "endDate": f"{cal.fiscal_year}-12-31",
        },
        "currentPeriod": {"lastDay": period["lastDay"], "periodText": period["periodText"]},
        "pastYearsCount": cal.past_years,
        "futureYearsCount": cal.future_years,
        "startDate": cal.start.isoformat(),
        "totalsSelection": {
            "isQuarterTotals": True,
            "isHalfYearTotals": False,
            "isTotalOfAllPeriods": False,
            "isYearToDateSummary": False,
            "isYearToGoSummary": False,
        },
    }


async def get_model_calendar(request: Request) -> Response:
    _, model = open_model(request)
    return json_response(envelope(request, None, "modelCalendar", modelCalendar=_calendar_api(model)))


async def set_fiscal_year(request: Request) -> Response:
    """``PUT .../modelCalendar/fiscalYear`` ``{"year": "FY27"}`` within the timescale."""
    _, model = open_model(request, write=True)
    body = await json_body(request)
    year = str(body.get("year", "")) if isinstance(body, dict) else ""
    cal = model.transactional.calendar
    match = re.fullmatch(r"FY(\d{2}|\d{4})", year.strip(), re.IGNORECASE)
    value = None
    if match:
        digits = match.group(1)
        value = int(digits) if len(digits) == 4 else 2000 + int(digits)
    if value is None or not cal.start.year <= value <= cal.end.year:
        raise ApiError(
            400,
            f"Fiscal year '{year}' is out of range FY{cal.start.year % 100:02d} - FY{cal.end.year % 100:02d}",
        )
    shift = value - cal.fiscal_year
    cal.fiscal_year, cal.past_years, cal.future_years = (
        value,
        cal.past_years + shift,
        cal.future_years - shift,
    )
    return json_response(envelope(request, None, "modelCalendar", modelCalendar=_calendar_api(model)))


# ------------------------------------------------------------------------------------- open/close
async def open_model_endpoint(request: Request) -> Response:
    """``POST /models/{modelId}/open``: 202 at once; the model is ``Open`` after ``open_seconds``."""
    _, model = resolve_model(request)
    if model.active_state in ("MAINTENANCE", "PRODUCTION_MAINTENANCE"):
        raise ApiError(424, f"Model {model.id} is in maintenance; try again later")
    runtime = model.transactional.runtime
    if runtime.current() == "Closed":
        now = time.monotonic()
        runtime.step = "Loading"
        runtime.load_started = now
        runtime.ready_at = now + model.transactional.settings.open_seconds
    return Response(status_code=202)


async def close_model_endpoint(request: Request) -> Response:
    """``POST /models/{modelId}/close``: 204; the model is ``Closed`` at once."""
    _, model = resolve_model(request)
    model.transactional.runtime.step = "Closed"
    return Response(status_code=204)


def model_status_body(model: Model) -> dict[str, Any]:
    """The bare ``requestStatus`` of ``GET /models/{modelId}/status`` for the model's open state.

    Returns ``None`` fields for an idle model; ``bulk_meta.model_status`` reports running tasks itself.
    """
    runtime = model.transactional.runtime
    return {
        "requestStatus": {
            "currentStep": runtime.current(),
            "progress": runtime.progress(),
            "creationTime": int(time.time() * 1000),
            "taskId": None,
            "tooltip": None,
            "exportTaskType": None,
            "peakMemoryUsageEstimate": None,
            "peakMemoryUsageTime": None,
        }
    }
