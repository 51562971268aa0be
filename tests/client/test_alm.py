"""ALM client (revisions, sync tasks, reports, online status) over real HTTP against the emulator."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_anaplan.client import (
    AnaplanAsyncClient,
    AnaplanClient,
    ClientConfig,
    TaskState,
    TaskStatus,
)
from airflow_provider_anaplan.client.jobs import JobKind
from airflow_provider_anaplan.exceptions import (
    AnaplanBadRequestError,
    AnaplanConfigError,
    AnaplanModelLockedError,
    AnaplanNothingToSyncError,
    AnaplanTaskFailedError,
    AnaplanTaskStartUnknownError,
    AnaplanTaskTimeoutError,
)
from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle

DEV = "75A40874E6B64FA3AE0B4E5D5B4B9A0B"
PROD = "D3A1B5C7E9F24680ACE13579BDF02468"
SEED_REVISION = "0A1A0000000000000000000000000001"
REVENUE = "102000000001"


def add_line_item(emulator: EmulatorHandle, name: str = "Margin", model: str = DEV) -> None:
    emulator.admin._call(
        "POST",
        "/alm/structure",
        {"lineItem": {"module": REVENUE, "name": name, "dataType": "number"}},
        {"model": model},
    )


def structure(emulator: EmulatorHandle, model: str) -> dict[str, Any]:
    return emulator.admin._call("GET", "/alm/structure", params={"model": model})


@pytest.fixture
def alm(anaplan_emulator: EmulatorHandle, make_config: Callable[..., ClientConfig]) -> ClientConfig:
    anaplan_emulator.admin._call("POST", "/alm/config", {"sync_seconds": 0.3, "report_seconds": 0.2})
    return make_config(model_id=PROD)


def test_revisions_of_the_seed_and_a_new_one(anaplan_emulator: EmulatorHandle, alm: ClientConfig) -> None:
    with AnaplanClient(alm) as client:
        latest = client.get_latest_revision()
        assert latest is not None and latest["id"] == SEED_REVISION
        assert [m["modelId"] for m in client.get_applied_to_models(SEED_REVISION)][:1] == [DEV]
        assert client.get_syncable_revisions(DEV) == []  # nothing new in development yet
        with pytest.raises(AnaplanBadRequestError, match="no structural changes"):
            client.create_revision("Nothing changed", model_id=DEV)
        add_line_item(anaplan_emulator)
        revision = client.create_revision("Release 2", "adds Margin", model_id=DEV)
        assert revision["name"] == "Release 2" and len(revision["id"]) == 32
        assert client.get_latest_revision(DEV)["id"] == revision["id"]
        assert [r["id"] for r in client.get_revisions(DEV)][-1] == revision["id"]
        assert [r["id"] for r in client.get_syncable_revisions(DEV)] == [revision["id"]]
    with pytest.raises(AnaplanConfigError, match="1 to 60"):
        AnaplanClient(alm).create_revision("x" * 61)


def test_sync_models_applies_the_structure_and_waits(
    anaplan_emulator: EmulatorHandle, alm: ClientConfig
) -> None:
    add_line_item(anaplan_emulator, "Margin")
    with AnaplanClient(alm) as client:
        revision = client.create_revision("Release 2", model_id=DEV)
        assert "Margin" not in str(structure(anaplan_emulator, PROD))
        status = client.sync_models(DEV)
        assert isinstance(status, TaskStatus) and status.is_success and status.action_id == PROD
        assert "Margin" in str(structure(anaplan_emulator, PROD))  # the target's structure really changed
        assert client.get_latest_revision()["id"] == revision["id"]
        assert client.get_syncable_revisions(DEV) == []
        tasks = client.get_sync_tasks()
        assert [t["taskId"] for t in tasks] == [status.task_id]
        assert client.get_job_status(JobKind.ALM_SYNC.value, {"task_id": status.task_id}).is_success
        with pytest.raises(AnaplanNothingToSyncError, match="Nothing to sync"):
            client.sync_models(DEV)


def test_start_sync_without_waiting_then_poll(anaplan_emulator: EmulatorHandle, alm: ClientConfig) -> None:
    add_line_item(anaplan_emulator)

    async def main() -> TaskStatus:
        async with AnaplanAsyncClient(alm) as client:
            revision = await client.create_revision("R2", model_id=DEV)
            task_id = await client.sync_models(DEV, revision["id"], wait=False)
            assert isinstance(task_id, str)
            first = await client.get_sync_task_status(task_id)
            assert first.state is TaskState.IN_PROGRESS and not first.outcome.is_terminal
            return await client.wait_for_sync_task(task_id, 0.1, 10)

    assert asyncio.run(main()).is_success


def test_an_unknown_revision_is_refused_before_starting(
    anaplan_emulator: EmulatorHandle, alm: ClientConfig
) -> None:
    with (
        AnaplanClient(alm) as client,
        pytest.raises(AnaplanNothingToSyncError, match="not among its syncable"),
    ):
        client.start_sync(DEV, "0" * 32)
    assert structure(anaplan_emulator, PROD) == structure(anaplan_emulator, DEV)


def test_sync_to_a_locked_model_is_refused(anaplan_emulator: EmulatorHandle, alm: ClientConfig) -> None:
    add_line_item(anaplan_emulator)
    anaplan_emulator.admin._call("POST", f"/alm/models/{PROD}/state", {"activeState": "LOCKED"})
    with AnaplanClient(alm) as client:
        client.create_revision("R2", model_id=DEV)
        with pytest.raises(AnaplanModelLockedError, match="locked"):
            client.sync_models(DEV)


def test_model_locked_during_the_sync_fails_it(anaplan_emulator: EmulatorHandle, alm: ClientConfig) -> None:
    add_line_item(anaplan_emulator)
    with AnaplanClient(alm) as client:
        client.create_revision("R2", model_id=DEV)
        task_id = client.sync_models(DEV, wait=False)
        anaplan_emulator.admin._call("POST", f"/alm/models/{PROD}/state", {"activeState": "LOCKED"})
        with pytest.raises(AnaplanTaskFailedError, match="Model unavailable") as info:
            client.wait_for_sync_task(str(task_id), 0.1, 10)
        assert info.value.status is not None and info.value.status.successful is False


def test_offline_and_online(anaplan_emulator: EmulatorHandle, alm: ClientConfig) -> None:
    with AnaplanClient(alm) as client:
        client.change_model_status("offline")
        assert client.get_model()["activeState"] == "PRODUCTION_MAINTENANCE"
        client.change_model_status("online")
        assert client.get_model()["activeState"] == "PRODUCTION"
        with pytest.raises(AnaplanConfigError, match="online"):
            client.change_model_status("sideways")


def test_comparison_report_and_summary_count_real_differences(
    anaplan_emulator: EmulatorHandle, alm: ClientConfig
) -> None:
    add_line_item(anaplan_emulator, "Margin")
    add_line_item(anaplan_emulator, "Cost")
    with AnaplanClient(alm) as client:
        revision = client.create_revision("R2", model_id=DEV)
        summary = client.create_comparison_summary(DEV, revision["id"])
        assert isinstance(summary, dict) and summary["totals"]["created"] == 2
        report = client.create_comparison_report(DEV, revision["id"])
        assert isinstance(report, bytes) and b"Margin" in report and b"Cost" in report
        task_id = client.create_comparison_summary(DEV, revision["id"], wait=False)
        assert client.get_comparison_summary_task(str(task_id)).state in (
            TaskState.IN_PROGRESS,
            TaskState.COMPLETE,
        )


def test_lost_reply_on_sync_start_takes_the_task_it_made(
    anaplan_emulator: EmulatorHandle, alm: ClientConfig
) -> None:
    add_line_item(anaplan_emulator)
    anaplan_emulator.admin.add_fault(
        method="POST", path_regex=r"/alm/syncTasks$", status=504, when="after", count=1
    )
    with AnaplanClient(alm) as client:
        client.create_revision("R2", model_id=DEV)
        status = client.sync_models(DEV)
        assert status.is_success
        assert len(client.get_sync_tasks()) == 1  # one task: the start was not sent twice
    assert [r["fired"] for r in anaplan_emulator.admin.faults()["rules"]] == [1]  # the reply really was lost


def test_lost_request_on_sync_start_is_not_resent(
    anaplan_emulator: EmulatorHandle, make_config: Callable[..., ClientConfig]
) -> None:
    add_line_item(anaplan_emulator)
    config = make_config(model_id=PROD, start_confirm_window=1.0)
    anaplan_emulator.admin.add_fault(
        method="POST", path_regex=r"/alm/syncTasks$", status=504, when="before", count=1
    )
    with AnaplanClient(config) as client:
        client.create_revision("R2", model_id=DEV)
        with pytest.raises(AnaplanTaskStartUnknownError, match="not sent again"):
            client.start_sync(DEV)
        assert client.get_sync_tasks() == []


def test_wait_for_sync_times_out(anaplan_emulator: EmulatorHandle, alm: ClientConfig) -> None:
    anaplan_emulator.admin._call("POST", "/alm/config", {"sync_seconds": 5})
    add_line_item(anaplan_emulator)
    with AnaplanClient(alm) as client:
        client.create_revision("R2", model_id=DEV)
        task_id = client.start_sync(DEV)
        with pytest.raises(AnaplanTaskTimeoutError, match="still IN_PROGRESS"):
            client.wait_for_sync_task(task_id, 0.1, 0.3)


def test_sync_into_an_offline_model_then_online(anaplan_emulator: EmulatorHandle, alm: ClientConfig) -> None:
    """Taking the deployed model offline around a sync (Anaplan's advice) works; the model comes back."""
    add_line_item(anaplan_emulator, "Margin")
    with AnaplanClient(alm) as client:
        client.create_revision("R2", model_id=DEV)
        client.change_model_status("offline")
        assert client.sync_models(DEV).is_success
        client.change_model_status("online")
        assert client.get_model()["activeState"] == "PRODUCTION"
    assert "Margin" in str(structure(anaplan_emulator, PROD))
