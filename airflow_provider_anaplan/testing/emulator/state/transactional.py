"""State of the transactional API: saved views, list extras, read requests, open/close, calendar.

Everything hangs off :attr:`Model.transactional <.model.Model>` (one :class:`TxModelState` per model),
so a reset or a fixture load starts clean. Nothing here imports the rest of the emulator.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from dataclasses import dataclass, field, fields
from typing import Any

#: Id of the dimension that holds a module's line items (as Anaplan shows it on view axes).
LINE_ITEMS_DIMENSION_ID = "101999999999"
#: Id Anaplan gives the Time dimension.
TIME_DIMENSION_ID = "20000000003"


@dataclass
class TxSettings:
    """Per-model tunables (fixture ``transactional`` key, admin ``POST /_emulator/transactional``).

    Limits default to Anaplan's documented ones; tests lower them to check that a client splits.
    """

    #: Seconds ``POST .../open`` takes to load a closed model (Anaplan: minutes on big models).
    open_seconds: float = 0.5
    #: List items per add/update/delete call (Anaplan: 100,000).
    max_list_items_per_call: int = 100_000
    #: Cells per ``POST .../modules/{id}/data`` call (Anaplan: 100,000).
    max_cells_per_call: int = 100_000
    #: Body bytes per cell write call (Anaplan: 15 MB, whichever of the two limits is lower).
    max_cell_bytes_per_call: int = 15 * 1024 * 1024
    #: Cells a plain ``GET .../views/{id}/data`` may return (Anaplan: 1,000,000, else 400).
    max_view_read_cells: int = 1_000_000
    #: Items ``GET .../dimensions/{id}/items`` may return (Anaplan: 1,000,000, else 400).
    max_dimension_items: int = 1_000_000
    #: Seconds a new read request stays NOT_STARTED.
    read_request_start_seconds: float = 0.05
    #: Pages a read request produces per second once IN_PROGRESS.
    read_request_pages_per_second: float = 200.0
    #: Cells per page of a view read request (whole rows; at least one row a page).
    read_request_page_cells: int = 500_000
    #: Items per page of a list read request.
    read_request_page_items: int = 100_000
    #: >= 0: every new read request fails (COMPLETE, ``successful`` false) after that many pages.
    read_request_fail_after_pages: int = -1

    def update(self, values: dict[str, Any]) -> None:
        """Apply known keys with their declared types; unknown keys raise ``KeyError``."""
        known = {f.name for f in fields(self)}
        for key, value in values.items():
            if key not in known:
                raise KeyError(key)
            current = getattr(self, key)
            setattr(self, key, int(value) if isinstance(current, int) else float(value))

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class ListExtras:
    """What the transactional API knows of a list beyond :class:`~.model.ListDef`.

    ``ids`` maps member name -> item id (assigned when first seen), ``parents`` member name ->
    parent member name (a member of ``parent_list_id``), ``subsets`` subset name -> member names.
    """

    list_id: str
    parent_list_id: str | None = None
    numbered: bool = False
    production: bool = False
    subsets: dict[str, set[str]] = field(default_factory=dict)
    subset_ids: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    parents: dict[str, str] = field(default_factory=dict)
    next_index: int = 1
    #: Lookups kept in step by the transactional writes: code -> name, id -> name, and the
    #: ``(id(items), len(items))`` they were built for (anything else changed the list: rebuild).
    codes: dict[str, str] = field(default_factory=dict, repr=False)
    by_id: dict[str, str] = field(default_factory=dict, repr=False)
    stamp: tuple[int, int] | None = field(default=None, repr=False)

    def new_id(self) -> str:
        """A fresh item id (12 digits, unique in the list)."""
        index = self.next_index
        self.next_index += 1
        return f"2{self.list_id[-2:]}{index:09d}"


@dataclass
class ViewDef:
    """A saved view (or a module's default view): dimension names on each axis, optional filters.

    ``filters`` maps a dimension name to the item names the view shows (others are hidden);
    ``page_defaults`` a page dimension name to the item selected when the caller names none.
    """

    id: str
    name: str
    module_id: str
    rows: list[str]
    columns: list[str]
    pages: list[str]
    filters: dict[str, list[str]] = field(default_factory=dict)
    page_defaults: dict[str, str] = field(default_factory=dict)


@dataclass
class ReadRequest:
    """A large-volume read of a view or a list; pages are prepared in order while IN_PROGRESS (bounded)."""

    id: str
    kind: str  # view | list
    object_id: str
    model_id: str
    created: float
    total_pages: int
    page_rows: int
    #: What the read covers, fixed at creation: list member names, or view row coordinates count.
    snapshot: Any = None
    state_override: str | None = None  # CANCELLED once deleted (then forgotten)
    #: Fail (COMPLETE, successful false) once this many pages are out (``read_request_fail_after_pages``).
    fail_at: int | None = None

    def failed(self, settings: TxSettings, now: float | None = None) -> bool:
        """Whether the request ended COMPLETE without success."""
        state, available = self.progress(settings, now)
        return state == "COMPLETE" and self.fail_at is not None and available < self.total_pages

    def progress(self, settings: TxSettings, now: float | None = None) -> tuple[str, int]:
        """``(requestState, availablePages)`` at ``now``."""
        if self.state_override:
            return self.state_override, 0
        elapsed = (time.monotonic() if now is None else now) - self.created
        if elapsed < settings.read_request_start_seconds:
            return "NOT_STARTED", 0
        running = elapsed - settings.read_request_start_seconds
        available = min(self.total_pages, int(running * settings.read_request_pages_per_second))
        if self.fail_at is not None and self.fail_at < self.total_pages and available >= self.fail_at:
            return "COMPLETE", self.fail_at
        if available >= self.total_pages:
            return "COMPLETE", self.total_pages
        return "IN_PROGRESS", available


@dataclass
class ModelRuntime:
    """Whether the model is loaded: ``Open``, ``Closed`` or ``Loading`` (until ``ready_at``)."""

    step: str = "Open"
    load_started: float = 0.0
    ready_at: float = 0.0

    def current(self, now: float | None = None) -> str:
        """The step now (a finished load becomes ``Open``)."""
        if self.step == "Loading" and (time.monotonic() if now is None else now) >= self.ready_at:
            self.step = "Open"
        return self.step

    def progress(self, now: float | None = None) -> float:
        """Load progress 0..1 while loading, else -1.0 (idle)."""
        if self.current(now) != "Loading":
            return -1.0
        span = max(self.ready_at - self.load_started, 1e-9)
        return max(0.0, min(0.99, ((time.monotonic() if now is None else now) - self.load_started) / span))


@dataclass
class Calendar:
    """Calendar Months/Quarters/Years with one current fiscal year and past/future years."""

    fiscal_year: int = 2026
    past_years: int = 1
    future_years: int = 1
    current_period: dt.date | None = None
    calendar_type: str = "Calendar Months/Quarters/Years"

    @property
    def start(self) -> dt.date:
        return dt.date(self.fiscal_year - self.past_years, 1, 1)

    @property
    def end(self) -> dt.date:
        return dt.date(self.fiscal_year + self.future_years, 12, 31)


@dataclass
class TxModelState:
    """The transactional side of one model."""

    settings: TxSettings = field(default_factory=TxSettings)
    runtime: ModelRuntime = field(default_factory=ModelRuntime)
    calendar: Calendar = field(default_factory=Calendar)
    views: dict[str, ViewDef] = field(default_factory=dict)
    lists: dict[str, ListExtras] = field(default_factory=dict)
    read_requests: dict[str, ReadRequest] = field(default_factory=dict)
    #: Modules whose unset cells read as a deterministic synthetic value (large benchmark views).
    synthetic_modules: set[str] = field(default_factory=set)
    request_counter: itertools.count = field(default_factory=lambda: itertools.count(1), repr=False)
    #: Lookups of fixed dimensions (immutable, so built once).
    caches: dict[str, Any] = field(default_factory=dict, repr=False)

    def list_extras(self, list_id: str) -> ListExtras:
        extras = self.lists.get(list_id)
        if extras is None:
            extras = self.lists[list_id] = ListExtras(list_id=list_id)
        return extras
