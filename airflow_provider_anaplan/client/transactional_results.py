"""Typed results of the transactional writes and large-volume reads (merged over every call).

A write of N items is cut into calls of at most Anaplan's per-call limit; each call answers with counts
and per-item ``failures`` whose ``requestIndex`` is relative to that call. The results here are merged:
counts summed, every failure carrying its index in the caller's whole input, the item itself and
Anaplan's ``failureType``/``failureMessageDetails``. ``to_dict()`` is small and JSON-safe (XCom).
Leaf module: imports nothing from the client.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CellWriteFailure", "CellWriteResult", "ItemFailure", "ListWriteResult", "ReadResult"]

#: failures kept in ``to_dict()`` (the full list stays on the result object)
XCOM_FAILURES = 20


@dataclass(frozen=True)
class ItemFailure:
    """One list item Anaplan rejected: ``index`` in the caller's input, the item sent, Anaplan's reason."""

    index: int
    item: Mapping[str, Any]
    failure_type: str
    details: str
    action: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "action": self.action,
            "failure_type": self.failure_type,
            "details": self.details,
            "item": dict(self.item),
        }


@dataclass
class ListWriteResult:
    """Merged outcome of an insert / update / upsert / delete of list items.

    ``total`` items were sent in ``calls`` requests; ``added``/``updated``/``deleted`` were applied,
    ``ignored`` were not (Anaplan's count: the failures plus items it skipped); ``failures`` holds each
    rejected item with Anaplan's reason.
    """

    list_id: str
    action: str
    total: int = 0
    added: int = 0
    updated: int = 0
    deleted: int = 0
    ignored: int = 0
    calls: int = 0
    failures: list[ItemFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No item was rejected."""
        return not self.failures and not self.ignored

    def merge(self, action: str, answer: Mapping[str, Any], items: Sequence[Mapping[str, Any]], offsets: Sequence[int]) -> None:
        """Add one call's answer (``offsets[i]`` is the input index of ``items[i]``)."""
        self.calls += 1
        self.total += _int(answer.get("total"), len(items))
        self.added += _int(answer.get("added"), 0)
        self.updated += _int(answer.get("updated"), 0)
        self.deleted += _int(answer.get("deleted"), 0)
        self.ignored += _int(answer.get("ignored"), 0)
        for failure in answer.get("failures") or []:
            if not isinstance(failure, Mapping):
                continue
            position = _int(failure.get("requestIndex"), -1)
            inside = 0 <= position < len(items)
            self.failures.append(
                ItemFailure(
                    index=offsets[position] if inside else -1,
                    item=items[position] if inside else {},
                    failure_type=str(failure.get("failureType") or ""),
                    details=str(failure.get("failureMessageDetails") or ""),
                    action=action,
                )
            )

    def summary(self) -> str:
        parts = [f"{self.action} of {self.total} item(s) of list {self.list_id} in {self.calls} call(s)"]
        for name in ("added", "updated", "deleted", "ignored"):
            if getattr(self, name):
                parts.append(f"{name} {getattr(self, name)}")
        if self.failures:
            first = self.failures[0]
            parts.append(f"{len(self.failures)} failure(s), first: item {first.index} {first.failure_type}: {first.details}")
        return "; ".join(parts)

    def failures_csv(self) -> str:
        """The failures as CSV text (index, action, failure_type, details, item as JSON)."""
        import json

        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["index", "action", "failure_type", "details", "item"])
        for f in self.failures:
            writer.writerow([f.index, f.action, f.failure_type, f.details, json.dumps(dict(f.item), default=str)])
        return out.getvalue()

    def to_dict(self, max_failures: int = XCOM_FAILURES) -> dict[str, Any]:
        return {
            "list_id": self.list_id,
            "action": self.action,
            "total": self.total,
            "added": self.added,
            "updated": self.updated,
            "deleted": self.deleted,
            "ignored": self.ignored,
            "calls": self.calls,
            "failure_count": len(self.failures),
            "failures": [f.to_dict() for f in self.failures[:max_failures]],
        }


@dataclass(frozen=True)
class CellWriteFailure:
    """One cell Anaplan did not write: ``index`` in the caller's input, the cell sent, Anaplan's reason."""

    index: int
    cell: Mapping[str, Any]
    failure_type: str
    details: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "failure_type": self.failure_type, "details": self.details, "cell": dict(self.cell)}


@dataclass
class CellWriteResult:
    """Merged outcome of ``update_module_data``: ``changed`` cells (Anaplan's ``numberOfCellsChanged``)
    of ``total`` sent in ``calls`` requests, and every failure with its cell and reason."""

    module_id: str
    total: int = 0
    changed: int = 0
    calls: int = 0
    failures: list[CellWriteFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def merge(self, answer: Mapping[str, Any], cells: Sequence[Mapping[str, Any]], offset: int) -> None:
        self.calls += 1
        self.total += len(cells)
        self.changed += _int(answer.get("numberOfCellsChanged"), 0)
        for failure in answer.get("failures") or []:
            if not isinstance(failure, Mapping):
                continue
            position = _int(failure.get("requestIndex"), -1)
            inside = 0 <= position < len(cells)
            self.failures.append(
                CellWriteFailure(
                    index=offset + position if inside else -1,
                    cell=cells[position] if inside else {},
                    failure_type=str(failure.get("failureType") or ""),
                    details=str(failure.get("failureMessageDetails") or ""),
                )
            )

    def summary(self) -> str:
        text = f"{self.changed} of {self.total} cell(s) of module {self.module_id} written in {self.calls} call(s)"
        if self.failures:
            first = self.failures[0]
            text += f"; {len(self.failures)} failure(s), first: cell {first.index} {first.failure_type}: {first.details}"
        return text

    def failures_csv(self) -> str:
        import json

        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["index", "failure_type", "details", "cell"])
        for f in self.failures:
            writer.writerow([f.index, f.failure_type, f.details, json.dumps(dict(f.cell), default=str)])
        return out.getvalue()

    def to_dict(self, max_failures: int = XCOM_FAILURES) -> dict[str, Any]:
        return {
            "module_id": self.module_id,
            "total": self.total,
            "changed": self.changed,
            "calls": self.calls,
            "failure_count": len(self.failures),
            "failures": [f.to_dict() for f in self.failures[:max_failures]],
        }


@dataclass
class ReadResult:
    """A large-volume read written to a destination: ``pages`` fetched, ``bytes`` written."""

    source: str
    object_id: str
    request_id: str
    pages: int = 0
    bytes: int = 0
    destination: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "object_id": self.object_id,
            "request_id": self.request_id,
            "pages": self.pages,
            "bytes": self.bytes,
            "destination": self.destination,
        }


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
