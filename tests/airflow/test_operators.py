"""Operators against the emulator: real dag.test() in sync and deferrable mode, deferral, events, retries."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_anaplan.compat import TaskDeferred
from airflow_provider_anaplan.exceptions import (
    AnaplanTaskCancelledError,
    AnaplanTaskError,
    AnaplanTaskFailedError,
    AnaplanTaskTimeoutError,
)
from airflow_provider_anaplan.operators.action import AnaplanRunActionOperator
from airflow_provider_anaplan.operators.base import DEFAULT_TIMEOUT, STATE_KEY, AnaplanTaskOperator
from airflow_provider_anaplan.operators.download import AnaplanDownloadFileOperator
from airflow_provider_anaplan.operators.export import AnaplanExportOperator
from airflow_provider_anaplan.operators.imports import AnaplanImportOperator
from airflow_provider_anaplan.operators.process import AnaplanProcessOperator
from airflow_provider_anaplan.operators.upload import AnaplanUploadFileOperator
from airflow_provider_anaplan.sensors.task import AnaplanTaskSensor
from airflow_provider_anaplan.triggers.task import AnaplanTaskTrigger

IMPORT_PRODUCTS, FILE_PRODUCTS = "112000000000", "113000000000"
PRODUCTS = b"Product,Category,Discontinued\nP501,Hardware,false\nP502,Software,true\n"
BAD_PRODUCTS = b"Product,Category,Discontinued\nP601,Hardware,false\nP602,Hardware,maybe\n"
START = datetime.datetime(2026, 1, 1)


@pytest.fixture
def trigger_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Task ids polled by AnaplanTaskTrigger (proves a real deferral happened)."""
    runs: list[str] = []
    original = AnaplanTaskTrigger._poll

    async def spy(self: AnaplanTaskTrigger) -> dict[str, Any]:
        runs.append(self.anaplan_task_id)
        return await original(self)

    monkeypatch.setattr(AnaplanTaskTrigger, "_poll", spy)
    return runs


def import_op(**kw: Any) -> AnaplanImportOperator:
    kw.setdefault("task_id", "load")
    kw.setdefault("poll_interval", 0.2)
    return AnaplanImportOperator(import_id=IMPORT_PRODUCTS, uploads={FILE_PRODUCTS: PRODUCTS}, **kw)


def started_task(emulator: Any, content: bytes = PRODUCTS) -> str:
    from airflow_provider_anaplan.hooks.anaplan import AnaplanHook

    with AnaplanHook() as hook:
        hook.upload_file(FILE_PRODUCTS, content)
        return hook.start_task(IMPORT_PRODUCTS)


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_every_operator_in_dag_test(
    dag_runner: Any, emulator: Any, tmp_path: Any, trigger_runs: list[str], deferrable: bool
) -> None:
    emulator.admin.configure(min_task_seconds=0.5)
    common = {"deferrable": deferrable, "poll_interval": 0.2}
    src = tmp_path / "products.csv"
    src.write_bytes(PRODUCTS)
    with DAG(f"ops_{deferrable}", schedule=None, start_date=START) as dag:
        upload = AnaplanUploadFileOperator(task_id="upload", file_id=FILE_PRODUCTS, source=str(src))
        load = AnaplanImportOperator(task_id="import", import_id=IMPORT_PRODUCTS, **common)
        process = AnaplanProcessOperator(
            task_id="process",
            process_id="118000000001",
            uploads={FILE_PRODUCTS: str(src), "113000000001": b"Product,Month,Revenue\nP501,Jan 26,7\n"},
            mapping_parameters={"Version": "Budget"},
            **common,
        )
        delete = AnaplanRunActionOperator(task_id="delete", action_id="117000000000", **common)
        export = AnaplanExportOperator(
            task_id="export", export_id="116000000001", destination=str(tmp_path / "out" / "p.csv"), **common
        )
        download = AnaplanDownloadFileOperator(
            task_id="download", file_id="116000000001", destination=f"file://{tmp_path}/dl/p.csv"
        )
        sensor = AnaplanTaskSensor(
            task_id="sensor",
            action_id=IMPORT_PRODUCTS,
            task_id_to_watch="{{ ti.xcom_pull('import', key='anaplan_task_id') }}",
            deferrable=deferrable,
            poke_interval=0.2,
        )
        upload >> load >> [process, sensor]
        process >> delete >> export >> download
    dr = dag_runner.run(dag)
    assert dag_runner.states(dr) == dict.fromkeys(
        ["upload", "import", "process", "delete", "export", "download", "sensor"], "success"
    )
    names = {i["name"] for i in emulator.admin.list_items("101000000001")}
    assert "P501" in names and "P502" not in names  # imported, then deleted as discontinued
    cells = emulator.admin.module_cells("102000000001")
    assert any(c.get("Product") == "P501" and c.get("Version") == "Budget" and c.get("value") == 7 for c in cells), cells[:3]
    result = dag_runner.xcom(dr, "process")
    assert result["successful"] is True and len(result["steps"]) == 2
    assert dag_runner.xcom(dr, "import", "anaplan_task_id") == dag_runner.xcom(dr, "import")["task_id"]
    assert "selectedModelId=" in dag_runner.xcom(dr, "import", "_link_AnaplanModelLink")
    exported = (tmp_path / "out" / "p.csv").read_bytes()
    assert exported.startswith(b"Product,Category,Discontinued") and b"P501" in exported
    assert dag_runner.xcom(dr, "export")["bytes"] == len(exported)
    assert (tmp_path / "dl" / "p.csv").read_bytes() == exported
    # deferrable: the import, process, delete and export really went through the trigger (the sensor
    # finds its task already complete and returns without deferring)
    assert (len(trigger_runs) >= 4) if deferrable else (trigger_runs == []), trigger_runs


def test_task_deferred_carries_trigger_and_method(emulator: Any, make_context: Any) -> None:
    emulator.admin.configure(min_task_seconds=5)
    op = import_op(deferrable=True, timeout=600)
    context = make_context()
    before = time.time()
    with pytest.raises(TaskDeferred) as info:
        op.execute(context)
    deferred = info.value
    assert deferred.method_name == "execute_complete"
    trigger = deferred.trigger
    assert isinstance(trigger, AnaplanTaskTrigger)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_anaplan.triggers.task.AnaplanTaskTrigger"
    assert kwargs["task_id"] == context["ti"].xcom["anaplan_task_id"] and kwargs["action_id"] == IMPORT_PRODUCTS
    assert kwargs["poll_interval"] == 0.2 and before + 600 <= kwargs["end_time"] <= time.time() + 600
    assert context["task_state_store"].get(STATE_KEY)["task_id"] == kwargs["task_id"]


def test_same_default_budget_in_both_modes() -> None:
    sync, deferred = import_op(deferrable=False), import_op(deferrable=True)
    assert sync.timeout == deferred.timeout == DEFAULT_TIMEOUT
    assert import_op().deferrable is False  # [operators] default_deferrable


def test_execute_complete_success_on_fresh_operator(emulator: Any, make_context: Any) -> None:
    task_id = started_task(emulator)
    time.sleep(0.3)
    fresh = import_op()  # never ran execute(): all state comes from the event
    result = fresh.execute_complete(
        make_context(), {"status": "success", "message": "ok", "task_id": task_id, "action_id": IMPORT_PRODUCTS, "task": None}
    )
    assert result["task_id"] == task_id and result["successful"] is True and result["rows"]["successful"] == 2


@pytest.mark.parametrize(
    ("status", "error"),
    [
        ("failed", AnaplanTaskFailedError),
        ("cancelled", AnaplanTaskCancelledError),
        ("timeout", AnaplanTaskTimeoutError),
        ("error", AnaplanTaskError),
        ("something-new", AnaplanTaskError),
    ],
)
def test_every_non_success_event_raises_with_status_and_message(
    emulator: Any, make_context: Any, count_deletes: Any, status: str, error: type[Exception]
) -> None:
    emulator.admin.configure(min_task_seconds=5)
    content = BAD_PRODUCTS if status == "failed" else PRODUCTS
    if status == "failed":
        emulator.admin.configure(min_task_seconds=0)
    task_id = started_task(emulator, content)
    if status == "failed":
        time.sleep(0.3)
    event = {"status": status, "message": f"the {status} message", "task_id": task_id, "action_id": IMPORT_PRODUCTS, "task": None}
    with pytest.raises(error) as info:
        import_op().execute_complete(make_context(), event)
    text = str(info.value)
    if status != "failed":  # a failed event is re-read from Anaplan: the message is the task summary
        assert f"[{status}]" in text and f"the {status} message" in text
    else:
        assert task_id in text and "not successful" in text.lower()
    assert count_deletes(emulator.admin.counters()) == (1 if status == "timeout" else 0)


def logged(caplog: Any, capsys: Any) -> str:
    """Operator logs go through Airflow's structlog (stdout) or stdlib logging (caplog)."""
    captured = capsys.readouterr()
    return caplog.text + captured.out + captured.err


def test_cancel_failure_is_logged_and_original_error_raised(
    emulator: Any, make_context: Any, caplog: Any, capsys: Any
) -> None:
    event = {"status": "timeout", "message": "too slow", "task_id": "NOSUCHTASK", "action_id": IMPORT_PRODUCTS, "task": None}
    with pytest.raises(AnaplanTaskTimeoutError, match="too slow"):
        import_op().execute_complete(make_context(), event)
    assert "Could not cancel Anaplan task NOSUCHTASK" in logged(caplog, capsys)


def test_on_kill_cancels_once(emulator: Any, make_context: Any, count_deletes: Any) -> None:
    emulator.admin.configure(min_task_seconds=5)
    op = import_op()
    task_id = op.start(make_context())
    op.on_kill()
    op.on_kill()
    assert count_deletes(emulator.admin.counters()) == 1
    time.sleep(0.3)
    assert op.hook.get_task_status(IMPORT_PRODUCTS, task_id).state.value == "CANCELLED"


def test_sync_timeout_cancels_and_fails(emulator: Any, make_context: Any, count_deletes: Any) -> None:
    emulator.admin.configure(min_task_seconds=5)
    started = time.monotonic()
    with pytest.raises(AnaplanTaskTimeoutError, match="did not finish within 0.5 s"):
        import_op(timeout=0.5).execute(make_context())
    assert time.monotonic() - started < 3
    assert count_deletes(emulator.admin.counters()) == 1


def test_rejected_rows_fail_by_default_and_dumps_are_kept(
    emulator: Any, make_context: Any, tmp_path: Any, caplog: Any, capsys: Any
) -> None:
    op = AnaplanImportOperator(
        task_id="load", import_id=IMPORT_PRODUCTS, uploads={FILE_PRODUCTS: BAD_PRODUCTS}, poll_interval=0.2, dump_dir=str(tmp_path)
    )
    with pytest.raises(AnaplanTaskFailedError, match="failure dumps: ") as info:
        op.execute(make_context())
    dumps = list(tmp_path.rglob("*.csv"))
    assert len(dumps) == 1 and b"P602" in dumps[0].read_bytes()
    assert "1 rejected row(s)" in logged(caplog, capsys) and str(dumps[0]) in str(info.value)
    accepted = AnaplanImportOperator(
        task_id="load2", import_id=IMPORT_PRODUCTS, uploads={FILE_PRODUCTS: BAD_PRODUCTS}, poll_interval=0.2,
        dump_dir=str(tmp_path / "b"), fail_on_partial=False,
    ).execute(make_context())
    assert accepted["accepted_partial"] is True and len(accepted["dumps"]) == 1


def test_second_execute_reattaches_to_task_in_flight(emulator: Any, make_context: Any) -> None:
    emulator.admin.configure(min_task_seconds=1)
    store = make_context()["task_state_store"]
    first = import_op(deferrable=True)
    with pytest.raises(TaskDeferred):
        first.execute(make_context(store))  # "crash" while deferred
    created = emulator.admin.counters()["tasks_created"][IMPORT_PRODUCTS]
    uploads = emulator.admin.counters()["bytes_received"]
    result = import_op().execute(make_context(store))  # the retry
    counters = emulator.admin.counters()
    assert counters["tasks_created"][IMPORT_PRODUCTS] == created == 1
    assert counters["bytes_received"] == uploads  # no second upload either
    assert result["task_id"] == store.data.get(STATE_KEY, {}).get("task_id", result["task_id"])
    assert STATE_KEY not in store.data  # cleared once the outcome is known


def test_retry_after_crash_in_dag_test_creates_one_task(
    dag_runner: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.admin.configure(min_task_seconds=0.5)
    crashes: list[int] = []
    original = AnaplanTaskOperator.wait

    def crash_once(self: AnaplanTaskOperator, task_id: str, end_time: float) -> Any:
        if not crashes:
            crashes.append(1)
            raise RuntimeError("worker lost (simulated) right after the Anaplan task started")
        return original(self, task_id, end_time)

    monkeypatch.setattr(AnaplanTaskOperator, "wait", crash_once)
    with DAG("retry_reattach", schedule=None, start_date=START) as dag:
        import_op(task_id="load", retries=1, retry_delay=datetime.timedelta(seconds=0))
    dr = dag_runner.run(dag)
    assert crashes == [1]
    assert dag_runner.states(dr) == {"load": "success"}
    assert emulator.admin.counters()["tasks_created"] == {IMPORT_PRODUCTS: 1}
