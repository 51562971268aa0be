"""Tasks, statuses and failure dumps against the emulator."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from airflow_provider_anaplan.client import AnaplanAsyncClient, TaskState, TaskStatus
from airflow_provider_anaplan.exceptions import (
    AnaplanConfigError,
    AnaplanTaskCancelledError,
    AnaplanTaskFailedError,
    AnaplanTaskTimeoutError,
)

PRODUCTS_OK = b"Product,Category,Discontinued\nP100,Tools,false\nP101,Tools,true\n"
PRODUCTS_BAD = b"Product,Category,Discontinued\nP100,Tools,false\nP102,Tools,maybe\nP103,Tools,perhaps\n"
REVENUE = b"Product,Month,Revenue\nP001,Jan 26,100\nP002,Feb 26,250.5\n"


def test_task_status_parsing_is_tolerant() -> None:
    payload = {
        "task": {
            "taskId": "ABC",
            "taskState": "SOMETHING_NEW",
            "progress": "n/a",
            "newField": {"x": 1},
            "result": {
                "successful": True,
                "objectId": "118000000000",
                "failureDumpAvailable": True,
                "nestedResults": [
                    {
                        "objectId": "112000000000",
                        "successful": True,
                        "failureDumpAvailable": False,
                        "details": [
                            {
                                "localMessageText": "Products: 90 (0/90) rows successful, 5 ignored",
                                "values": ["successRowCount", "90", "failedCount", "0", "ignoredCount", "5"],
                            }
                        ],
                    },
                    {
                        "objectId": "112000000001",
                        "successful": False,
                        "failureDumpAvailable": True,
                        "details": [{"values": ["successRowCount", "10", "failedCount", "2", "junk"]}],
                    },
                ],
            },
        }
    }
    status = TaskStatus.from_api("118000000000", payload)
    assert status.state is TaskState.UNKNOWN and not status.is_terminal and status.progress == 0.0
    assert status.counts.to_dict() == {"successful": 100, "failed": 2, "ignored": 5}
    data = status.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["nested"][1] == {
        "object_id": "112000000001",
        "successful": False,
        "failure_dump_available": True,
        "rows": {"successful": 10, "failed": 2},
    }
    assert TaskState("cancelled") is TaskState.CANCELLED
    assert TaskState.terminal() == {TaskState.COMPLETE, TaskState.CANCELLED}
    assert TaskStatus.from_api("112000000000", {}).state is TaskState.UNKNOWN


async def test_import_success_with_counts(make_config, anaplan_emulator) -> None:
    async with AnaplanAsyncClient(make_config()) as client:
        status = await client.upload_and_import(113000000000, PRODUCTS_OK, 112000000000)
    assert status.is_success and status.counts.successful == 2
    names = {i["name"] for i in anaplan_emulator.admin.list_items("101000000001")}
    assert {"P100", "P101"} <= names


async def test_mapping_parameters_localename_first(make_config, anaplan_emulator) -> None:
    async with AnaplanAsyncClient(make_config()) as client:
        await client.upload_file(113000000001, REVENUE)
        with pytest.raises(AnaplanTaskFailedError, match="Mapping parameter 'Version' is required"):
            await client.run_action(112000000002)
        status = await client.run_action(112000000002, mapping_parameters={"Version": "Budget"})
        assert status.is_success  # type: ignore[union-attr]
        status = await client.run_action(
            112000000002, mapping_parameters=[{"entityType": "Version", "entityName": "Forecast"}]
        )
        assert status.is_success  # type: ignore[union-attr]
        with pytest.raises(AnaplanConfigError, match="mapping_parameters entries must be"):
            await client.run_action(112000000002, mapping_parameters=[{"Version": "Budget"}])
        with pytest.raises(AnaplanConfigError, match="mapping_parameters must be a dict"):
            await client.run_action(112000000002, mapping_parameters="Version=Budget")  # type: ignore[arg-type]
    versions = {
        c["Version"] for c in anaplan_emulator.admin.module_cells("102000000001") if c["Product"] == "P002"
    }
    assert {"Budget", "Forecast"} <= versions


async def test_failed_import_raises_and_dumps_are_downloaded(
    make_config, anaplan_emulator, tmp_path: Path
) -> None:
    async with AnaplanAsyncClient(make_config()) as client:
        with pytest.raises(AnaplanTaskFailedError) as info:
            await client.upload_and_import(113000000000, PRODUCTS_BAD, 112000000000)
        status = info.value.status
        assert status is not None and status.failure_dump_available and status.successful is False
        assert "NOT successful" in str(info.value) and "rows failed" in str(info.value)
        dump = b"".join([c async for c in client.get_import_dump_stream(112000000000, status.task_id)])
        assert b"P102" in dump and b"P103" in dump
        paths = await client.download_failure_dumps(112000000000, status, tmp_path / "dumps")
        assert [Path(p).read_bytes() for p in paths] == [dump]  # noqa: ASYNC240
        # The event dict of a trigger works as well.
        again = await client.download_failure_dumps(112000000000, status.to_dict(), tmp_path / "dumps2")
        assert len(again) == 1


async def test_process_dumps_walk_nested_results(make_config, anaplan_emulator, tmp_path: Path) -> None:
    async with AnaplanAsyncClient(make_config()) as client:
        await client.upload_file(113000000000, PRODUCTS_BAD)
        await client.upload_file(113000000001, REVENUE)
        status = await client.run_action(118000000000, raise_on_failure=False)
        assert isinstance(status, TaskStatus) and status.is_failure
        paths = await client.download_failure_dumps(118000000000, status, tmp_path)
    assert [Path(p).name for p in paths] == [f"118000000000_{status.task_id}_112000000000_dump.csv"]
    assert b"P102" in Path(paths[0]).read_bytes()  # noqa: ASYNC240


async def test_vanished_dump_is_a_warning(make_config, anaplan_emulator, tmp_path: Path, caplog) -> None:
    async with AnaplanAsyncClient(make_config()) as client:
        status = await client.upload_and_import(
            113000000000, PRODUCTS_BAD, 112000000000, raise_on_failure=False
        )
        await client.run_action(112000000000, raise_on_failure=False)  # a newer task replaces the dump
        with caplog.at_level(logging.WARNING, logger="airflow_provider_anaplan.client"):
            paths = await client.download_failure_dumps(112000000000, status, tmp_path)
    assert paths == [] and "no longer available" in caplog.text


async def test_wait_timeout_and_cancel(make_config, anaplan_emulator) -> None:
    anaplan_emulator.admin.configure(min_task_seconds=5.0)
    async with AnaplanAsyncClient(make_config()) as client:
        task_id = await client.start_task(116000000000)
        with pytest.raises(
            AnaplanTaskTimeoutError, match=r"still (NOT_STARTED|IN_PROGRESS) after 0.3 s"
        ) as info:
            await client.wait_for_task(116000000000, task_id, poll_interval=0.1, timeout=0.3)
        assert info.value.status is not None and info.value.status.task_id == task_id
        await client.cancel_task(116000000000, task_id)
        with pytest.raises(AnaplanTaskCancelledError):
            await client.wait_for_task(116000000000, task_id, poll_interval=0.1)
        tasks = await client.list_tasks(116000000000)
    assert [t["taskId"] for t in tasks] == [task_id]


async def test_run_action_without_wait_and_export_download(
    make_config, anaplan_emulator, tmp_path: Path, caplog
) -> None:
    async with AnaplanAsyncClient(make_config()) as client:
        task_id = await client.run_action(117000000000, wait=False)
        assert isinstance(task_id, str)
        assert (await client.wait_for_task(117000000000, task_id)).is_success
        data = await client.export_and_download(116000000001)
        assert isinstance(data, bytes) and data.startswith(b"Product,Category,Discontinued\n")
        written = await client.export_and_download(116000000001, tmp_path / "products.csv")
        assert written == len(data) and (tmp_path / "products.csv").read_bytes() == data
        with caplog.at_level(logging.WARNING, logger="airflow_provider_anaplan.client"):
            await client.export_and_download(116000000000)  # Revenue holds no Actual cells yet
    assert "only a header row" in caplog.text or "empty file" in caplog.text


async def test_bad_task_arguments(make_config, anaplan_emulator) -> None:
    async with AnaplanAsyncClient(make_config()) as client:
        with pytest.raises(AnaplanConfigError, match="action_id 113000000000 is a file id"):
            await client.start_task(113000000000)
        with pytest.raises(AnaplanConfigError, match="locale must be a locale name"):
            await client.start_task(112000000000, locale="")
        with pytest.raises(AnaplanConfigError, match="poll_interval must be >= 0.1 seconds"):
            await client.wait_for_task(112000000000, "ABC", poll_interval=0)
        with pytest.raises(AnaplanConfigError, match="task_id must be an Anaplan task id"):
            await client.get_task_status(112000000000, "../../etc")
