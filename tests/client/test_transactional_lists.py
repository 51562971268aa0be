"""Transactional list reads and writes and metadata, over real HTTP against the emulator."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from airflow_provider_anaplan.client import AnaplanAsyncClient, AnaplanClient
from airflow_provider_anaplan.client.transfer import Content
from airflow_provider_anaplan.exceptions import (
    AnaplanBadRequestError,
    AnaplanConfigError,
    AnaplanConflictError,
    AnaplanModelLockedError,
    AnaplanNotFoundError,
)

STORES = "101000000004"  # Stores: codes, parent Regions, properties Manager/Size/Open, subset Flagship
REGIONS = "101000000003"
LARGE = "101000000900"


def calls(admin: Any, method: str, suffix: str) -> int:
    return sum(n for k, n in admin.counters()["requests"].items() if k.startswith(method + " ") and k.endswith(suffix))


def tx(admin: Any, **settings: Any) -> dict[str, Any]:
    return admin._call("POST", "/transactional", settings)


async def test_metadata_methods(make_config, anaplan_emulator) -> None:
    async with AnaplanAsyncClient(make_config()) as c:
        assert {"id": "102000000001", "name": "Revenue"} in await c.get_modules()
        views = await c.get_views()
        assert {"102000000001", "203000000001", "203000000002"} <= {v["id"] for v in views}
        assert {v["id"] for v in await c.get_views("102000000001")} >= {"203000000002"}
        info = await c.get_view_info("203000000002")
        assert [d["name"] for d in info["pages"]] == ["Version"] and info["rows"][0]["id"] == "101000000001"
        line_items = await c.get_line_items("102000000001")
        assert line_items[0]["name"] == "Revenue" and "format" in line_items[0]
        dims = await c.get_line_item_dimensions(line_items[0]["id"])
        assert [d["name"] for d in dims] == ["Product", "Month", "Version"]
        assert {lst["id"] for lst in await c.get_lists()} >= {STORES, REGIONS}
        meta = await c.get_list_metadata(STORES)
        assert meta["parent"]["id"] == REGIONS and meta["itemCount"] == 3
        regions = await c.get_dimension_items(REGIONS)
        assert [(r["name"], r["code"]) for r in regions] == [("North", "N"), ("South", "S"), ("East", "E")]
        found = await c.lookup_dimension_items(STORES, names=["LONDON"], codes=["st03"])
        assert sorted(f["name"] for f in found) == ["Bristol", "London"]
        shown = await c.get_view_dimension_items("203000000002", "101000000001")
        assert [i["name"] for i in shown] == ["P001", "P002", "P003", "P004"]
        assert (await c.get_current_period())["periodText"] == ""
        period = await c.set_current_period("2026-05-20")
        assert period["periodText"] == "May 26" and period["lastDay"] == "2026-05-31"
        assert (await c.get_model_calendar())["fiscalYear"]["year"] == "FY26"
        assert (await c.set_current_fiscal_year("FY27"))["year"] == "FY27"
        with pytest.raises(AnaplanConfigError):
            await c.set_current_period("20/05/2026")  # checked before any request
        with pytest.raises(AnaplanBadRequestError, match="out of timescale"):
            await c.set_current_period("2040-01-01")
        with pytest.raises(AnaplanConfigError):
            await c.lookup_dimension_items(STORES)
        with pytest.raises(AnaplanNotFoundError, match="not found or no access"):
            await c.get_list_metadata("101000000777")


async def test_get_list_items_json_and_csv_pages(make_config, anaplan_emulator) -> None:
    anaplan_emulator.admin._call("POST", "/transactional/large_list", {"count": 12_345})
    async with AnaplanAsyncClient(make_config()) as c:
        rows = [r async for r in c.get_list_items(STORES)]
        assert [r["name"] for r in rows] == ["London", "Leeds", "Bristol"]
        assert rows[0]["properties"]["Manager"] == "Ann" and rows[0]["subsets"] == {"Flagship": True}
        assert rows[0]["parent"] == "North" and rows[0]["listId"] == REGIONS
        anaplan_emulator.admin.reset_counters()
        big = [r async for r in c.get_list_items(LARGE, include_all=False)]
        assert len(big) == 12_345 and big[-1]["name"] == "Item 0012345"
        assert calls(anaplan_emulator.admin, "GET", "/items") == 3  # 5,000 a page
        text = b"".join([b async for b in c.get_list_items(STORES, format="csv")]).decode()
        table = list(csv.DictReader(io.StringIO(text)))
        assert table[2]["name"] == "Bristol" and table[2]["Open"] == "false" and table[0]["subset:Flagship"] == "true"
        with pytest.raises(AnaplanConfigError):
            [r async for r in c.get_list_items(STORES, format="xml")]  # type: ignore[arg-type]


def test_insert_update_delete_sync_face(make_config, anaplan_emulator) -> None:
    admin = anaplan_emulator.admin
    with AnaplanClient(make_config()) as c:
        added = c.insert_list_items(
            STORES,
            [
                {"name": "York", "code": "ST04", "parent": "North", "Manager": "Dee", "Size": 70, "Open": True},
                {"name": "London", "code": "ST99"},  # duplicate name
                {"name": "Hull", "code": "ST05", "Size": "big"},  # not a number
            ],
        )
        assert (added.added, added.ignored, added.total, added.calls) == (1, 2, 3, 1)
        assert [(f.index, f.failure_type) for f in added.failures] == [(1, "INCOMPLETE_DATA"), (2, "INCORRECT_FORMAT")]
        assert added.failures[1].item["name"] == "Hull" and "Size" in added.failures[1].details
        york = next(i for i in admin.list_items(STORES) if i["name"] == "York")
        assert york["Manager"] == "Dee" and york["Size"] == 70 and york["Open"] is True
        updated = c.update_list_items(STORES, [{"code": "ST04", "Manager": "Eve"}, {"code": "NOPE", "Size": 1}])
        assert (updated.updated, updated.ignored) == (1, 1) and updated.failures[0].index == 1
        deleted = c.delete_list_items(STORES, [{"code": "ST04"}, {"name": "Ghost"}])
        assert (deleted.deleted, len(deleted.failures)) == (1, 1)
        assert "York" not in {i["name"] for i in admin.list_items(STORES)}
        assert "failure_type" in deleted.failures_csv().splitlines()[0]
        assert deleted.to_dict()["failure_count"] == 1


async def test_upsert_by_code_name_and_csv_source(make_config, anaplan_emulator, tmp_path) -> None:
    admin = anaplan_emulator.admin
    source = tmp_path / "stores.csv"
    source.write_text(
        "name,code,parent,Manager,Size,subset:Flagship\n"
        "London,ST01,North,Zed,121,true\n"  # existing (by code): updated
        "Leeds2,ST02,North,Bob,80,false\n"  # existing code, new name: renamed
        "Cardiff,ST06,South,Fay,40,true\n",  # new: added
        encoding="utf-8",
    )
    async with AnaplanAsyncClient(make_config()) as c:
        result = await c.upsert_list_items(STORES, str(source))
        assert (result.added, result.updated, result.failures) == (1, 2, [])
        items = {i["name"]: i for i in admin.list_items(STORES)}
        assert items["London"]["Manager"] == "Zed" and items["London"]["Size"] == 121
        assert "Leeds2" in items and "Leeds" not in items and items["Cardiff"]["code"] == "ST06"
        flagship = [r["name"] async for r in c.get_list_items(STORES) if r["subsets"]["Flagship"]]
        assert sorted(flagship) == ["Cardiff", "London"]
        # by name: an item with a code is updated through its id (Anaplan refuses a by-name update)
        again = await c.upsert_list_items(STORES, [{"name": "Bristol", "Manager": "Gil"}, {"name": "Perth"}], key="name")
        assert (again.added, again.updated, again.failures) == (1, 1, [])
        assert {i["name"]: i for i in admin.list_items(STORES)}["Bristol"]["Manager"] == "Gil"
        # the same upsert twice changes nothing more (safe to re-run)
        third = await c.upsert_list_items(STORES, Content("name,code\nCardiff,ST06\n"))
        assert (third.added, third.updated) == (0, 1)
        with pytest.raises(AnaplanConfigError, match="does not exist"):
            await c.upsert_list_items(STORES, str(tmp_path / "missing.csv"))  # a str is a path, never content
        with pytest.raises(AnaplanConfigError):
            await c.upsert_list_items(STORES, [{"name": "X"}], key="id")  # type: ignore[arg-type]


async def test_writes_are_split_at_the_per_call_limit_and_sent_concurrently(make_config, anaplan_emulator) -> None:
    admin = anaplan_emulator.admin
    tx(admin, max_list_items_per_call=100_000)  # Anaplan's limit: the emulator refuses more with 400
    items = ({"name": f"N{i:06d}", "code": f"K{i}"} for i in range(250_001))  # a generator: never a list
    async with AnaplanAsyncClient(make_config(max_concurrency=3)) as c:
        admin.reset_counters()
        result = await c.insert_list_items(LARGE_EMPTY, items)
        assert (result.added, result.total, result.calls, result.failures) == (250_001, 250_001, 3, [])
        assert calls(admin, "POST", "/items") == 3
        admin.reset_counters()
        c.max_list_items_per_call = 100_000
        upsert = await c.upsert_list_items(LARGE_EMPTY, ({"name": f"N{i:06d}", "code": f"K{i}"} for i in range(249_999, 250_003)))
        assert (upsert.added, upsert.updated) == (2, 2)
        deleted = await c.delete_list_items(LARGE_EMPTY, ({"code": f"K{i}"} for i in range(250_003)))
        assert deleted.deleted == 250_003 and deleted.calls == 3


LARGE_EMPTY = "101000000901"


@pytest.fixture(autouse=True)
def _empty_list(anaplan_emulator) -> None:
    """An empty list for the volume tests."""
    anaplan_emulator.admin._call("POST", "/transactional/large_list", {"count": 0, "id": LARGE_EMPTY, "name": "Empty"})


async def test_item_over_limit_is_split_by_a_lowered_limit(make_config, anaplan_emulator) -> None:
    """The per-call limit is an attribute: lowered together on both sides, 7 items go in 3 calls."""
    admin = anaplan_emulator.admin
    tx(admin, max_list_items_per_call=3)
    async with AnaplanAsyncClient(make_config()) as c:
        c.max_list_items_per_call = 3
        admin.reset_counters()
        result = await c.insert_list_items(STORES, [{"name": f"S{i}", "code": f"SC{i}"} for i in range(7)])
        assert result.added == 7 and calls(admin, "POST", "/items") == 3
        c.max_list_items_per_call = 4  # over the server's limit: Anaplan's 400 is a specific error
        with pytest.raises(AnaplanBadRequestError, match="Too many list items"):
            await c.insert_list_items(STORES, [{"name": f"T{i}"} for i in range(4)])


async def test_failure_bodies_map_to_specific_errors(make_config, anaplan_emulator) -> None:
    admin = anaplan_emulator.admin
    async with AnaplanAsyncClient(make_config()) as c:
        with pytest.raises(AnaplanNotFoundError, match="101000000777"):
            await c.insert_list_items("101000000777", [{"name": "x"}])
        with pytest.raises(AnaplanBadRequestError, match="contains data"):
            await c.reset_list_index(STORES)
        await c.reset_list_index(LARGE_EMPTY)
        admin.add_fault(method="POST", path_regex=r"/lists/\d+/items$", status=423, count=10)
        with pytest.raises(AnaplanModelLockedError):
            await c.insert_list_items(STORES, [{"name": "Locked"}])
        admin.clear_faults()
        tx(admin, openState="Closed")
        with pytest.raises(AnaplanConflictError, match="closed"):
            await c.get_list_metadata(STORES)
        with pytest.raises(AnaplanConfigError):
            await c.insert_list_items(STORES, {"name": "a dict, not a list"})
        with pytest.raises(AnaplanConfigError):
            await c.insert_list_items("Stores", [{"name": "x"}])


async def test_upsert_after_an_ambiguous_add_looks_again(make_config, anaplan_emulator) -> None:
    """The add's reply is lost after Anaplan applied it: the batch is looked up again and nothing is
    added twice (the request is never re-sent blindly)."""
    admin = anaplan_emulator.admin
    admin.add_fault(method="POST", path_regex=r"/lists/\d+/items$", status=503, when="after", count=1)
    async with AnaplanAsyncClient(make_config()) as c:
        result = await c.upsert_list_items(STORES, [{"name": "Oslo", "code": "ST20"}])
        assert result.failures == [] and result.updated == 1
    assert [i["name"] for i in admin.list_items(STORES)].count("Oslo") == 1


async def test_dataframes_in_and_out(make_config, anaplan_emulator) -> None:
    pl = pytest.importorskip("polars")
    async with AnaplanAsyncClient(make_config()) as c:
        frame = pl.DataFrame({"name": ["Rome", "Nice"], "code": ["ST30", "ST31"], "Size": [10, None]})
        result = await c.upsert_list_items(STORES, frame)
        assert result.added == 2
        out = await c.get_list_items_frame(STORES)
        assert "Rome" in out["name"].to_list() and "Manager" in out.columns


async def test_csv_source_with_blank_and_ragged_rows(make_config, anaplan_emulator) -> None:
    """CSV rows are read like csv.DictReader: blank lines skipped, extra fields dropped, missing ones empty."""
    admin = anaplan_emulator.admin
    source = Content("name,code,Manager\n\nRagged1,RG1,Ann,extra\nRagged2,RG2\n")
    async with AnaplanAsyncClient(make_config()) as c:
        result = await c.insert_list_items(STORES, source)
    assert (result.added, result.failures) == (2, [])
    items = {i["name"]: i for i in admin.list_items(STORES)}
    assert items["Ragged1"]["code"] == "RG1" and items["Ragged1"]["Manager"] == "Ann"
    assert items["Ragged2"]["code"] == "RG2" and items["Ragged2"]["Manager"] == ""


async def test_upsert_auto_mixes_codes_and_names_and_refuses_a_missing_key(make_config, anaplan_emulator) -> None:
    admin = anaplan_emulator.admin
    async with AnaplanAsyncClient(make_config()) as c:
        items = [
            {"name": "London", "code": "ST01", "Manager": "Kim"},  # by code: updated
            {"name": "Hove"},  # no code, new name: added
            {"name": "Hove2", "code": "HV2"},  # new code: added
        ]
        result = await c.upsert_list_items(STORES, items)
        assert (result.added, result.updated, result.failures) == (2, 1, [])
        again = await c.upsert_list_items(STORES, [{"name": "HOVE", "Manager": "Lu"}])  # by name, case-insensitive
        assert (again.added, again.updated, again.failures) == (0, 1, [])
        by_name = {i["name"]: i for i in admin.list_items(STORES)}
        assert by_name["London"]["Manager"] == "Kim" and by_name["Hove"]["Manager"] == "Lu" and "HOVE" not in by_name
        with pytest.raises(AnaplanConfigError, match="item 1 has no code"):
            await c.upsert_list_items(STORES, [{"name": "A", "code": "A1"}, {"name": "B"}], key="code")
