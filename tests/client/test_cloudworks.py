"""CloudWorks client (connections, integrations, runs, flows, dumps) over real HTTP against the emulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_anaplan.client import (
    AnaplanAsyncClient,
    AnaplanClient,
    ClientConfig,
    TaskOutcome,
    TaskState,
)
from airflow_provider_anaplan.client.cloudworks_status import run_state
from airflow_provider_anaplan.client.config import cloudworks_url_for
from airflow_provider_anaplan.client.jobs import JobKind
from airflow_provider_anaplan.exceptions import (
    AnaplanConfigError,
    AnaplanConflictError,
    AnaplanNotFoundError,
    AnaplanTaskFailedError,
    AnaplanTaskStartUnknownError,
)
from airflow_provider_anaplan.testing.emulator.state.cloudworks import SEED_OBJECTS
from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle

PROD = "D3A1B5C7E9F24680ACE13579BDF02468"
IMPORT_PRODUCTS = "1a000000000000000000000000000001"
IMPORT_REVENUE = "1a000000000000000000000000000002"
EXPORT_REVENUE = "1a000000000000000000000000000003"
PROCESS_LOAD_ALL = "1a000000000000000000000000000004"
IMPORT_PARTIAL = "1a000000000000000000000000000005"
FLOW = "f1000000000000000000000000000001"
CONNECTION = "0c0000000000000000000000000000a1"
BUCKET = "emulator-bucket"
PRODUCTS_LIST = "101000000001"


def restore_seed_objects(emulator: EmulatorHandle) -> None:
    """The object store outlives an emulator reset (by design): put the seed objects back."""
    for key, content in SEED_OBJECTS.items():
        emulator.admin._http.put(f"/objectstore/{BUCKET}/{key}", content=content.encode()).raise_for_status()


@pytest.fixture
def cw(anaplan_emulator: EmulatorHandle, make_config: Callable[..., ClientConfig]) -> Iterator[ClientConfig]:
    anaplan_emulator.admin._call("POST", "/cloudworks/config", {"run_seconds": 0.2})
    anaplan_emulator.admin.configure(rows_per_second=1_000_000)
    restore_seed_objects(anaplan_emulator)
    yield make_config(model_id=PROD)
    restore_seed_objects(anaplan_emulator)


def put_object(emulator: EmulatorHandle, key: str, content: bytes) -> None:
    emulator.admin._http.put(f"/objectstore/{BUCKET}/{key}", content=content).raise_for_status()


def get_object(emulator: EmulatorHandle, key: str) -> bytes:
    response = emulator.admin._http.get(f"/objectstore/{BUCKET}/{key}")
    response.raise_for_status()
    return response.content


def test_base_url_forms() -> None:
    assert cloudworks_url_for("https://api.anaplan.com/2/0") == "https://api.cloudworks.anaplan.com/2/0"
    assert (
        cloudworks_url_for("https://eu3.api.anaplan.com/2/0") == "https://eu3.api.anaplan.com/cloudworks/2/0"
    )
    assert cloudworks_url_for("http://127.0.0.1:9/2/0") == "http://127.0.0.1:9/cloudworks/2/0"
    assert (
        cloudworks_url_for("https://au1a.api2.anaplan.com/2/0")
        == "https://api.cloudworks.au1a.app2.anaplan.com/2/0"
    )


@pytest.mark.parametrize("form", ["/cloudworks/2/0", "/2/0"], ids=["api-host-form", "cloudworks-host-form"])
def test_both_base_url_forms_list_connections_and_integrations(
    anaplan_emulator: EmulatorHandle, make_config: Callable[..., ClientConfig], form: str
) -> None:
    config = make_config(cloudworks_url=f"{anaplan_emulator.url}{form}")
    with AnaplanClient(config) as client:
        connections = client.get_connections()
        assert [c["connectionId"] for c in connections] == [CONNECTION]
        assert "secretAccessKey" not in connections[0]["body"]
        integrations = client.get_integrations()
        assert {i["integrationId"] for i in integrations} >= {
            IMPORT_PRODUCTS,
            EXPORT_REVENUE,
            PROCESS_LOAD_ALL,
        }
        assert {i["integrationId"] for i in client.get_integrations(PROD)} == {
            i["integrationId"] for i in integrations
        }
        assert client.get_integrations("0" * 32) == []
        detail = client.get_integration(IMPORT_PRODUCTS)
        assert detail["jobs"][0]["sources"][0]["connectionId"] == CONNECTION
        assert [f["id"] for f in client.get_flows()] == [FLOW]
        assert [s["referrer"] for s in client.get_flow(FLOW)["steps"]] == [
            IMPORT_PRODUCTS,
            IMPORT_REVENUE,
            EXPORT_REVENUE,
        ]
        with pytest.raises(AnaplanNotFoundError, match="CloudWorks integration"):
            client.get_integration("e" * 32)
    with pytest.raises(AnaplanConfigError, match="cloudworks_url"):
        make_config(cloudworks_url="ftp://nope")


def test_run_an_import_integration_loads_the_object_into_the_model(
    anaplan_emulator: EmulatorHandle, cw: ClientConfig
) -> None:
    put_object(anaplan_emulator, "inbound/products.csv", b"Product,Category,Discontinued\nP777,Tools,false\n")
    with AnaplanClient(cw) as client:
        run_id = client.run_integration(IMPORT_PRODUCTS)
        first = client.get_run_job_status(IMPORT_PRODUCTS, run_id)
        assert first.state in (TaskState.NOT_STARTED, TaskState.IN_PROGRESS)
        status = client.wait_for_run(IMPORT_PRODUCTS, run_id, 0.1, 20)
        assert (
            status.outcome is TaskOutcome.SUCCESS
            and status.task_id == run_id
            and status.action_id == IMPORT_PRODUCTS
        )
        assert client.get_run_status(run_id)["integrationId"] == IMPORT_PRODUCTS
        assert [r["id"] for r in client.get_run_history(IMPORT_PRODUCTS)] == [run_id]
        assert client.get_run_error(run_id) == []
        assert client.get_job_status(
            JobKind.CLOUDWORKS_RUN.value, {"integration_id": IMPORT_PRODUCTS, "run_id": run_id}
        ).is_success
    names = {i["name"] for i in anaplan_emulator.admin.list_items(PRODUCTS_LIST, PROD)}
    assert "P777" in names


def test_export_integration_writes_the_object(anaplan_emulator: EmulatorHandle, cw: ClientConfig) -> None:
    with AnaplanClient(cw) as client:
        status = client.wait_for_run(EXPORT_REVENUE, client.run_integration(EXPORT_REVENUE), 0.1, 20)
    assert status.is_success
    assert get_object(anaplan_emulator, "outbound/revenue.csv").startswith(b"Product,Month,Revenue")


def test_partial_success_is_a_success_with_rejected_rows(
    anaplan_emulator: EmulatorHandle, cw: ClientConfig, tmp_path: Path
) -> None:
    with AnaplanClient(cw) as client:
        run_id = client.run_integration(IMPORT_PARTIAL)
        status = client.wait_for_run(IMPORT_PARTIAL, run_id, 0.1, 20, raise_on_failure=False)
        assert status.outcome is TaskOutcome.SUCCESS and status.raw["run"]["executionErrorCode"] == 38
        assert (status.counts.failed or 0) >= 1
        strict = status.verdict(fail_on_partial=True)
        assert not strict.ok and "rejected" in strict.reason
        lenient = status.verdict(fail_on_partial=False)
        assert lenient.ok and lenient.accepted_partial
        assert status.verdict().ok  # Anaplan's own verdict: success
        with pytest.raises(AnaplanTaskFailedError, match="rejected"):
            client.wait_for_run(IMPORT_PARTIAL, run_id, 0.1, 20, fail_on_partial=True)
        errors = client.get_run_error(run_id)
        assert errors and errors[0]["failureDumpGenerated"] is True
        assert b"P999" in client.get_run_dump(run_id)
        paths = client.download_run_dumps(status, tmp_path)
    assert status.counts.failed == 2 and status.counts.successful == 1
    assert len(paths) == 1 and b"is not a number" in Path(paths[0]).read_bytes()


def test_already_running_is_a_clear_409_and_not_retried(
    anaplan_emulator: EmulatorHandle, cw: ClientConfig
) -> None:
    anaplan_emulator.admin._call("POST", "/cloudworks/config", {"run_seconds": 3})
    with AnaplanClient(cw) as client:
        run_id = client.run_integration(IMPORT_PRODUCTS)
        started = time.monotonic()
        with pytest.raises(AnaplanConflictError, match=f"already running \\(run {run_id}") as info:
            client.run_integration(IMPORT_PRODUCTS)
        assert info.value.status_code == 409 and time.monotonic() - started < 2  # answered, not retried
        client.cancel_run_job(IMPORT_PRODUCTS, run_id)
        status = client.wait_for_run(IMPORT_PRODUCTS, run_id, 0.1, 20, raise_on_failure=False)
        assert status.outcome is TaskOutcome.CANCELLED
        assert client.cancel_run(IMPORT_PRODUCTS) is False  # nothing running any more: 409 -> False
        client.cancel_run_job(IMPORT_PRODUCTS, run_id)  # a finished run: a no-op


def test_cancel_through_the_job_table(anaplan_emulator: EmulatorHandle, cw: ClientConfig) -> None:
    anaplan_emulator.admin._call("POST", "/cloudworks/config", {"run_seconds": 3})

    async def main() -> Any:
        async with AnaplanAsyncClient(cw) as client:
            run_id = await client.run_integration(PROCESS_LOAD_ALL)
            ids = {"integration_id": PROCESS_LOAD_ALL, "run_id": run_id}
            assert await client.cancel_job(JobKind.CLOUDWORKS_RUN.value, ids) is True
            return await client.wait_for_run(PROCESS_LOAD_ALL, run_id, 0.1, 20, raise_on_failure=False)

    assert asyncio.run(main()).state is TaskState.CANCELLED


def test_failed_run_reports_why(anaplan_emulator: EmulatorHandle, cw: ClientConfig) -> None:
    anaplan_emulator.admin._http.delete(f"/objectstore/{BUCKET}/inbound/revenue.csv")
    with AnaplanClient(cw) as client:
        run_id = client.run_integration(IMPORT_REVENUE)
        with pytest.raises(AnaplanTaskFailedError, match="not found in bucket"):
            client.wait_for_run(IMPORT_REVENUE, run_id, 0.1, 20)


def test_lost_reply_on_run_start_takes_the_run_it_made(
    anaplan_emulator: EmulatorHandle, cw: ClientConfig
) -> None:
    anaplan_emulator.admin.add_fault(
        method="POST", path_regex=r"/integrations/[0-9a-f]+/run$", drop=True, when="after", count=1
    )
    with AnaplanClient(cw) as client:
        run_id = client.run_integration(IMPORT_PRODUCTS)
        assert client.wait_for_run(IMPORT_PRODUCTS, run_id, 0.1, 20).is_success
        assert [r["id"] for r in client.get_run_history(IMPORT_PRODUCTS)] == [run_id]  # one run, not two
    assert [r["fired"] for r in anaplan_emulator.admin.faults()["rules"]] == [1]  # the reply really was lost


def test_lost_request_on_run_start_is_not_resent(
    anaplan_emulator: EmulatorHandle, make_config: Callable[..., ClientConfig]
) -> None:
    config = make_config(model_id=PROD, start_confirm_window=1.0)
    anaplan_emulator.admin.add_fault(
        method="POST", path_regex=r"/integrations/[0-9a-f]+/run$", status=502, when="before", count=1
    )
    with AnaplanClient(config) as client:
        with pytest.raises(AnaplanTaskStartUnknownError, match="not sent again"):
            client.run_integration(IMPORT_PRODUCTS)
        assert client.get_run_history(IMPORT_PRODUCTS) == []


def test_flow_runs_its_steps_and_can_run_selected_steps(
    anaplan_emulator: EmulatorHandle, cw: ClientConfig
) -> None:
    with AnaplanClient(cw) as client:
        run_id = client.run_flow(FLOW)
        status = client.wait_for_flow_run(FLOW, run_id, 0.1, 30)
        assert status.is_success and status.action_id == FLOW
        steps = client.get_flow_step_runs(FLOW, run_id)
        assert [s["integrationId"] for s in steps] == [IMPORT_PRODUCTS, IMPORT_REVENUE, EXPORT_REVENUE]
        only = client.run_flow(FLOW, [IMPORT_PRODUCTS, IMPORT_REVENUE])
        assert client.wait_for_flow_run(FLOW, only, 0.1, 30).is_success
        assert [s["integrationId"] for s in client.get_flow_step_runs(FLOW, only)] == [
            IMPORT_PRODUCTS,
            IMPORT_REVENUE,
        ]
        with pytest.raises(AnaplanConfigError, match="non-empty list"):
            client.run_flow(FLOW, [])


def test_flow_cancel_and_409(anaplan_emulator: EmulatorHandle, cw: ClientConfig) -> None:
    anaplan_emulator.admin._call("POST", "/cloudworks/config", {"run_seconds": 2})
    with AnaplanClient(cw) as client:
        run_id = client.run_flow(FLOW)
        with pytest.raises(AnaplanConflictError, match="already running"):
            client.run_flow(FLOW)
        client.cancel_flow_run_job(FLOW, run_id)
        status = client.wait_for_flow_run(FLOW, run_id, 0.1, 30, raise_on_failure=False)
        assert status.outcome is TaskOutcome.CANCELLED


def test_run_state_mapping() -> None:
    assert run_state({"message": "Queued"}) is TaskState.NOT_STARTED
    assert run_state({"message": "Running", "startDate": "x"}) is TaskState.IN_PROGRESS
    assert run_state({"message": "Success", "endDate": "x"}) is TaskState.COMPLETE
    assert run_state({"message": "Cancelled", "endDate": "x"}) is TaskState.CANCELLED
    assert run_state({"message": "Success"}) is TaskState.IN_PROGRESS  # no end yet: not finished


def test_run_into_an_offline_model_fails_with_the_reason(
    anaplan_emulator: EmulatorHandle, cw: ClientConfig
) -> None:
    with AnaplanClient(cw) as client:
        client.change_model_status("offline")
        run_id = client.run_integration(IMPORT_PRODUCTS)
        with pytest.raises(AnaplanTaskFailedError, match="bring it online") as info:
            client.wait_for_run(IMPORT_PRODUCTS, run_id, 0.1, 20)
        assert info.value.status is not None and info.value.status.successful is False
        client.change_model_status("online")
