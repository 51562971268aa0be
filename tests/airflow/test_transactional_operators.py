"""Transactional hook methods and operators over real HTTP (emulator), sync and deferred."""

from __future__ import annotations

import asyncio
import csv
import inspect
import io
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_anaplan.client.bulk import AnaplanAsyncClient
from airflow_provider_anaplan.client.transactional import TRANSACTIONAL_METHODS, TransactionalMixin
from airflow_provider_anaplan.compat import TaskDeferred
from airflow_provider_anaplan.exceptions import (
    AnaplanConfigError,
    AnaplanTaskTimeoutError,
    AnaplanWriteFailuresError,
)
from airflow_provider_anaplan.hooks.anaplan import (
    DELEGATED_METHODS,
    DELEGATED_STREAMS,
    AnaplanAsyncHook,
    AnaplanHook,
)
from airflow_provider_anaplan.operators.cells import AnaplanWriteCellsOperator
from airflow_provider_anaplan.operators.jobs import JOB_STATE_KEY
from airflow_provider_anaplan.operators.lists import AnaplanListItemsOperator, AnaplanReadListOperator
from airflow_provider_anaplan.operators.model import AnaplanCloseModelOperator, AnaplanWakeModelOperator
from airflow_provider_anaplan.operators.views import AnaplanReadViewOperator
from airflow_provider_anaplan.sensors.model import AnaplanModelSensor
from airflow_provider_anaplan.triggers.task import AnaplanTaskTrigger

STORES, REVENUE, BY_VERSION, BUDGET_GRID, BIG = "101000000004", "102000000001", "203000000001", "203000000002", "102000000900"


def tx(admin: Any, **settings: Any) -> dict[str, Any]:
    return admin._call("POST", "/transactional", settings)


def live_requests(admin: Any) -> list[dict[str, Any]]:
    return admin._call("GET", "/transactional")["readRequests"]


def run_trigger(trigger: AnaplanTaskTrigger) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(run())


# ------------------------------------------------------------------------------------------ hooks
def _members(cls: type) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        merged.update(vars(klass))
    return merged


@pytest.mark.parametrize("name", TRANSACTIONAL_METHODS)
def test_each_transactional_client_method_has_typed_hook_twins(name: str) -> None:
    client_fn = getattr(TransactionalMixin, name)
    assert name in _members(AnaplanAsyncClient)
    async_fn, sync_fn = _members(AnaplanAsyncHook)[name], _members(AnaplanHook)[name]
    assert inspect.signature(async_fn) == inspect.signature(client_fn)
    assert inspect.isasyncgenfunction(async_fn) == inspect.isasyncgenfunction(client_fn)
    client_sig = inspect.signature(client_fn)
    assert inspect.signature(sync_fn).parameters == client_sig.parameters
    assert inspect.signature(sync_fn).return_annotation == str(client_sig.return_annotation).replace("AsyncIterator[", "Iterator[")
    assert async_fn.__doc__ and sync_fn.__doc__
    assert name in (DELEGATED_STREAMS if inspect.isasyncgenfunction(client_fn) else DELEGATED_METHODS)


def test_hooks_read_write_and_report_lineage(emulator: Any, airflow_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[list[Any], list[Any]]] = []
    monkeypatch.setattr("airflow_provider_anaplan.hooks.lineage.record", lambda hook, i, o: seen.append((list(i), list(o))))
    source = tmp_path / "stores.csv"
    source.write_text("name,code\nOslo,ST40\n")
    with AnaplanHook() as hook:
        assert hook.upsert_list_items(STORES, str(source)).added == 1  # a str is a path
        assert seen[-1][0][0].endswith("stores.csv") and seen[-1][1][0].startswith("anaplan://")
        rows = list(hook.get_list_items(STORES))
        assert "Oslo" in {r["name"] for r in rows}
        result = hook.download_large_list(STORES, f"file://{tmp_path}/stores_out.csv")
        assert result.pages == 1 and "Oslo" in (tmp_path / "stores_out.csv").read_text()
        assert seen[-1][0][0].startswith("anaplan://") and seen[-1][1][0].endswith("stores_out.csv")

    async def main() -> None:
        hook = AnaplanAsyncHook()
        try:
            data = await hook.get_view_data(BUDGET_GRID)
            assert data["pages"] == ["Budget"]
            chunks = [c async for c in hook.iter_large_view(BY_VERSION)]
            assert b"".join(chunks).startswith(b"Product,Version")
        finally:
            await hook.aclose()

    asyncio.run(main())
    assert live_requests(emulator.admin) == []


# -------------------------------------------------------------------------------------- operators
def test_list_items_operator_failures_file_and_fail_on_failures(emulator: Any, make_context: Any, tmp_path: Path) -> None:
    items = [{"name": "Turin", "code": "ST50"}, {"name": "Pisa", "code": "ST51", "Size": "huge"}]
    op = AnaplanListItemsOperator(task_id="stores", list_id=STORES, source=items, action="add", dump_dir=str(tmp_path))
    with pytest.raises(AnaplanWriteFailuresError, match="1 failure") as info:
        op.execute(make_context())
    path = Path(info.value.result["failures_file"])
    assert path.parent == tmp_path and path.is_file()
    row = next(csv.DictReader(io.StringIO(path.read_text())))
    assert row["index"] == "1" and row["failure_type"] == "INCORRECT_FORMAT" and "Pisa" in row["item"]
    assert "Turin" in {i["name"] for i in emulator.admin.list_items(STORES)}  # the accepted item was written
    lenient = AnaplanListItemsOperator(
        task_id="stores", list_id=STORES, source=items, action="upsert", fail_on_failures=False, dump_dir=str(tmp_path)
    )
    summary = lenient.execute(make_context())
    assert (summary["updated"], summary["failure_count"], summary["calls"]) == (1, 1, 2)
    deleted = AnaplanListItemsOperator(task_id="d", list_id=STORES, source=[{"code": "ST50"}], action="delete").execute(make_context())
    assert deleted["deleted"] == 1 and deleted["failures_file"] is None
    with pytest.raises(AnaplanConfigError):
        AnaplanListItemsOperator(task_id="x", list_id=STORES, source=items, action="merge")
    static = AnaplanListItemsOperator(
        task_id="s", list_id=STORES, source=items, workspace_id=emulator.workspace_id, model_id=emulator.model_id
    )
    assert [a.uri for a in static.outlets] == [f"anaplan://{emulator.workspace_id}/{emulator.model_id}"]


def test_write_cells_operator(emulator: Any, make_context: Any, tmp_path: Path) -> None:
    source = tmp_path / "cells.csv"
    source.write_text("Product,Month,Version,value\nP003,Mar 26,Forecast,77\nP003,Apr 26,Nope,1\n")
    op = AnaplanWriteCellsOperator(
        task_id="cells", module_id=REVENUE, cells=str(source), line_item="Revenue", fail_on_failures=False, dump_dir=str(tmp_path)
    )
    result = op.execute(make_context())
    assert (result["changed"], result["failure_count"]) == (1, 1) and Path(result["failures_file"]).is_file()
    values = {(c["Product"], c["Month"], c["Version"]): c["value"] for c in emulator.admin.module_cells(REVENUE)}
    assert values[("P003", "Mar 26", "Forecast")] == 77


def test_read_view_plain_auto_and_large_sync(emulator: Any, make_context: Any, tmp_path: Path) -> None:
    admin = emulator.admin
    plain = AnaplanReadViewOperator(task_id="v", view_id=BUDGET_GRID, destination=str(tmp_path / "grid.csv"), deferrable=False)
    result = plain.execute(make_context())
    assert result["mode"] == "plain" and (tmp_path / "grid.csv").read_text().startswith("Budget\n")
    admin._call("POST", "/transactional/large_view", {"rows": 1_001, "columns": 1_000})
    tx(admin, read_request_page_cells=200_000)
    auto = AnaplanReadViewOperator(task_id="v", view_id=BIG, destination=f"file://{tmp_path}/big.csv", deferrable=False, poll_interval=0.1)
    result = auto.execute(make_context())
    assert result["mode"] == "large" and result["pages"] == 6
    assert len((tmp_path / "big.csv").read_text().splitlines()) == 1_002 and live_requests(admin) == []
    lst = AnaplanReadListOperator(task_id="l", list_id=STORES, destination=str(tmp_path / "stores.csv"), deferrable=False, poll_interval=0.1)
    assert lst.execute(make_context())["bytes"] == (tmp_path / "stores.csv").stat().st_size


def test_large_read_defers_through_the_trigger_and_deletes_the_request(emulator: Any, make_context: Any, tmp_path: Path) -> None:
    admin = emulator.admin
    tx(admin, read_request_start_seconds=0.5)
    ctx = make_context()
    op = AnaplanReadViewOperator(
        task_id="v", view_id=BY_VERSION, destination=str(tmp_path / "out.csv"), large=True, deferrable=True, poll_interval=0.1
    )
    with pytest.raises(TaskDeferred) as info:
        op.execute(ctx)
    trigger = info.value.trigger
    assert isinstance(trigger, AnaplanTaskTrigger) and trigger.kind.value == "read_request"
    assert ctx["task_state_store"].get(JOB_STATE_KEY)["job"] == trigger.job
    assert len(live_requests(admin)) == 1  # kept while deferred
    events = run_trigger(trigger)
    assert [e["status"] for e in events] == ["success"] and events[0]["kind"] == "read_request"
    fresh = AnaplanReadViewOperator(task_id="v", view_id=BY_VERSION, destination=str(tmp_path / "out.csv"), large=True)
    result = fresh.execute_complete(ctx, events[0])  # a fresh operator: nothing kept on self
    assert result["request_id"] == trigger.job["request_id"] and (tmp_path / "out.csv").read_text().startswith("Product,")
    assert live_requests(admin) == [] and ctx["task_state_store"].get(JOB_STATE_KEY) is None


def test_killed_or_timed_out_large_read_deletes_the_request(emulator: Any, make_context: Any, tmp_path: Path) -> None:
    admin = emulator.admin
    tx(admin, read_request_start_seconds=60)
    op = AnaplanReadViewOperator(task_id="v", view_id=BY_VERSION, destination=str(tmp_path / "k.csv"), large=True, deferrable=True)
    with pytest.raises(TaskDeferred):
        op.execute(make_context())
    assert len(live_requests(admin)) == 1
    op.on_kill()  # the user marked the task failed while deferred
    assert live_requests(admin) == [] and not (tmp_path / "k.csv").exists()
    slow = AnaplanReadViewOperator(
        task_id="v", view_id=BY_VERSION, destination=str(tmp_path / "t.csv"), large=True, deferrable=False, poll_interval=0.1, timeout=0.5
    )
    with pytest.raises(AnaplanTaskTimeoutError):
        slow.execute(make_context())
    assert live_requests(admin) == []


def test_model_operators_and_sensor(emulator: Any, make_context: Any) -> None:
    admin = emulator.admin
    woke = AnaplanWakeModelOperator(task_id="wake", deferrable=False, poll_interval=0.1).execute(make_context())
    assert woke == {"model_id": emulator.model_id, "state": "open", "woken": False}
    sensor = AnaplanModelSensor(task_id="open", deferrable=True, poke_interval=0.1, timeout=5)
    assert sensor.execute(make_context()) is None  # open: no deferral
    trigger = AnaplanTaskTrigger(anaplan_conn_id="anaplan_default", kind="model_open", job={}, poll_interval=0.1)
    event = run_trigger(trigger)[0]
    assert event["status"] == "success" and sensor.execute_complete(make_context(), event)["state"] == "COMPLETE"
    assert AnaplanCloseModelOperator(task_id="close").execute(make_context())["closed"] is True
    assert admin._call("GET", "/transactional")["openState"] == "Closed"
    tx(admin, openState="Open")
