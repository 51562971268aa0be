"""Delimited-text parsing and rendering for imports, exports and failure dumps.

The staging functions are pure: they take snapshots of the model data they need and return the
changes to apply, so they can run in a worker thread while the event loop keeps serving requests.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Any

from .seed import python_encoding
from .state import SourceFormat

TRUE_WORDS = {"true", "yes", "y", "1", "t"}
FALSE_WORDS = {"false", "no", "n", "0", "f", ""}


class ImportFatal(Exception):
    """The whole import fails (no row is loaded); the message goes into the task result."""


@dataclass
class RowError:
    """A rejected row: its record number, the original fields and the reason."""

    line: int
    fields: list[str]
    message: str


@dataclass
class Staged:
    """Outcome of parsing and validating an import, not applied yet."""

    header: list[str] = field(default_factory=list)
    total: int = 0
    created: int = 0
    updated: int = 0
    ignored_blank: int = 0
    errors: list[RowError] = field(default_factory=list)
    list_rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # member -> property values
    cells: dict[tuple[str, ...], Any] = field(default_factory=dict)

    @property
    def successful_rows(self) -> int:
        return self.created + self.updated

    @property
    def ignored(self) -> int:
        return self.ignored_blank + len(self.errors)


def decode(data: bytes, encoding: str) -> str:
    """Decode file bytes with the encoding an import declares (BOMs are stripped)."""
    codec = python_encoding(encoding)
    try:
        text = data.decode(codec)
    except (UnicodeDecodeError, LookupError) as exc:
        raise ImportFatal(f"The file could not be decoded as {encoding}: {exc}") from None
    return text.lstrip("\ufeff")


def _reader(text: str, fmt: SourceFormat) -> Any:
    separator = fmt.separator or ","
    if fmt.delimiter:
        return csv.reader(io.StringIO(text, newline=""), delimiter=separator, quotechar=fmt.delimiter)
    return csv.reader(io.StringIO(text, newline=""), delimiter=separator, quoting=csv.QUOTE_NONE)


def read_records(text: str, fmt: SourceFormat) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and data records (record number is 1-based) per ``headerRow``/``firstDataRow``."""
    header: list[str] = []
    rows: list[tuple[int, list[str]]] = []
    first_data = max(1, fmt.first_data_row or 1)
    try:
        for number, record in enumerate(_reader(text, fmt), start=1):
            if number == fmt.header_row:
                header = [h.strip() for h in record]
            if number >= first_data and number != fmt.header_row:
                rows.append((number, record))
    except csv.Error as exc:
        raise ImportFatal(f"The file is not valid delimited text: {exc}") from None
    if fmt.header_row <= 0 and rows:
        header = [f"Column {i + 1}" for i in range(max(len(r) for _, r in rows))]
    return header, rows


def parse_number(raw: str) -> float:
    value = float(raw.strip().replace(",", "")) if raw.strip() else math.nan
    if math.isnan(value) or math.isinf(value):
        raise ValueError(raw)
    return value


def parse_boolean(raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(raw)


def format_value(value: Any) -> str:
    """How an exported cell or property value is written."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    return str(value)


def _column_positions(header: list[str], columns: dict[str, str]) -> dict[str, int]:
    positions: dict[str, int] = {}
    for column in columns:
        if column not in header:
            shown = ", ".join(header) if header else "no header"
            raise ImportFatal(f"Column '{column}' was not found in the file header ({shown})")
        positions[column] = header.index(column)
    return positions


def _typed(kind: str, raw: str, what: str) -> Any:
    if kind == "number":
        try:
            return parse_number(raw)
        except ValueError:
            raise ValueError(f"{what}: '{raw}' is not a number") from None
    if kind == "boolean":
        try:
            return parse_boolean(raw)
        except ValueError:
            raise ValueError(f"{what}: '{raw}' is not a boolean (true/false)") from None
    return raw


def stage_list_import(
    data: bytes,
    fmt: SourceFormat,
    columns: dict[str, str],
    list_name: str,
    properties: dict[str, str],
    existing: set[str],
) -> Staged:
    """Parse and validate a list import (``columns``: header -> ``name`` | property)."""
    header, records = read_records(decode(data, fmt.encoding), fmt)
    if "name" not in columns.values():
        raise ImportFatal(f"The import does not map any column to the {list_name} member name")
    positions = _column_positions(header, columns)
    staged = Staged(header=header, total=len(records))
    seen_new: set[str] = set()
    for number, record in records:
        if not any(cell.strip() for cell in record):
            staged.ignored_blank += 1
            continue
        try:
            name = ""
            values: dict[str, Any] = {}
            for column, target in columns.items():
                pos = positions[column]
                if pos >= len(record):
                    raise ValueError(f"Missing value for column '{column}'")
                raw = record[pos]
                if target == "name":
                    name = raw.strip()
                    if not name:
                        raise ValueError(f"{column}: the member name is empty")
                elif target in properties:
                    values[target] = _typed(properties[target], raw, column)
                else:
                    raise ValueError(f"{column}: {list_name} has no property '{target}'")
        except ValueError as exc:
            staged.errors.append(RowError(number, record, str(exc)))
            continue
        if name in existing or name in seen_new:
            staged.updated += 1
        else:
            staged.created += 1
            seen_new.add(name)
        staged.list_rows.setdefault(name, {}).update(values)
    return staged


def stage_module_import(
    data: bytes,
    fmt: SourceFormat,
    columns: dict[str, str],
    dimensions: list[tuple[str, list[str], str]],
    pinned: dict[str, str],
    data_type: str,
    line_item: str,
    existing: set[tuple[str, ...]] | dict[tuple[str, ...], Any],
) -> Staged:
    """Parse and validate a module import.

    ``dimensions`` is ``[(name, allowed item names, label for messages)]`` in module order;
    ``pinned`` fixes dimensions (fixed items and mapping parameters); ``columns`` maps a header to
    a dimension name or ``value``.
    """
    header, records = read_records(decode(data, fmt.encoding), fmt)
    positions = _column_positions(header, columns)
    value_columns = [c for c, t in columns.items() if t == "value"]
    if len(value_columns) != 1:
        raise ImportFatal(f"The import must map exactly one column to the line item {line_item}")
    value_column = value_columns[0]
    dim_columns = {t: c for c, t in columns.items() if t != "value"}
    allowed = [set(items) for _, items, _ in dimensions]
    for name, _, _ in dimensions:
        if name not in dim_columns and name not in pinned:
            raise ImportFatal(f"The import gives no source for the dimension {name}")
    staged = Staged(header=header, total=len(records))
    for number, record in records:
        if not any(cell.strip() for cell in record):
            staged.ignored_blank += 1
            continue
        try:
            key: list[str] = []
            for index, (name, _, label) in enumerate(dimensions):
                if name in pinned:
                    key.append(pinned[name])
                    continue
                column = dim_columns[name]
                pos = positions[column]
                if pos >= len(record):
                    raise ValueError(f"Missing value for column '{column}'")
                item = record[pos].strip()
                if item not in allowed[index]:
                    raise ValueError(f"{column}: '{item}' is not {label}")
                key.append(item)
            pos = positions[value_column]
            if pos >= len(record):
                raise ValueError(f"Missing value for column '{value_column}'")
            raw = record[pos]
            if not raw.strip():
                staged.ignored_blank += 1
                continue
            value = _typed(data_type, raw, value_column)
        except ValueError as exc:
            staged.errors.append(RowError(number, record, str(exc)))
            continue
        cell = tuple(key)
        if cell in existing or cell in staged.cells:
            staged.updated += 1
        else:
            staged.created += 1
        staged.cells[cell] = value
    return staged


def render_dump(staged: Staged) -> bytes:
    """Failure dump CSV: ``_Status_``, ``_Line_``, the original columns, ``_Error_1_``."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    width = max([len(staged.header), *(len(e.fields) for e in staged.errors)])
    header = list(staged.header) + [f"Column {i + 1}" for i in range(len(staged.header), width)]
    writer.writerow(["_Status_", "_Line_", *header, "_Error_1_"])
    for error in staged.errors:
        padded = list(error.fields) + [""] * (width - len(error.fields))
        writer.writerow(["E", str(error.line), *padded, error.message])
    return out.getvalue().encode("utf-8")


def render_rows(header: list[str], rows: list[list[str]], fmt: SourceFormat) -> bytes:
    """Delimited text with a header row, in the export's separator/delimiter/encoding."""
    out = io.StringIO(newline="")
    if fmt.delimiter:
        writer = csv.writer(out, delimiter=fmt.separator or ",", quotechar=fmt.delimiter, lineterminator="\n")
    else:
        writer = csv.writer(
            out, delimiter=fmt.separator or ",", quoting=csv.QUOTE_NONE, escapechar="\\", lineterminator="\n"
        )
    writer.writerow(header)
    writer.writerows(rows)
    codec = python_encoding(fmt.encoding)
    if codec == "utf-8-sig":
        codec = "utf-8"
    return out.getvalue().encode(codec)
