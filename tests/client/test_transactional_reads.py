"""View reads, large-volume read requests, cell writes and the model lifecycle over real HTTP."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import pytest

from airflow_provider_anaplan.client import AnaplanAsyncClient, AnaplanClient, TaskState
from airflow_provider_anaplan.client.jobs import JobKind
from airflow_provider_anaplan.exceptions import (
    AnaplanBadRequestError,
    AnaplanConfigError,
    AnaplanModelClosedError,
    AnaplanNotFoundError,
    AnaplanReadRequestError,
    AnaplanServerError,
    AnaplanTaskTimeoutError,
    AnaplanViewTooLargeError,
)

REVENUE = "102000000001"
BY_VERSION = "203000000001"  # rows Product x Version, columns Month
BUDGET_GRID = "203000000002"  # rows Product (P001-P004), columns Month, page Version (default Budget)
STORES = "101000000004"
BIG = "102000000900"


def calls(admin: Any, method: str, suffix: str) -> int:
    return sum(n for k, n in admin.counters()["requests"].items() if k.startswith(method + " ") and k.endswith(suffix))


def tx(admin: Any, **settings: Any) -> dict[str, Any]:
    return admin._call("POST", "/transactional", settings)


def live_requests(admin: Any) -> list[dict[str, Any]]:
    return admin._call("GET", "/transactional")["readRequests"]


def big_view(admin: Any, rows: int, columns: int, pages: int = 1) -> dict[str, Any]:
    return admin._call("POST", "/transactional/large_view", {"rows": rows, "columns": columns, "pages": pages})


async def test_view_data_json_csv_rows_and_pages(make_config, anaplan_emulator) -> None:
    async with AnaplanAsyncClient(make_config()) as c:
        data = await c.get_view_data(BUDGET_GRID)
        assert data["pages"] == ["Budget"] and len(data["rows"]) == 4 and len(data["columnCoordinates"]) == 12
        versions = {i["name"]: i["id"] for i in await c.get_dimension_items("101000000002")}
        actual = await c.get_view_data(BUDGET_GRID, pages={"101000000002": versions["Actual"]})
        assert actual["pages"] == ["Actual"]
        text = (await c.get_view_data(BY_VERSION, format="csv")).decode()
        assert text.splitlines()[0].startswith(",,Jan 26") and text.count("\n") == 1 + 5 * 3
        rows = [r async for r in c.iter_view_rows(BUDGET_GRID, rows=["P002"], columns=["Jan 26", "Feb 26"])]
        assert rows == [{"Version": "Budget", "Product": "P002", "Jan 26": "0", "Feb 26": "0"}]
        assert await c.count_view_cells(BY_VERSION) == len(await c.get_dimension_items("101000000001")) * 3 * 12
        with pytest.raises(AnaplanConfigError):
            await c.get_view_data(BUDGET_GRID, pages=["101000000002"])


async def test_plain_read_over_the_cell_limit_is_a_specific_error(make_config, anaplan_emulator) -> None:
    big_view(anaplan_emulator.admin, 1_001, 1_000)
    async with AnaplanAsyncClient(make_config()) as c:
        assert await c.count_view_cells(BIG) == 1_001_000
        with pytest.raises(AnaplanViewTooLargeError, match="large-volume"):
            await c.get_view_data(BIG)


async def test_cell_writes_batched_under_both_limits(make_config, anaplan_emulator) -> None:
    admin = anaplan_emulator.admin
    products = [f"P{i:03d}" for i in range(1, 6)]
    months = ["Jan 26", "Feb 26", "Mar 26"]
    cells = [
        {"line_item": "Revenue", "Product": p, "Month": m, "Version": "Budget", "value": n}
        for n, (p, m) in enumerate((p, m) for p in products for m in months)
    ]
    async with AnaplanAsyncClient(make_config(max_concurrency=2)) as c:
        c.max_cells_per_call = 4
        admin.reset_counters()
        result = await c.update_module_data(REVENUE, iter(cells))
        assert (result.changed, result.total, result.calls, result.failures) == (15, 15, 4, [])
        assert calls(admin, "POST", "/data") == 4
        c.max_cells_per_call, c.max_cell_bytes_per_call = 100_000, 400  # ~130 bytes a cell: 2 a call
        admin.reset_counters()
        again = await c.update_module_data(REVENUE, cells[:5])
        assert again.calls == 3 and calls(admin, "POST", "/data") == 3
        written = {(x["Product"], x["Month"], x["Version"]): x["value"] for x in admin.module_cells(REVENUE)}
        assert written[("P005", "Mar 26", "Budget")] == 14
        bad = await c.update_module_data(
            REVENUE,
            [
                {"Product": "P001", "Month": "Jan 26", "Version": "Budget", "value": "lots"},
                {"Product": "P999", "Month": "Jan 26", "Version": "Budget", "value": 1},
                {"lineItemName": "Revenue", "dimensions": [{"dimensionName": "Product", "itemName": "P001"}], "value": 2},
            ],
            line_item="Revenue",
        )
        assert [(f.index, f.failure_type) for f in bad.failures] == [
            (0, "INVALID_VALUE"), (1, "INVALID_ITEM"), (2, "MISSING_DIMENSION")
        ]
        assert bad.failures[1].cell["dimensions"][0] == {"dimensionName": "Product", "itemName": "P999"}
        with pytest.raises(AnaplanConfigError, match="no value"):
            await c.update_module_data(REVENUE, [{"line_item": "Revenue", "Product": "P001"}])
        with pytest.raises(AnaplanConfigError, match="names no line item"):
            await c.update_module_data(REVENUE, [{"Product": "P001", "value": 1}])
        c.max_cell_bytes_per_call = 15 * 1024 * 1024
        tx(admin, max_cells_per_call=2)  # the server's limit below ours: Anaplan's 400 is raised
        with pytest.raises(AnaplanBadRequestError, match="Too many cells"):
            await c.update_module_data(REVENUE, cells[:3])


async def test_large_view_read_streams_pages_and_always_deletes(make_config, anaplan_emulator, tmp_path) -> None:
    admin = anaplan_emulator.admin
    big_view(admin, 3_000, 100)  # 300,000 cells
    tx(admin, read_request_page_cells=10_000, read_request_pages_per_second=50)  # 30 pages, ~0.6 s
    async with AnaplanAsyncClient(make_config(max_concurrency=4)) as c:
        admin.reset_counters()
        result = await c.download_large_view(BIG, tmp_path / "big.csv")
        lines = (tmp_path / "big.csv").read_text().splitlines()
        assert result.pages == 30 and len(lines) == 3_001 and lines[0].startswith("Row,C00001")
        assert lines[1].split(",")[0] == "R0000001" and lines[-1].split(",")[0] == "R0003000"
        assert result.bytes == (tmp_path / "big.csv").stat().st_size
        assert calls(admin, "GET", "/pages/{pageNo}") == 30 and calls(admin, "DELETE", "/readRequests/{requestId}") == 1
        assert live_requests(admin) == []
        # a list, as an iterator, header once
        text = b"".join([b async for b in c.iter_large_list(STORES)]).decode()
        assert [r["name"] for r in csv.DictReader(io.StringIO(text))] == ["London", "Leeds", "Bristol"]
        assert live_requests(admin) == []


async def test_read_request_deleted_on_failure_and_on_cancel(make_config, anaplan_emulator, tmp_path) -> None:
    admin = anaplan_emulator.admin
    big_view(admin, 2_000, 100)
    tx(admin, read_request_page_cells=10_000, read_request_pages_per_second=20)
    async with AnaplanAsyncClient(make_config()) as c:
        admin.add_fault(method="GET", path_regex="/pages/3$", status=500, count=50)
        with pytest.raises(AnaplanServerError):
            await c.download_large_view(BIG, tmp_path / "x.csv")
        assert live_requests(admin) == [] and not (tmp_path / "x.csv").exists()
        assert not list(tmp_path.iterdir())  # no partial file left
        admin.clear_faults()
        # cancelled by the caller while pages stream (a task kill): still deleted
        task = asyncio.ensure_future(c.download_large_view(BIG, tmp_path / "y.csv"))
        await asyncio.sleep(0.3)
        assert len(live_requests(admin)) == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.2)
        assert live_requests(admin) == []
        # an iterator closed early: deleted too
        stream = c.iter_large_view(BIG)
        assert (await anext(stream)).startswith(b"Row,")
        await stream.aclose()
        assert live_requests(admin) == []
        with pytest.raises(AnaplanTaskTimeoutError):
            await c.download_large_view(BIG, tmp_path / "z.csv", timeout=0.2)
        assert live_requests(admin) == []


async def test_read_request_job_status_and_outcome_rule(make_config, anaplan_emulator) -> None:
    admin = anaplan_emulator.admin
    tx(admin, read_request_start_seconds=0.3)
    async with AnaplanAsyncClient(make_config()) as c:
        rid = await c.start_read_request("views", BY_VERSION)
        first = await c.get_job_status(JobKind.READ_REQUEST, {"source": "views", "object_id": BY_VERSION, "request_id": rid})
        assert first.state is TaskState.NOT_STARTED and not first.outcome.is_terminal
        await asyncio.sleep(0.5)
        done = await c.get_read_request_status("views", BY_VERSION, rid)
        assert done.is_success and done.raw["availablePages"] == 1
        page = await c.get_read_request_page("views", BY_VERSION, rid, 0)
        assert page.startswith(b"Product,Version,Jan 26")
        assert await c.cancel_job("read_request", {"source": "views", "object_id": BY_VERSION, "request_id": rid})
        with pytest.raises(AnaplanNotFoundError):
            await c.get_read_request_status("views", BY_VERSION, rid)
        await c.delete_read_request("views", BY_VERSION, rid)  # already gone: not an error
        with pytest.raises(AnaplanConfigError):
            await c.start_read_request("views", BY_VERSION, "SIDEWAYS")
        with pytest.raises(AnaplanConfigError):
            await c.start_read_request("modules", BY_VERSION)
    # a request that completes without successful: true is a failure, and it is still deleted
    from airflow_provider_anaplan.client.transactional_reads import read_request_status

    failed = read_request_status("views", "1", {"viewReadRequest": {"requestId": "R", "requestState": "COMPLETE", "successful": False}})
    assert not failed.is_success and failed.outcome.is_terminal
    no_verdict = read_request_status("lists", "1", {"listReadRequest": {"requestId": "R", "requestState": "COMPLETE"}})
    assert no_verdict.no_verdict and not no_verdict.is_success
    cancelled = read_request_status("views", "1", {"viewReadRequest": {"requestState": "CANCELLED"}})
    assert cancelled.outcome.value == "cancelled"
    async with AnaplanAsyncClient(make_config()) as c:
        async def failed_status(*_: Any) -> Any:  # Anaplan's answer for a failed export (no fault can make it)
            return failed

        c.get_read_request_status = failed_status  # type: ignore[method-assign]
        with pytest.raises(AnaplanReadRequestError, match="not successful"):
            await c.download_large_view(BY_VERSION, "/tmp/never-written.csv")
        assert live_requests(admin) == []


def test_model_close_and_wake_sync_face(make_config, anaplan_emulator) -> None:
    admin = anaplan_emulator.admin
    tx(admin, open_seconds=0.4)
    with AnaplanClient(make_config()) as c:
        assert c.get_model_open_status().is_success
        c.close_model()
        closed = c.get_model_open_status()
        assert closed.state is TaskState.NOT_STARTED and closed.current_step == "Closed"
        status = c.wake_model(timeout=10)
        assert status.is_success and admin._call("GET", "/transactional")["openState"] == "Open"
        c.close_model()
        with pytest.raises(AnaplanModelClosedError, match="not open after"):
            c.wake_model(timeout=0.15)
