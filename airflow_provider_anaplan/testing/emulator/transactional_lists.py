"""List item writes over the transactional API: add, update, delete, reset index (reads: ``transactional_list_reads``)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .responses import ApiError, envelope, json_response
from .state import ListDef, Model
from .state.transactional import ListExtras
from .transactional_common import gc_paused, json_body, open_model
from .transactional_dims import drop_fold, list_lookups, stamp
from .transactional_list_reads import list_of


class ItemFailure(Exception):
    """One item of a write is rejected (``failureType``, details)."""

    def __init__(self, kind: str, details: str) -> None:
        super().__init__(details)
        self.kind = kind
        self.details = details


def _typed(lst: ListDef, prop: str, raw: Any) -> Any:
    kind = lst.properties[prop]
    if kind == "number":
        if isinstance(raw, bool):
            raise ItemFailure("INCORRECT_FORMAT", f"incorrect format -- column name:{prop}, value:{raw}")
        if isinstance(raw, (int, float)):
            return float(raw)
        text = str(raw).strip()
        if text == "":
            return None
        try:
            return float(text)
        except ValueError:
            raise ItemFailure(
                "INCORRECT_FORMAT", f"incorrect format -- column name:{prop}, value:{raw}"
            ) from None
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("true", "false"):
            return text == "true"
        if text == "":
            return False
        raise ItemFailure("INCORRECT_FORMAT", f"incorrect format -- column name:{prop}, value:{raw}")
    return "" if raw is None else str(raw)


def _values(lst: ListDef, item: dict[str, Any]) -> dict[str, Any]:
    props = item.get("properties")
    if props is None:
        return {}
    if not isinstance(props, dict):
        raise ItemFailure("INCORRECT_FORMAT", "incorrect format -- 'properties' must be an object")
    out: dict[str, Any] = {}
    for prop, raw in props.items():
        if prop not in lst.properties:
            raise ItemFailure("INCORRECT_FORMAT", f"incorrect format -- unknown property:{prop}")
        out[prop] = _typed(lst, prop, raw)
    return out


def _subsets(extras: ListExtras, item: dict[str, Any]) -> dict[str, bool]:
    subsets = item.get("subsets")
    if subsets is None:
        return {}
    if not isinstance(subsets, dict):
        raise ItemFailure("INCORRECT_FORMAT", "incorrect format -- 'subsets' must be an object")
    for name in subsets:
        if name not in extras.subsets:
            raise ItemFailure("INCORRECT_FORMAT", f"incorrect format -- unknown subset:{name}")
    return {k: str(v).lower() == "true" if not isinstance(v, bool) else v for k, v in subsets.items()}


def _parent(model: Model, lst: ListDef, extras: ListExtras, item: dict[str, Any]) -> str | None:
    """The parent named by the item ('' clears it), checked against the parent list."""
    if "parent" not in item:
        return None
    parent = "" if item["parent"] is None else str(item["parent"])
    if parent == "":
        return ""
    plist = model.lists.get(extras.parent_list_id or "")
    if plist is None:
        raise ItemFailure("INCORRECT_FORMAT", f"incorrect format -- list {lst.name} has no parent hierarchy")
    if parent not in plist.items:
        raise ItemFailure(
            "INCORRECT_FORMAT",
            f"incorrect format -- column name:parent, value:{parent} (not in {plist.name})",
        )
    return parent


def _apply(extras: ListExtras, name: str, parent: str | None, subsets: dict[str, bool]) -> None:
    if parent is not None:
        if parent:
            extras.parents[name] = parent
        else:
            extras.parents.pop(name, None)
    for subset, member in subsets.items():
        if member:
            extras.subsets[subset].add(name)
        else:
            extras.subsets[subset].discard(name)


def _check_items(model: Model, body: Any) -> list[Any]:
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise ApiError(400, "The request body must be an object with an 'items' array")
    items: list[Any] = body["items"]
    limit = model.transactional.settings.max_list_items_per_call
    if len(items) > limit:
        raise ApiError(
            400,
            f"Too many list items in one call: {len(items):,}; the maximum is {limit:,} items per call "
            "(send them in several calls)",
        )
    return items


def _result(request: Request, model: Model, key: str, done: int, total: int, failures: list[Any]) -> Response:
    body = envelope(request, model.id, "list")
    body[key] = done
    body["ignored"] = total - done
    body["total"] = total
    if failures:
        body["failures"] = failures
    return json_response(body)


def _failure(index: int, exc: ItemFailure) -> dict[str, Any]:
    return {"requestIndex": index, "failureType": exc.kind, "failureMessageDetails": exc.details}


def _by_code(lst: ListDef, codes: dict[str, str], code: str) -> str | None:
    """The member with ``code`` (an index entry left stale by another writer is ignored)."""
    name = codes.get(code)
    if name is not None and lst.items.get(name, {}).get("code") != code:
        return None
    return name


def add_items(model: Model, lst: ListDef, items: list[Any]) -> tuple[int, list[dict[str, Any]]]:
    """Add members (Anaplan's rules for general and numbered lists); returns (added, failures)."""
    extras = list_lookups(model, lst)
    codes, by_id, ids, members = extras.codes, extras.by_id, extras.ids, lst.items
    defaults = {p: lst.default_value(p) for p in lst.properties}
    prefix = f"2{lst.id[-2:]}"
    counter = extras.next_index
    numbered = extras.numbered
    added = 0
    failures: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise ItemFailure("INCOMPLETE_DATA", "incomplete data -- an item must be an object")
            raw_code = item.get("code")
            code = "" if raw_code is None else str(raw_code)
            raw_name = item.get("name")
            if numbered:
                if raw_name not in (None, ""):
                    raise ItemFailure(
                        "INCORRECT_FORMAT",
                        "incorrect format -- a numbered list takes no name (the index is the name)",
                    )
                name = f"#{counter}"
            else:
                name = "" if raw_name is None else str(raw_name)
                if not name.strip():
                    raise ItemFailure("INCOMPLETE_DATA", "incomplete data -- column name:name, value:")
                if name in members:
                    raise ItemFailure("INCOMPLETE_DATA", f"incomplete data -- duplicate name:{name}")
            if code and code in codes and _by_code(lst, codes, code) is not None:
                raise ItemFailure("INCOMPLETE_DATA", f"incomplete data -- duplicate code:{code}")
            values = _values(lst, item) if "properties" in item else None
            parent = _parent(model, lst, extras, item) if "parent" in item else None
            subsets = _subsets(extras, item) if "subsets" in item else None
        except ItemFailure as exc:
            failures.append(_failure(index, exc))
            continue
        data = {"code": code, **defaults}
        if values:
            data.update(values)
        members[name] = data
        item_id = ids[name] = f"{prefix}{counter:09d}"
        counter += 1
        by_id[item_id] = name
        if code:
            codes[code] = name
        if parent or subsets:
            _apply(extras, name, parent, subsets or {})
        added += 1
    extras.next_index = counter
    stamp(lst, extras)
    return added, failures


def _rename(lst: ListDef, extras: ListExtras, old: str, new: str) -> None:
    """Rename a member in the list (it moves to the end of the list's order) and in its extras."""
    lst.items[new] = lst.items.pop(old)
    item_id = extras.ids[new] = extras.ids.pop(old)
    extras.by_id[item_id] = new
    code = lst.items[new].get("code")
    if code:
        extras.codes[code] = new
    if old in extras.parents:
        extras.parents[new] = extras.parents.pop(old)
    for members in extras.subsets.values():
        if old in members:
            members.discard(old)
            members.add(new)


def _follow_renames(model: Model, lst: ListDef, renamed: dict[str, str]) -> None:
    """Re-key cells and child lists' parents after renames (one pass for the whole call)."""
    if not renamed:
        return
    for other in model.transactional.lists.values():
        if other.parent_list_id == lst.id:
            for child, parent in list(other.parents.items()):
                if parent in renamed:
                    other.parents[child] = renamed[parent]
    for module in model.modules.values():
        positions = [i for i, d in enumerate(module.dimensions) if d.list_id == lst.id]
        if not positions or not module.cells:
            continue
        for key in [k for k in module.cells if any(k[i] in renamed for i in positions)]:
            value = module.cells.pop(key)
            new_key = tuple(renamed.get(p, p) if i in positions else p for i, p in enumerate(key))
            module.cells[new_key] = value


def update_items(model: Model, lst: ListDef, items: list[Any]) -> tuple[int, list[dict[str, Any]]]:
    """Update members found by id, code or name (Anaplan's update table); returns (updated, failures)."""
    extras = list_lookups(model, lst)
    codes, by_id = extras.codes, extras.by_id
    renamed: dict[str, str] = {}
    updated = 0
    failures: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise ItemFailure("INCOMPLETE_DATA", "incomplete data -- an item must be an object")
            item_id = item.get("id")
            code = None if item.get("code") is None else str(item.get("code"))
            name = None if item.get("name") is None else str(item.get("name"))
            new_code: str | None = None
            if item_id is not None:
                target = by_id.get(str(item_id))
                if target is None or target not in lst.items:
                    raise ItemFailure("INCOMPLETE_DATA", f"incomplete data -- no item with id:{item_id}")
                new_code = code
            elif code:
                target = _by_code(lst, codes, code)
                if target is None:
                    if name is not None and name in lst.items and not lst.items[name].get("code"):
                        target, new_code, name = name, code, None
                    elif name is not None and name in lst.items:
                        raise ItemFailure(
                            "INCOMPLETE_DATA", f"incomplete data -- name {name} already has a code"
                        )
                    else:
                        raise ItemFailure("INCOMPLETE_DATA", f"incomplete data -- no item with code:{code}")
            elif name is not None and not extras.numbered:
                target = name if name in lst.items else None
                if target is None:
                    raise ItemFailure("INCOMPLETE_DATA", f"incomplete data -- no item named:{name}")
                if lst.items[target].get("code"):
                    raise ItemFailure(
                        "INCOMPLETE_DATA",
                        f"incomplete data -- item {name} has a code: identify it by code or id",
                    )
                name = None
            else:
                raise ItemFailure("INCOMPLETE_DATA", "incomplete data -- give the item's id, code or name")
            current = lst.items[target]
            if new_code is not None and new_code != current.get("code", ""):
                if new_code == "":
                    raise ItemFailure("INCOMPLETE_DATA", "incomplete data -- column name:code, value:")
                if _by_code(lst, codes, new_code) is not None:
                    raise ItemFailure("INCOMPLETE_DATA", f"incomplete data -- duplicate code:{new_code}")
            if name is not None and name != target:
                if extras.numbered:
                    raise ItemFailure(
                        "INCORRECT_FORMAT", "incorrect format -- a numbered list item cannot be renamed"
                    )
                if name in lst.items:
                    raise ItemFailure("INCOMPLETE_DATA", f"incomplete data -- duplicate name:{name}")
            values = _values(lst, item) if "properties" in item else {}
            parent = _parent(model, lst, extras, item) if "parent" in item else None
            subsets = _subsets(extras, item) if "subsets" in item else {}
        except ItemFailure as exc:
            failures.append(_failure(index, exc))
            continue
        if new_code is not None and new_code != current.get("code", ""):
            drop_fold(model, lst)
            codes.pop(current.get("code", ""), None)
            current["code"] = new_code
            codes[new_code] = target
        if name is not None and name != target:
            drop_fold(model, lst)
            _rename(lst, extras, target, name)
            origin = next((o for o, n in renamed.items() if n == target), target)
            renamed[origin] = name
            target = name
        if values:
            current.update(values)
        if parent is not None or subsets:
            _apply(extras, target, parent, subsets)
        updated += 1
    _follow_renames(model, lst, {o: n for o, n in renamed.items() if o != n})
    stamp(lst, extras)
    return updated, failures


def delete_items(model: Model, lst: ListDef, items: list[Any]) -> tuple[int, list[dict[str, Any]]]:
    """Delete members by id, code or name (and their cells); returns (deleted, failures)."""
    extras = list_lookups(model, lst)
    codes, by_id = extras.codes, extras.by_id
    doomed: set[str] = set()
    failures: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        target = None
        if isinstance(item, dict):
            if item.get("id") is not None:
                target = by_id.get(str(item["id"]))
            elif item.get("code"):
                target = _by_code(lst, codes, str(item["code"]))
            elif item.get("name") is not None:
                target = str(item["name"])
        if target is None or target not in lst.items or target in doomed:
            failures.append(
                _failure(
                    index, ItemFailure("INCOMPLETE_DATA", f"incomplete data -- no such item: {item!r:.200}")
                )
            )
            continue
        doomed.add(target)
    if doomed:
        drop_fold(model, lst)
    for name in doomed:
        data = lst.items.pop(name)
        codes.pop(data.get("code") or "", None)
        by_id.pop(extras.ids.pop(name, ""), None)
        extras.parents.pop(name, None)
        for members in extras.subsets.values():
            members.discard(name)
    if doomed:
        for other in model.transactional.lists.values():
            if other.parent_list_id == lst.id:
                for child in [c for c, p in other.parents.items() if p in doomed]:
                    del other.parents[child]
        for module in model.modules.values():
            positions = [i for i, d in enumerate(module.dimensions) if d.list_id == lst.id]
            if positions and module.cells:
                for key in [k for k in module.cells if any(k[i] in doomed for i in positions)]:
                    del module.cells[key]
    stamp(lst, extras)
    return len(doomed), failures


async def post_items(request: Request) -> Response:
    """``POST .../items?action=add|delete``."""
    _, model = open_model(request, write=True)
    lst = list_of(model, request.path_params["listId"])
    action = request.query_params.get("action")
    if action not in ("add", "delete"):
        raise ApiError(400, f"Invalid or missing 'action' query parameter: {action!r} (use add or delete)")
    items = _check_items(model, await json_body(request))
    if action == "add":
        with gc_paused():
            added, failures = add_items(model, lst, items)
        return _result(request, model, "added", added, len(items), failures)
    with gc_paused():
        deleted, failures = delete_items(model, lst, items)
    return _result(request, model, "deleted", deleted, len(items), failures)


async def put_items(request: Request) -> Response:
    """``PUT .../items``: update."""
    _, model = open_model(request, write=True)
    lst = list_of(model, request.path_params["listId"])
    items = _check_items(model, await json_body(request))
    with gc_paused():
        updated, failures = update_items(model, lst, items)
    return _result(request, model, "updated", updated, len(items), failures)


async def reset_index(request: Request) -> Response:
    """``POST .../resetIndex``: 200 with no body; 400 when the list holds items."""
    _, model = open_model(request, write=True)
    lst = list_of(model, request.path_params["listId"])
    if lst.items:
        raise ApiError(
            400,
            "We can't reset the list item index of a list that contains data. Select an empty list that "
            "doesn't contain any list items.",
        )
    model.transactional.list_extras(lst.id).next_index = 1
    return Response(status_code=200)
