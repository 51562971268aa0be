"""Model structure for ALM: snapshot (lists, modules, line items), differences, sync and reports.

A revision holds a :func:`snapshot` of its source model. A sync makes the target's structure equal
to the revision's (:func:`apply`), keeping the target's data (list members, cells). Reports count
the differences between two snapshots (:func:`diff`).
"""

from __future__ import annotations

import copy
from typing import Any

from .state import Dimension, ListDef, Model, ModuleDef

CATEGORIES = ("lists", "modules", "lineItems")


def snapshot(model: Model) -> dict[str, Any]:
    """The structure of ``model`` (JSON-safe)."""
    lists = {lst.id: {"name": lst.name, "properties": dict(lst.properties)} for lst in model.lists.values()}
    modules: dict[str, Any] = {}
    line_items: dict[str, Any] = {}
    for mod in model.modules.values():
        modules[mod.id] = {
            "name": mod.name,
            "dimensions": [
                {"name": d.name, "list": d.list_id}
                if d.list_id
                else {"name": d.name, "items": list(d.items or [])}
                for d in mod.dimensions
            ],
            "lineItem": mod.line_item,
        }
        for name, kind in {mod.line_item: mod.data_type, **mod.extra_line_items}.items():
            line_items[f"{mod.id}/{name}"] = {
                "module": mod.id,
                "moduleName": mod.name,
                "name": name,
                "dataType": kind,
            }
    return {"lists": lists, "modules": modules, "lineItems": line_items}


def _label(category: str, key: str, entry: dict[str, Any]) -> str:
    if category == "lineItems":
        return f"{entry['moduleName']}.{entry['name']}"
    return str(entry["name"])


def diff(target: dict[str, Any], source: dict[str, Any]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per category: ``created`` (in source only), ``deleted`` (in target only), ``modified``."""
    result: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for category in CATEGORIES:
        old, new = target.get(category, {}), source.get(category, {})
        result[category] = {
            "created": [{"id": k, **new[k]} for k in new if k not in old],
            "deleted": [{"id": k, **old[k]} for k in old if k not in new],
            "modified": [{"id": k, **new[k]} for k in new if k in old and new[k] != old[k]],
        }
    return result


def summary(target: dict[str, Any], source: dict[str, Any]) -> tuple[dict[str, int], dict[str, Any]]:
    """``(totals, differences)`` of the summary report; empty change types are left out."""
    changes = diff(target, source)
    totals = {"modified": 0, "deleted": 0, "created": 0}
    differences: dict[str, Any] = {}
    for category, kinds in changes.items():
        counts = {kind: len(items) for kind, items in kinds.items() if items}
        for kind, count in counts.items():
            totals[kind] += count
        if counts:
            differences[category] = counts
    return totals, differences


def comparison_tsv(target: dict[str, Any], source: dict[str, Any]) -> bytes:
    """The full comparison report (tab-separated sections, one per change type)."""
    changes = diff(target, source)
    out: list[str] = []

    def section(title: str, header: list[str], rows: list[list[str]]) -> None:
        out.append(title)
        out.append("\t".join(header))
        out.extend("\t".join(r) for r in rows)
        out.append("")

    lists, modules, items = changes["lists"], changes["modules"], changes["lineItems"]
    section("Lists Added", ["List", "Id"], [[e["name"], e["id"]] for e in lists["created"]])
    section("Lists Deleted", ["List", "Id"], [[e["name"], e["id"]] for e in lists["deleted"]])
    section("Modules Added", ["Module", "Id"], [[e["name"], e["id"]] for e in modules["created"]])
    section("Modules Deleted", ["Module", "Id"], [[e["name"], e["id"]] for e in modules["deleted"]])
    within = [[e["name"], "Properties or name changed"] for e in lists["modified"]]
    within += [[e["name"], "Module dimensions or name changed"] for e in modules["modified"]]
    section("Changes Within Lists", ["Object", "Change"], within)
    section(
        "Line Items Added",
        ["Module", "Line Item", "Format"],
        [[e["moduleName"], e["name"], e["dataType"]] for e in items["created"]],
    )
    section(
        "Line Items Deleted",
        ["Module", "Line Item"],
        [[e["moduleName"], e["name"]] for e in items["deleted"]],
    )
    section(
        "Line Items Changed",
        ["Module", "Line Item", "Format"],
        [[e["moduleName"], e["name"], e["dataType"]] for e in items["modified"]],
    )
    return "\n".join(out).encode("utf-8")


def _referenced(model: Model, object_id: str) -> bool:
    if any(i.target_id == object_id for i in model.imports.values()):
        return True
    if any(e.source_id == object_id for e in model.exports.values()):
        return True
    if any(a.list_id == object_id for a in model.actions.values()):
        return True
    return any(d.list_id == object_id for m in model.modules.values() for d in m.dimensions)


def apply(structure: dict[str, Any], model: Model) -> None:
    """Make ``model``'s structure equal to ``structure``; data (members, cells) is kept."""
    for list_id, spec in structure["lists"].items():
        lst = model.lists.get(list_id)
        if lst is None:
            model.lists[list_id] = ListDef(id=list_id, name=spec["name"], properties=dict(spec["properties"]))
            continue
        lst.name = spec["name"]
        for prop, kind in spec["properties"].items():
            if prop not in lst.properties:
                lst.properties[prop] = kind
                for item in lst.items.values():
                    item[prop] = lst.default_value(prop)
        for prop in [p for p in lst.properties if p not in spec["properties"]]:
            del lst.properties[prop]
            for item in lst.items.values():
                item.pop(prop, None)
    for module_id, spec in structure["modules"].items():
        mod = model.modules.get(module_id)
        if mod is None:
            dims = [
                Dimension(name=d["name"], list_id=d["list"])
                if "list" in d
                else Dimension(name=d["name"], items=list(d["items"]))
                for d in spec["dimensions"]
            ]
            mod = ModuleDef(id=module_id, name=spec["name"], dimensions=dims, line_item=spec["lineItem"])
            model.modules[module_id] = mod
        mod.name = spec["name"]
        own = {k: v for k, v in structure["lineItems"].items() if v["module"] == module_id}
        main = own.get(f"{module_id}/{mod.line_item}")
        if main is not None:
            mod.data_type = main["dataType"]
        mod.extra_line_items = {v["name"]: v["dataType"] for v in own.values() if v["name"] != mod.line_item}
    for module_id in [m for m in model.modules if m not in structure["modules"]]:
        if not _referenced(model, module_id):
            del model.modules[module_id]
    for list_id in [i for i in model.lists if i not in structure["lists"]]:
        if not _referenced(model, list_id):
            del model.lists[list_id]


def copy_structure(structure: dict[str, Any]) -> dict[str, Any]:
    """A deep copy (revisions must not share dicts with anything mutable)."""
    return copy.deepcopy(structure)
