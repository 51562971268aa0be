"""A view laid out as a grid: page selection, row and column coordinates, cell values, computed lazily.

Coordinates are never materialised: a row (or a line of a read request, which walks every page
combination) is decoded from its index by mixed radix, and each cell is read from ``module.cells``
(or computed, for a synthetic benchmark module), so a 5,000,000-cell view renders row by row.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .csvio import format_value
from .responses import ApiError
from .state import Model, ModuleDef
from .state.transactional import ViewDef
from .transactional_dims import DimIndex, DimRef, module_dims

SYNTHETIC_MODULUS = 10007


@dataclass
class Axis:
    """Dimensions on one axis with the item names the view shows (filters applied)."""

    dims: list[DimRef]
    items: list[list[str]]
    positions: list[dict[str, int]]  # per dimension: item name -> index in the module dimension
    slots: list[int]  # per dimension: its index in the module's dimension tuple

    @property
    def size(self) -> int:
        total = 1
        for names in self.items:
            total *= len(names)
        return total

    def decode(self, index: int) -> list[int]:
        """Indexes (into ``items``) of coordinate ``index`` (last dimension varies fastest)."""
        out = [0] * len(self.items)
        for k in range(len(self.items) - 1, -1, -1):
            index, out[k] = divmod(index, len(self.items[k]))
        return out

    def labels(self, index: int) -> list[str]:
        return [self.items[k][i] for k, i in enumerate(self.decode(index))]


@functools.cache
def _synthetic_text() -> list[str]:
    """Every synthetic value's text (``str(v)`` for ``v`` below the modulus), built once."""
    return [str(v) for v in range(SYNTHETIC_MODULUS)]


def _weights(count: int) -> list[int]:
    return [7919 * (k + 1) + 1 for k in range(count)]


class Grid:
    """One view of a module: axes, page selection and values."""

    def __init__(
        self, model: Model, view: ViewDef, module: ModuleDef, pages: dict[str, str] | None = None
    ) -> None:
        self.model = model
        self.view = view
        self.module = module
        dims = module_dims(model, module)
        self.dims = dims
        by_name = {d.name: (i, d) for i, d in enumerate(dims)}
        self.indexes: dict[str, DimIndex] = {}
        self.rows = self._axis(view.rows, by_name)
        self.columns = self._axis(view.columns, by_name)
        self.pages = self._axis(view.pages, by_name)
        self.synthetic = module.id in model.transactional.synthetic_modules
        self.weights = _weights(len(dims))
        self.data_type = module.data_type
        self.selection = self._select(pages or {})

    def _axis(self, names: list[str], by_name: dict[str, tuple[int, DimRef]]) -> Axis:
        dims: list[DimRef] = []
        items: list[list[str]] = []
        positions: list[dict[str, int]] = []
        slots: list[int] = []
        for name in names:
            slot, dim = by_name[name]
            index = dim.index()
            self.indexes[dim.id] = index
            shown = index.names
            allowed = self.view.filters.get(name)
            if allowed is not None:
                keep = set(allowed)
                shown = [n for n in shown if n in keep]
            dims.append(dim)
            items.append(shown)
            positions.append({n: i for i, n in enumerate(index.names)} if self.synthetic_hint() else {})
            slots.append(slot)
        return Axis(dims, items, positions, slots)

    def synthetic_hint(self) -> bool:
        return self.module.id in self.model.transactional.synthetic_modules

    def _select(self, chosen: dict[str, str]) -> list[int]:
        """Index into each page dimension's items: chosen by ``dimId -> itemId`` or the default."""
        page_ids = {d.id for d in self.pages.dims}
        for dim_id in chosen:
            if dim_id not in page_ids:
                raise ApiError(400, f"Invalid page selector [{dim_id}]")
        out = []
        for k, dim in enumerate(self.pages.dims):
            names = self.pages.items[k]
            if not names:
                raise ApiError(400, f"Page dimension {dim.name} of view {self.view.id} shows no items")
            if dim.id in chosen:
                name = self.indexes[dim.id].by_id.get(chosen[dim.id])
                if name is None or name not in names:
                    raise ApiError(400, f"Invalid page selector [{dim.id}:{chosen[dim.id]}]")
                out.append(names.index(name))
            else:
                default = self.view.page_defaults.get(dim.name)
                out.append(names.index(default) if default in names else 0)
        return out

    # ------------------------------------------------------------------------------------ values
    def page_labels(self) -> list[str]:
        return [self.pages.items[k][i] for k, i in enumerate(self.selection)]

    def column_labels(self) -> Iterator[list[str]]:
        for c in range(self.columns.size):
            yield self.columns.labels(c)

    def cell_count(self) -> int:
        return self.rows.size * self.columns.size

    def _empty(self) -> str:
        return {"number": "0", "boolean": "false"}.get(self.data_type, "")

    def _fmt(self, value: Any) -> str:
        return self._empty() if value is None else format_value(value)

    def _partial(self, axis: Axis, decoded: list[int], key: list[Any], acc: int) -> int:
        """Put ``axis``'s coordinate into ``key``; returns the synthetic weight sum of it."""
        for k, i in enumerate(decoded):
            name = axis.items[k][i]
            slot = axis.slots[k]
            key[slot] = name
            if self.synthetic:
                acc += axis.positions[k][name] * self.weights[slot]
        return acc

    def _columns_prepared(self) -> list[tuple[list[tuple[int, str]], int]]:
        prepared = []
        for c in range(self.columns.size):
            key: list[Any] = [None] * len(self.dims)
            acc = self._partial(self.columns, self.columns.decode(c), key, 0)
            prepared.append(([(s, key[s]) for s in self.columns.slots], acc))
        return prepared

    def row_values(
        self, page_decoded: list[int], row: int, prepared: list[tuple[list[tuple[int, str]], int]]
    ) -> tuple[list[str], list[str]]:
        """(row labels, cell strings) of row ``row`` on the page ``page_decoded``."""
        key: list[Any] = [None] * len(self.dims)
        acc = self._partial(self.pages, page_decoded, key, 0)
        decoded = self.rows.decode(row)
        acc = self._partial(self.rows, decoded, key, acc)
        labels = [self.rows.items[k][i] for k, i in enumerate(decoded)]
        cells = self.module.cells
        if self.synthetic and not cells:
            text = _synthetic_text()
            return labels, [text[(acc + cacc) % SYNTHETIC_MODULUS] for _, cacc in prepared]
        out = []
        for parts, cacc in prepared:
            for slot, name in parts:
                key[slot] = name
            value = cells.get(tuple(key))
            if value is None and self.synthetic:
                out.append(str((acc + cacc) % SYNTHETIC_MODULUS))
            else:
                out.append(self._fmt(value))
        return labels, out
