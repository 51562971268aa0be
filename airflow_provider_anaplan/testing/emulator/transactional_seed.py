"""Fixture keys of the transactional API, and big generated lists and views for tests and benchmarks.

Model-level fixture keys (see ``docs/emulator.md``): ``views``, ``transactional`` (settings, open
state, calendar), ``largeLists``, ``largeViews``; list-level keys: ``parent`` (parent list id),
``numbered``, ``production``, ``subsets`` (name -> member names), item ``parent``.
"""

from __future__ import annotations

import datetime as dt
import zlib
from typing import Any

from .state import Dimension, ListDef, Model, ModuleDef
from .state.transactional import ListExtras, ViewDef
from .transactional_dims import ensure_ids

_SETTINGS_KEYS = {"openState", "fiscalYear", "pastYears", "futureYears", "currentPeriod"}


class TransactionalFixtureError(ValueError):
    """A transactional fixture key is malformed (the message says where)."""


def _list_extras(model: Model, raw: dict[str, Any], where: str) -> None:
    lst = model.lists[str(raw["id"])]
    extras = ensure_ids(model, lst)
    if raw.get("parent") is not None:
        parent = str(raw["parent"])
        if parent not in model.lists:
            raise TransactionalFixtureError(f"{where}: parent list {parent} is not a list of the model")
        extras.parent_list_id = parent
    extras.numbered = bool(raw.get("numbered", False))
    extras.production = bool(raw.get("production", False))
    for name, members in (raw.get("subsets") or {}).items():
        extras.subset_ids[str(name)] = f"109{zlib.crc32(f'{lst.id}:{name}'.encode()) % 10**9:09d}"
        extras.subsets[str(name)] = {str(m) for m in members}
    for item in raw.get("items") or []:
        if isinstance(item, dict) and item.get("parent"):
            if extras.parent_list_id is None:
                raise TransactionalFixtureError(
                    f"{where}: item {item.get('name')} has a parent but the list has none"
                )
            extras.parents[str(item["name"])] = str(item["parent"])


def _view(model: Model, raw: dict[str, Any], where: str) -> ViewDef:
    module_id = str(raw.get("module"))
    module = model.modules.get(module_id)
    if module is None:
        raise TransactionalFixtureError(f"{where}: module {module_id} is not a module of the model")
    names = {d.name for d in module.dimensions}
    axes = {a: [str(n) for n in raw.get(a) or []] for a in ("rows", "columns", "pages")}
    used = [n for a in axes.values() for n in a]
    if sorted(used) != sorted(names):
        raise TransactionalFixtureError(
            f"{where}: rows, columns and pages must place each dimension of module {module.name} once "
            f"({', '.join(sorted(names))})"
        )
    return ViewDef(
        id=str(raw.get("id")),
        name=str(raw.get("name") or raw.get("id")),
        module_id=module_id,
        rows=axes["rows"],
        columns=axes["columns"],
        pages=axes["pages"],
        filters={str(k): [str(v) for v in vs] for k, vs in (raw.get("filters") or {}).items()},
        page_defaults={str(k): str(v) for k, v in (raw.get("pageDefaults") or {}).items()},
    )


def configure(model: Model, raw: dict[str, Any]) -> None:
    """Apply a ``transactional`` mapping: settings keys plus openState/calendar keys."""
    tx = model.transactional
    tx.settings.update({k: v for k, v in raw.items() if k not in _SETTINGS_KEYS})
    if "openState" in raw:
        state = str(raw["openState"])
        if state not in ("Open", "Closed"):
            raise TransactionalFixtureError(f"openState {state!r} must be Open or Closed")
        tx.runtime.step = state
    cal = tx.calendar
    if "fiscalYear" in raw:
        cal.fiscal_year = int(raw["fiscalYear"])
    if "pastYears" in raw:
        cal.past_years = int(raw["pastYears"])
    if "futureYears" in raw:
        cal.future_years = int(raw["futureYears"])
    if raw.get("currentPeriod"):
        cal.current_period = dt.date.fromisoformat(str(raw["currentPeriod"]))


def apply_fixture(model: Model, raw: dict[str, Any]) -> None:
    """Read the transactional keys of one model of a fixture into ``model``."""
    where = f"model {model.id}"
    try:
        for lst in raw.get("lists") or []:
            _list_extras(model, lst, f"{where} list {lst.get('id')}")
        for view in raw.get("views") or []:
            built = _view(model, view, f"{where} view {view.get('id')}")
            model.transactional.views[built.id] = built
        if raw.get("transactional"):
            configure(model, dict(raw["transactional"]))
        for spec in raw.get("largeLists") or []:
            make_large_list(model, **spec)
        for spec in raw.get("largeViews") or []:
            make_large_view(model, **spec)
    except (KeyError, TypeError) as exc:
        raise TransactionalFixtureError(f"{where}: {exc}") from None


def make_large_list(
    model: Model, count: int, id: str = "101000000900", name: str = "Large List", codes: bool = True
) -> ListDef:
    """A list of ``count`` members ``Item 0000001``... (codes ``C1``...), created in one go."""
    lst = ListDef(id=str(id), name=str(name))
    lst.items = {f"Item {i:07d}": {"code": f"C{i}" if codes else ""} for i in range(1, int(count) + 1)}
    model.lists[lst.id] = lst
    model.transactional.lists[lst.id] = ListExtras(list_id=lst.id)
    ensure_ids(model, lst)
    return lst


def make_large_view(
    model: Model,
    rows: int,
    columns: int,
    pages: int = 1,
    id: str = "102000000900",
    name: str = "Large Module",
) -> ModuleDef:
    """A synthetic module ``rows`` x ``columns`` (x ``pages``) whose cells are computed, not stored.

    Its default view (id = module id) has ``Row`` on rows, ``Column`` on columns and ``Page`` on
    pages; an unwritten cell reads as a deterministic integer (see ``transactional_grid``).
    """
    dims = [
        Dimension(name="Row", items=[f"R{i:07d}" for i in range(1, int(rows) + 1)]),
        Dimension(name="Column", items=[f"C{i:05d}" for i in range(1, int(columns) + 1)]),
    ]
    if int(pages) > 1:
        dims.append(Dimension(name="Page", items=[f"P{i:03d}" for i in range(1, int(pages) + 1)]))
    module = ModuleDef(id=str(id), name=str(name), dimensions=dims, line_item="Amount", data_type="number")
    model.modules[module.id] = module
    model.transactional.synthetic_modules.add(module.id)
    return module
