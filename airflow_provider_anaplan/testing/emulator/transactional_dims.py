"""Dimensions, items, line items and views of the emulator's model, as the transactional API names them.

A module dimension is either a list (its id is the list id, its items the list members with ids and
codes) or a fixed item sequence such as months (a derived, stable id; Time-like names get Anaplan's
Time id ``20000000003``). Each module has one line item (``ModuleDef.line_item``, id ``206`` + the
module id's last nine digits) plus any structure-only ``extra_line_items``.
"""

from __future__ import annotations

import itertools
import zlib
from dataclasses import dataclass
from typing import Any

from .responses import ApiError
from .state import Dimension, ListDef, Model, ModuleDef
from .state.transactional import TIME_DIMENSION_ID, ListExtras, ViewDef
from .transactional_common import gc_paused

_TIME_NAMES = {
    "time",
    "month",
    "months",
    "period",
    "periods",
    "quarter",
    "quarters",
    "year",
    "years",
    "week",
    "weeks",
}


def is_time(name: str) -> bool:
    """Whether a fixed dimension is the model's Time dimension (by name)."""
    return name.strip().lower() in _TIME_NAMES


def fixed_dimension_id(name: str) -> str:
    """Stable id of a fixed (non-list) dimension."""
    if is_time(name):
        return TIME_DIMENSION_ID
    return f"20{zlib.crc32(name.encode()) % 10**9:09d}"


def ensure_ids(model: Model, lst: ListDef) -> ListExtras:
    """The list's extras with an id for every member (members added by imports get one here)."""
    extras = model.transactional.list_extras(lst.id)
    ids = extras.ids
    if len(ids) > len(lst.items):
        for gone in [n for n in ids if n not in lst.items]:
            del ids[gone]
            extras.parents.pop(gone, None)
    if len(ids) != len(lst.items):
        for name in lst.items:
            if name not in ids:
                ids[name] = extras.new_id()
    return extras


def list_lookups(model: Model, lst: ListDef) -> ListExtras:
    """The list's extras with ``codes`` and ``by_id`` current (rebuilt only when the list changed)."""
    extras = ensure_ids(model, lst)
    if extras.stamp != (id(lst.items), len(lst.items)):
        extras.codes = {d["code"]: n for n, d in lst.items.items() if d.get("code")}
        extras.by_id = {v: k for k, v in extras.ids.items()}
        stamp(lst, extras)
    return extras


def stamp(lst: ListDef, extras: ListExtras) -> None:
    """Record that ``codes``/``by_id`` match the list as it is now."""
    extras.stamp = (id(lst.items), len(lst.items))


class FoldIndex:
    """Case-insensitive lookups of a list's members (folded name -> name, folded code -> name) and their
    order, kept in the model's caches so a lookup costs what it asks for, not the list's size.

    Members appended since the last use (``add_items`` and imports append) are indexed on the next use;
    a list that shrank or was replaced, a write that renamed members or changed codes
    (:func:`drop_fold`), or a new bulk task (an import may change codes in place) rebuilds it. Every hit is checked against the list itself, so a stale entry is
    never returned.
    """

    def __init__(self, members: dict[str, Any]) -> None:
        self.members = members
        self.names: dict[str, str] = {}
        self.codes: dict[str, str] = {}
        self.order: dict[str, int] = {}
        self.last: str | None = None

    def refresh(self, members: dict[str, Any]) -> FoldIndex:
        """This index brought up to date with ``members`` (or a new one)."""
        seen = len(self.order)
        if (
            members is not self.members
            or len(members) < seen
            or (self.last is not None and self.last not in members)
        ):
            return FoldIndex(members).refresh(members)
        if len(members) > seen:
            with gc_paused():  # millions of small strings: no cyclic collections meanwhile
                added = list(itertools.islice(members, seen, None))
                self.order.update(zip(added, range(seen, seen + len(added)), strict=True))
                self.names.update(zip(map(str.casefold, added), added, strict=True))
                self.codes.update({str(c).casefold(): n for n in added if (c := members[n].get("code"))})
                self.last = added[-1]
        return self

    def find(self, names: list[Any], codes: list[Any]) -> list[str]:
        """Members matching any of ``names`` or ``codes`` (case-insensitive), in the list's order."""
        members = self.members
        found: set[str] = set()
        for text in names:
            name = self.names.get(str(text).casefold())
            if name is not None and name in members:
                found.add(name)
        for text in codes:
            folded = str(text).casefold()
            name = self.codes.get(folded)
            if (
                name is not None
                and name in members
                and str(members[name].get("code") or "").casefold() == folded
            ):
                found.add(name)
        return sorted(found, key=self.order.__getitem__)


def fold_index(model: Model, lst: ListDef) -> FoldIndex:
    """The list's :class:`FoldIndex`, current."""
    caches: dict[str, Any] = model.transactional.caches
    key = f"fold:{lst.id}"
    tasks = sum(len(t) for t in model.tasks.values())  # a bulk import may have changed codes in place
    hit = caches.get(key)
    if not isinstance(hit, tuple) or hit[0] != tasks:
        hit = (tasks, FoldIndex(lst.items))
    built = hit[1].refresh(lst.items)
    caches[key] = (tasks, built)
    return built


def drop_fold(model: Model, lst: ListDef) -> None:
    """Forget the list's :class:`FoldIndex` (after renames, code changes or deletions)."""
    model.transactional.caches.pop(f"fold:{lst.id}", None)


@dataclass
class DimIndex:
    """Lookups of one dimension's items: by id, by name (exact and folded) and by code."""

    names: list[str]
    ids: dict[str, str]  # name -> id
    by_id: dict[str, str]  # id -> name
    by_code: dict[str, str]  # code -> name
    codes: dict[str, str]  # name -> code (only members with a code)

    def resolve(self, item_id: Any = None, name: Any = None, code: Any = None) -> str | None:
        if item_id is not None:
            return self.by_id.get(str(item_id))
        if name is not None:
            text = str(name)
            return text if text in self.ids else None
        if code is not None:
            return self.by_code.get(str(code))
        return None


class DimRef:
    """One dimension of a module (or a list of the model) with its items."""

    def __init__(self, model: Model, name: str, list_id: str | None, items: list[str] | None) -> None:
        self.model = model
        self.name = name
        self.list_id = list_id
        self.fixed = items
        self.id = list_id if list_id is not None else fixed_dimension_id(name)

    @classmethod
    def of(cls, model: Model, dim: Dimension) -> DimRef:
        return cls(model, dim.name, dim.list_id, dim.items)

    @property
    def is_list(self) -> bool:
        return self.list_id is not None

    def names(self) -> list[str]:
        if self.list_id is not None:
            return list(self.model.lists[self.list_id].items)
        return list(self.fixed or [])

    def count(self) -> int:
        if self.list_id is not None:
            return len(self.model.lists[self.list_id].items)
        return len(self.fixed or [])

    def index(self) -> DimIndex:
        """Lookups (lists: built per call, so they follow writes; fixed dimensions: cached)."""
        if self.list_id is not None:
            lst = self.model.lists[self.list_id]
            extras = ensure_ids(self.model, lst)
            ids = dict(extras.ids)
            codes = {n: c for n, d in lst.items.items() if (c := d.get("code"))}
            return DimIndex(
                names=list(lst.items),
                ids=ids,
                by_id={v: k for k, v in ids.items()},
                by_code={c: n for n, c in codes.items()},
                codes=codes,
            )
        cache: dict[str, Any] = self.model.transactional.caches
        key = f"fixed:{self.id}:{self.name}"
        hit = cache.get(key)
        if hit is not None and hit[0] is self.fixed:
            return hit[1]
        names = list(self.fixed or [])
        prefix = f"3{zlib.crc32(self.name.encode()) % 10**4:04d}"
        ids = {n: f"{prefix}{i:07d}" for i, n in enumerate(names)}
        built = DimIndex(names=names, ids=ids, by_id={v: k for k, v in ids.items()}, by_code={}, codes={})
        cache[key] = (self.fixed, built)
        return built

    def api(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name}


def module_dims(model: Model, module: ModuleDef) -> list[DimRef]:
    return [DimRef.of(model, d) for d in module.dimensions]


def find_dim(model: Model, module: ModuleDef, key: str) -> DimRef | None:
    """A module dimension by id or by name."""
    for dim in module_dims(model, module):
        if key in (dim.id, dim.name):
            return dim
    return None


@dataclass
class LineItemRef:
    """A line item of a module."""

    id: str
    name: str
    data_type: str
    module: ModuleDef
    primary: bool


def line_items(module: ModuleDef) -> list[LineItemRef]:
    tail = module.id[3:]
    items = [LineItemRef(f"206{tail}", module.line_item, module.data_type, module, True)]
    extra: dict[str, str] = getattr(module, "extra_line_items", {}) or {}
    for index, (name, kind) in enumerate(extra.items()):
        items.append(LineItemRef(f"2{61 + index}{tail}", name, kind, module, False))
    return items


def find_line_item(model: Model, line_item_id: str) -> LineItemRef | None:
    for module in model.modules.values():
        for item in line_items(module):
            if item.id == line_item_id:
                return item
    return None


def default_view(module: ModuleDef) -> ViewDef:
    """A module's default view: first dimension on rows, second on columns, the rest on pages."""
    names = [d.name for d in module.dimensions]
    return ViewDef(
        id=module.id,
        name=module.name,
        module_id=module.id,
        rows=names[:1],
        columns=names[1:2],
        pages=names[2:],
    )


def find_view(model: Model, view_id: str) -> tuple[ViewDef, ModuleDef]:
    """A saved view, a default view (module id) or a line item's view; 404 otherwise."""
    view = model.transactional.views.get(view_id)
    if view is not None:
        return view, model.modules[view.module_id]
    module = model.modules.get(view_id)
    if module is not None:
        return default_view(module), module
    item = find_line_item(model, view_id)
    if item is not None:
        return default_view(item.module), item.module
    raise ApiError(404, f"View {view_id} not found or no access")


def model_dimension(model: Model, dimension_id: str) -> DimRef | None:
    """A dimension of the model by id: a list, or a fixed dimension some module uses."""
    lst = model.lists.get(dimension_id)
    if lst is not None:
        return DimRef(model, lst.name, lst.id, None)
    for module in model.modules.values():
        for dim in module_dims(model, module):
            if dim.id == dimension_id:
                return dim
    return None


def dimension_item_api(index: DimIndex, name: str) -> dict[str, str]:
    body = {"id": index.ids[name], "name": name}
    code = index.codes.get(name)
    if code:
        body["code"] = code
    return body
