"""List items over the transactional API: read (JSON rows or CSV, paged), insert, update, upsert,
delete, reset index — as methods of :class:`~airflow_provider_anaplan.client.bulk.AnaplanAsyncClient`.

Writes take any record source (:func:`~.transactional_common.aiter_records`), are cut at Anaplan's
100,000 items per call and sent ``config.max_concurrency`` calls at a time; the answers merge into one
:class:`~.transactional_results.ListWriteResult`. A record is either Anaplan's item shape
(``name``, ``code``, ``id``, ``parent``, ``properties``, ``subsets``) or flat: every other key is a
property, and a ``subset:<name>`` key a subset flag (CSV columns work the same way).
"""

from __future__ import annotations

import csv
import functools
import io
import logging
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_anaplan.client.http import AmbiguousRequestError
from airflow_provider_anaplan.client.transactional_common import (
    MAX_LIST_ITEMS_PER_CALL,
    aiter_blocks,
    batched_blocks,
    clean_id,
    json_bytes,
    run_bounded,
    to_frame,
    unwrap_ambiguous,
)
from airflow_provider_anaplan.client.transactional_results import ListWriteResult
from airflow_provider_anaplan.exceptions import AnaplanConfigError

if TYPE_CHECKING:
    from airflow_provider_anaplan.client.config import ClientConfig
    from airflow_provider_anaplan.client.http import HttpSession

__all__ = ["TransactionalListsMixin", "list_item"]

log = logging.getLogger(__name__)

_ITEM_KEYS = ("name", "code", "id", "parent")
_JSON = {"Content-Type": "application/json"}
#: items per GET page of ``get_list_items`` (the spec's default page size is 5,000)
LIST_PAGE_SIZE = 5_000
UpsertKey = Literal["auto", "name", "code"]


@functools.lru_cache(maxsize=256)
def _plain_keys(keys: tuple[str, ...]) -> bool:
    """Whether records with these keys hold only item fields, already in Anaplan's spelling."""
    return all(k in _ITEM_KEYS for k in keys)


def list_item(record: Mapping[str, Any]) -> dict[str, Any]:
    """Anaplan's item shape of a record (flat keys become properties; ``subset:X`` subset flags)."""
    if _plain_keys(tuple(record)):  # the common case (name, code, ...): no per-key parsing
        for value in record.values():
            if type(value) is not str or not value:
                break
        else:  # already Anaplan's shape (every value a non-empty string): no copy
            return record if type(record) is dict else dict(record)
        return {k: v if type(v) is str else str(v) for k, v in record.items() if v is not None and v != ""}
    item: dict[str, Any] = {}
    properties: dict[str, str] = dict(record.get("properties") or {})
    subsets: dict[str, bool] = dict(record.get("subsets") or {})
    for key, value in record.items():
        lower = str(key).strip().lower()
        if lower in _ITEM_KEYS:
            if value is not None and str(value) != "":
                item[lower] = str(value)
        elif key in ("properties", "subsets"):
            continue
        elif lower.startswith("subset:"):
            subsets[str(key).split(":", 1)[1].strip()] = value if isinstance(value, bool) else str(value).strip().lower() == "true"
        elif value is not None:
            properties[str(key)] = _text(value)
    if properties:
        item["properties"] = {k: _text(v) for k, v in properties.items()}
    if subsets:
        item["subsets"] = subsets
    return item


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class TransactionalListsMixin:
    """List item reads and writes (async; part of AnaplanAsyncClient)."""

    if TYPE_CHECKING:
        config: ClientConfig
        max_list_items_per_call: int

        @property
        def session(self) -> HttpSession: ...
        @property
        def model_url(self) -> str: ...
        async def _get(self, url: str, object_id: str | None = None, **kwargs: Any) -> dict[str, Any]: ...
        async def lookup_dimension_items(
            self, dimension_id: str | int, names: list[str] | None = None, codes: list[str] | None = None
        ) -> list[dict[str, Any]]: ...

    #: items per add/update/delete call (Anaplan: 100,000); tests lower it on an instance
    max_list_items_per_call = MAX_LIST_ITEMS_PER_CALL

    # ---- reads ------------------------------------------------------------------------------------
    async def get_list_items(
        self, list_id: str | int, include_all: bool = True, format: Literal["json", "csv"] = "json"
    ) -> AsyncIterator[Any]:
        """Stream a list's items page by page (5,000 a request, bounded memory).

        ``format="json"``: yields one dict per item as Anaplan sends it (``id``, ``name``, ``code``,
        ``parent``, ``parentId``, ``listId``, ``listName``; with ``include_all`` also ``properties`` and
        ``subsets``). ``format="csv"``: yields CSV text as UTF-8 ``bytes`` (a header row, then one row
        per item; properties and subsets as columns). For lists of millions of items prefer the
        large-volume read (:meth:`iter_large_list`).
        """
        if format not in ("json", "csv"):
            raise AnaplanConfigError(f"format must be 'json' or 'csv', got {format!r}")
        lid = clean_id(list_id, "list_id")
        url = f"{self.model_url}/lists/{lid}/items"
        header: list[str] | None = None
        offset = 0
        while True:
            params: dict[str, Any] = {"limit": LIST_PAGE_SIZE, "offset": offset}
            if include_all:
                params["includeAll"] = "true"
            body = await self._get(url, lid, params=params)
            page = list(body.get("listItems") or [])
            if format == "json":
                for item in page:
                    yield item
            elif page:
                out = io.StringIO()
                writer = csv.writer(out, lineterminator="\n")
                if header is None:
                    header = _csv_header(page[0])
                    writer.writerow(header)
                for item in page:
                    writer.writerow(_csv_values(header, item))
                yield out.getvalue().encode()
            offset += len(page)
            total = ((body.get("meta") or {}).get("paging") or {}).get("totalSize")
            if not page or total is None or offset >= int(total):
                return

    async def get_list_items_frame(self, list_id: str | int, library: Literal["polars", "pandas"] = "polars") -> Any:
        """A list's items as a polars or pandas DataFrame (flat: properties and subsets as columns)."""
        rows = [_flat(item) async for item in self.get_list_items(list_id, True, "json")]
        return to_frame(rows, library)

    # ---- writes -----------------------------------------------------------------------------------
    async def _post_items(self, lid: str, action: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        url = f"{self.model_url}/lists/{lid}/items"
        body = json_bytes({"items": items})
        if action == "update":
            response = await self.session.request("PUT", url, object_id=lid, content=body, headers=_JSON)
        else:
            response = await self.session.request(
                "POST", url, idempotent=False, object_id=lid, params={"action": action}, content=body, headers=_JSON
            )
        return response.json()

    async def _write(self, list_id: str | int, items: object, action: str) -> ListWriteResult:
        lid = clean_id(list_id, "list_id")
        result = ListWriteResult(list_id=lid, action=action)
        size = self.max_list_items_per_call

        async def send(index: int, batch: list[dict[str, Any]]) -> None:
            offsets = range(index * size, index * size + len(batch))
            try:
                answer = await self._post_items(lid, action, batch)
            except AmbiguousRequestError as exc:
                raise unwrap_ambiguous(exc, f"the {action} of items {offsets[0]}-{offsets[-1]}") from None
            result.merge(action, answer, batch, offsets)

        batches = batched_blocks(aiter_blocks(items, "items"), size, list_item)
        await run_bounded(batches, send, self.config.max_concurrency)
        result.failures.sort(key=lambda f: f.index)
        log.info("%s", result.summary())
        return result

    async def insert_list_items(self, list_id: str | int, items: object) -> ListWriteResult:
        """Add new items (``POST …/items?action=add``); items that exist are rejected (see ``failures``).

        ``items``: iterable/async iterable of dicts, a DataFrame, or CSV (path, file, bytes, Content).
        """
        return await self._write(list_id, items, "add")

    async def update_list_items(self, list_id: str | int, items: object) -> ListWriteResult:
        """Update existing items identified by ``id``, ``code`` or ``name`` (``PUT …/items``)."""
        return await self._write(list_id, items, "update")

    async def delete_list_items(self, list_id: str | int, items: object) -> ListWriteResult:
        """Delete items identified by ``id``, ``code`` or ``name`` (``POST …/items?action=delete``)."""
        return await self._write(list_id, items, "delete")

    async def upsert_list_items(self, list_id: str | int, items: object, key: UpsertKey = "auto") -> ListWriteResult:
        """Insert the new items and update the existing ones.

        Each batch's keys are looked up first (``POST …/dimensions/{list}/items`` by names and codes), then
        the new items are added and the existing ones updated — so re-running an upsert is safe.

        :param key: what identifies an item: ``"code"``, ``"name"``, or ``"auto"`` (default: the code when
            the item has one, else the name). An existing item matched by name is updated by its id (Anaplan
            refuses a by-name update of an item that has a code).
        """
        if key not in ("auto", "name", "code"):
            raise AnaplanConfigError(f"key must be 'auto', 'name' or 'code', got {key!r}")
        lid = clean_id(list_id, "list_id")
        result = ListWriteResult(list_id=lid, action="upsert")
        size = self.max_list_items_per_call

        async def send(index: int, batch: list[dict[str, Any]]) -> None:
            base = index * size
            for attempt in (1, 2):
                try:
                    await self._upsert_batch(lid, batch, base, key, result)
                    return
                except AmbiguousRequestError as exc:  # unknown whether the add applied: look again
                    if attempt == 2:
                        raise unwrap_ambiguous(exc, f"the upsert of items {base}-{base + len(batch) - 1}") from None
                    log.warning("Adding items %d-%d ended ambiguously (%s); looking them up again", base, base + len(batch) - 1, exc)

        batches = batched_blocks(aiter_blocks(items, "items"), size, list_item)
        await run_bounded(batches, send, self.config.max_concurrency)
        result.failures.sort(key=lambda f: f.index)
        log.info("%s", result.summary())
        return result

    async def _upsert_batch(self, lid: str, batch: list[dict[str, Any]], base: int, key: str, result: ListWriteResult) -> None:
        # what identifies each item: its code (key "code", or "auto" and it has one) or its name
        # (list comprehensions, not a loop of appends: this runs for every item of the upsert)
        idents: list[Any]
        names: list[str]
        codes: list[str]
        if key == "auto":
            by_code = [bool(item.get("code")) for item in batch]
            idents = [item.get("code") or item.get("name") for item in batch]
        else:
            by_code = [key == "code"] * len(batch)
            idents = [item.get(key) for item in batch]
        if None in idents:
            position = idents.index(None)
            field = "code" if by_code[position] else "name"
            raise AnaplanConfigError(f"item {base + position} has no {field} to upsert by: {batch[position]!r:.200}")
        if key == "auto":
            names = list(dict.fromkeys(i for i, bc in zip(idents, by_code, strict=True) if not bc))
            codes = list(dict.fromkeys(i for i, bc in zip(idents, by_code, strict=True) if bc))
        else:
            names, codes = ([], list(dict.fromkeys(idents))) if key == "code" else (list(dict.fromkeys(idents)), [])
        found = await self.lookup_dimension_items(lid, names or None, codes or None)
        # exact keys first (the usual case), folded keys for a match that differs in case only
        ids_by_name: dict[str, str] = {}
        ids_by_code: dict[str, str] = {}
        for f in found:
            if names and f.get("name") is not None:
                ids_by_name[str(f["name"])] = str(f["id"])
            if codes and f.get("code"):
                ids_by_code[str(f["code"])] = str(f["id"])
        del found
        for ids in (ids_by_name, ids_by_code):  # an exact key wins over another item's folded one
            for ident, item_id in list(ids.items()):
                ids.setdefault(ident.casefold(), item_id)
        if key == "auto":
            hits = [
                (ids_by_code if bc else ids_by_name).get(i) or (ids_by_code if bc else ids_by_name).get(i.casefold())
                for i, bc in zip(idents, by_code, strict=True)
            ]
        else:
            get = (ids_by_code if key == "code" else ids_by_name).get
            hits = [get(i) or get(i.casefold()) for i in idents]
        del idents
        adds = [item for item, hit in zip(batch, hits, strict=True) if hit is None]
        add_at = [base + n for n, hit in enumerate(hits) if hit is None]
        # by code: the item as it is (no id); by name: by its id (Anaplan refuses a by-name update of an
        # item that has a code), the name left out
        updates = [
            (item if "id" not in item else {k: v for k, v in item.items() if k != "id"})
            if bc
            else {"id": hit, **{k: v for k, v in item.items() if k not in ("name", "id")}}
            for item, hit, bc in zip(batch, hits, by_code, strict=True)
            if hit is not None
        ]
        update_at = [base + n for n, hit in enumerate(hits) if hit is not None]
        if adds:
            result.merge("add", await self._post_items(lid, "add", adds), adds, add_at)
        if updates:
            result.merge("update", await self._post_items(lid, "update", updates), updates, update_at)

    async def reset_list_index(self, list_id: str | int) -> None:
        """Reset a list's item index to 1 (the list must hold no items; workspace administrators only)."""
        lid = clean_id(list_id, "list_id")
        await self.session.request("POST", f"{self.model_url}/lists/{lid}/resetIndex", idempotent=True, object_id=lid)
        log.info("Reset the item index of list %s", lid)


def _flat(item: Mapping[str, Any]) -> dict[str, Any]:
    row = {k: v for k, v in item.items() if k not in ("properties", "subsets")}
    row.update(item.get("properties") or {})
    row.update({f"subset:{k}": v for k, v in (item.get("subsets") or {}).items()})
    return row


def _csv_header(first: Mapping[str, Any]) -> list[str]:
    base = ["id", "name", "code", "parent", "parentId", "listId", "listName"]
    return base + list(first.get("properties") or {}) + [f"subset:{s}" for s in (first.get("subsets") or {})]


def _csv_values(header: list[str], item: Mapping[str, Any]) -> list[str]:
    flat = _flat(item)
    return ["" if flat.get(h) is None else _text(flat[h]) for h in header]
