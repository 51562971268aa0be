"""CloudWorks operators (integration, flow) over real HTTP against the emulator."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_anaplan.compat import TaskDeferred
from airflow_provider_anaplan.exceptions import AnaplanConflictError, AnaplanTaskFailedError
from airflow_provider_anaplan.hooks.anaplan import AnaplanHook
from airflow_provider_anaplan.links.cloudworks import XCOM_CLOUDWORKS_LINK_KEY
from airflow_provider_anaplan.links.model import XCOM_MODEL_LINK_KEY
from airflow_provider_anaplan.operators.cloudworks import (
    AnaplanCloudWorksFlowOperator,
    AnaplanCloudWorksIntegrationOperator,
    job_uris,
)
from airflow_provider_anaplan.operators.jobs import JOB_STATE_KEY
from airflow_provider_anaplan.testing.emulator.state.cloudworks import SEED_OBJECTS

PROD = "D3A1B5C7E9F24680ACE13579BDF02468"
WS = "8a868cd985f53e7701860542f59e276e"
IMPORT_PRODUCTS = "1a000000000000000000000000000001"
IMPORT_REVENUE = "1a000000000000000000000000000002"
EXPORT_REVENUE = "1a000000000000000000000000000003"
IMPORT_PARTIAL = "1a000000000000000000000000000005"
FLOW = "f1000000000000000000000000000001"
BUCKET = "emulator-bucket"
START = datetime.datetime(2026, 1, 1)
BAD_REVENUE = b"Product,Month,Revenue\nP001,Apr 26,10\nP002,Apr 26,oops\n"


def restore_seed_objects(emulator: Any) -> None:
    """The object store outlives an emulator reset (by design): put the seed objects back."""
    for key, content in SEED_OBJECTS.items():
        put_object(emulator, key, content.encode())


@pytest.fixture
def cw(emulator: Any) -> Iterator[Any]:
    emulator.admin._call("POST", "/cloudworks/config", {"run_seconds": 0.3})
    restore_seed_objects(emulator)
    yield emulator
    restore_seed_objects(emulator)


def history(integration_id: str) -> list[dict[str, Any]]:
    with AnaplanHook() as hook:
        return hook.get_run_history(integration_id)


def put_object(emulator: Any, key: str, content: bytes) -> None:
    emulator.admin._http.put(f"/objectstore/{BUCKET}/{key}", content=content).raise_for_status()


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_integration_and_flow_in_dag_test(dag_runner: Any, cw: Any, deferrable: bool) -> None:
    with DAG(f"cw_{deferrable}", schedule=None, start_date=START) as dag:
        load = AnaplanCloudWorksIntegrationOperator(
            task_id="load", integration_id=IMPORT_PRODUCTS, deferrable=deferrable, poll_interval=0.1
        )
        flow = AnaplanCloudWorksFlowOperator(
            task_id="flow", flow_id=FLOW, deferrable=deferrable, poll_interval=0.1
        )
        load >> flow
    dr = dag_runner.run(dag)
    assert dag_runner.states(dr) == {"load": "success", "flow": "success"}
    loaded = dag_runner.xcom(dr, "load")
    assert (
        loaded["integration_id"] == IMPORT_PRODUCTS
        and loaded["success"] is True
        and loaded["state"] == "COMPLETE"
    )
    assert loaded["run_id"] == history(IMPORT_PRODUCTS)[-1]["id"] and loaded["dumps"] == []
    flowed = dag_runner.xcom(dr, "flow")
    assert flowed["flow_id"] == FLOW and flowed["success"] is True
    assert dag_runner.xcom(dr, "load", key=XCOM_CLOUDWORKS_LINK_KEY).endswith(
        f"/integrations/{IMPORT_PRODUCTS}"
    )
    assert dag_runner.xcom(dr, "flow", key=XCOM_CLOUDWORKS_LINK_KEY).endswith(f"/integrationflows/{FLOW}")
    assert PROD in dag_runner.xcom(dr, "load", key=XCOM_MODEL_LINK_KEY)  # the integration's model
    assert len(history(FLOW)) == 1


def test_partial_success_fails_with_dumps_or_is_accepted(cw: Any, make_context: Any, tmp_path: Path) -> None:
    strict = AnaplanCloudWorksIntegrationOperator(
        task_id="load",
        integration_id=IMPORT_PARTIAL,
        deferrable=False,
        poll_interval=0.1,
        dump_dir=str(tmp_path),
    )
    ctx = make_context()
    with pytest.raises(AnaplanTaskFailedError, match="row\\(s\\) rejected.*error dumps: ") as info:
        strict.execute(ctx)
    dump = Path(str(info.value).rsplit("error dumps: ", 1)[1].split(",")[0])
    assert dump.exists() and b"is not a number" in dump.read_bytes()
    assert ctx["task_state_store"].get(JOB_STATE_KEY) is None  # terminal: a retry starts a new run
    lenient = AnaplanCloudWorksIntegrationOperator(
        task_id="load", integration_id=IMPORT_PARTIAL, deferrable=False, poll_interval=0.1,
        fail_on_partial=False, dump_dir=str(tmp_path),
    )  # fmt: skip
    result = lenient.execute(make_context())
    assert result["accepted_partial"] is True and result["execution_error_code"] == 38
    assert result["rows"]["failed"] == 2 and len(result["dumps"]) == 1


def test_integration_already_running_is_refused(cw: Any, make_context: Any) -> None:
    cw.admin._call("POST", "/cloudworks/config", {"run_seconds": 3})
    with AnaplanHook() as hook:
        other = hook.run_integration(IMPORT_PRODUCTS)
        op = AnaplanCloudWorksIntegrationOperator(
            task_id="load", integration_id=IMPORT_PRODUCTS, deferrable=False
        )
        with pytest.raises(AnaplanConflictError, match=f"already running \\(run {other}"):
            op.execute(make_context())
        hook.cancel_run(IMPORT_PRODUCTS)
    assert len(history(IMPORT_PRODUCTS)) == 1


def test_kill_cancels_the_run_and_a_retry_reattaches(cw: Any, make_context: Any) -> None:
    cw.admin._call("POST", "/cloudworks/config", {"run_seconds": 3})
    ctx = make_context()
    op = AnaplanCloudWorksIntegrationOperator(
        task_id="load", integration_id=IMPORT_REVENUE, deferrable=True, poll_interval=0.1
    )
    with pytest.raises(TaskDeferred) as info:
        op.execute(ctx)
    job = info.value.trigger.job
    assert ctx["task_state_store"].get(JOB_STATE_KEY)["job"] == job
    # a retry while the run is going reattaches to it (no second run, which CloudWorks would refuse)
    cw.admin._call("POST", "/cloudworks/config", {"run_seconds": 0.3})
    retry = AnaplanCloudWorksIntegrationOperator(
        task_id="load", integration_id=IMPORT_REVENUE, deferrable=False, poll_interval=0.1
    )
    assert retry.execute(ctx)["run_id"] == job["run_id"]
    assert [r["id"] for r in history(IMPORT_REVENUE)] == [job["run_id"]]
    # on_kill of a deferred operator cancels its run
    cw.admin._call("POST", "/cloudworks/config", {"run_seconds": 3})
    killed = AnaplanCloudWorksIntegrationOperator(
        task_id="load", integration_id=IMPORT_REVENUE, deferrable=True, poll_interval=0.1
    )
    with pytest.raises(TaskDeferred) as info:
        killed.execute(make_context())
    killed.on_kill()
    with AnaplanHook() as hook:
        status = hook.wait_for_run(
            IMPORT_REVENUE, info.value.trigger.job["run_id"], 0.1, 20, raise_on_failure=False
        )
    assert status.state.value == "CANCELLED"


def test_lost_reply_on_start_runs_once(cw: Any, make_context: Any) -> None:
    cw.admin.add_fault(
        method="POST", path_regex=r"/integrations/[0-9a-f]+/run$", drop=True, when="after", count=1
    )
    op = AnaplanCloudWorksIntegrationOperator(
        task_id="load", integration_id=IMPORT_PRODUCTS, deferrable=False, poll_interval=0.1
    )
    result = op.execute(make_context())
    assert [r["id"] for r in history(IMPORT_PRODUCTS)] == [result["run_id"]]
    assert [r["fired"] for r in cw.admin.faults()["rules"]] == [1]


def test_flow_with_a_partial_step_and_selected_steps(cw: Any, make_context: Any, tmp_path: Path) -> None:
    put_object(cw, "inbound/revenue.csv", BAD_REVENUE)
    strict = AnaplanCloudWorksFlowOperator(
        task_id="flow", flow_id=FLOW, deferrable=False, poll_interval=0.1, dump_dir=str(tmp_path)
    )
    with pytest.raises(AnaplanTaskFailedError, match="rejected.*error dumps: "):
        strict.execute(make_context())
    lenient = AnaplanCloudWorksFlowOperator(
        task_id="flow", flow_id=FLOW, steps=[IMPORT_REVENUE, EXPORT_REVENUE], deferrable=False, poll_interval=0.1,
        fail_on_partial=False, dump_dir=str(tmp_path),
    )  # fmt: skip
    result = lenient.execute(make_context())
    assert result["accepted_partial"] is True and result["rows"]["failed"] == 1
    assert [s["integration_id"] for s in result["steps"]] == [IMPORT_REVENUE, EXPORT_REVENUE]
    assert len(result["dumps"]) == 1 and b"oops" in Path(result["dumps"][0]).read_bytes()


def test_job_uris_of_the_seed_integrations(cw: Any) -> None:
    with AnaplanHook() as hook:
        ins, outs = job_uris(hook.get_integration(IMPORT_PRODUCTS))
        assert ins == [f"s3://{BUCKET}/inbound/products.csv"]
        assert outs == [f"anaplan://{WS}/{PROD}/files/113000000000", f"anaplan://{WS}/{PROD}"]
        ins, outs = job_uris(hook.get_integration(EXPORT_REVENUE))
        assert outs == [f"s3://{BUCKET}/outbound/revenue.csv"]


def test_the_one_trigger_polls_runs_and_flow_runs(cw: Any) -> None:
    import asyncio

    from airflow_provider_anaplan.triggers.task import AnaplanTaskTrigger

    with AnaplanHook() as hook:
        partial_run = hook.run_integration(IMPORT_PARTIAL)
        flow_run = hook.run_flow(FLOW, [IMPORT_PRODUCTS, EXPORT_REVENUE])

    async def events(kind: str, job: dict[str, str]) -> list[dict[str, Any]]:
        trigger = AnaplanTaskTrigger(anaplan_conn_id="anaplan_default", kind=kind, job=job, poll_interval=0.1)
        return [event.payload async for event in trigger.run()]

    (partial,) = asyncio.run(
        events("cloudworks_run", {"integration_id": IMPORT_PARTIAL, "run_id": partial_run})
    )
    assert partial["status"] == "success" and partial["kind"] == "cloudworks_run"  # Anaplan's verdict
    assert partial["task"]["rows"]["failed"] == 2 and partial["task_id"] == partial_run
    (flow,) = asyncio.run(events("cloudworks_flow", {"flow_id": FLOW, "run_id": flow_run}))
    assert flow["status"] == "success" and flow["job"] == {"flow_id": FLOW, "run_id": flow_run}
