"""What differs between the supported Airflow releases (docs/compatibility.md), checked on the installed one.

``make test`` runs these on the newest Airflow, ``make test-compat`` on the lowest supported one. Each
fallback of ``airflow_provider_anaplan.compat`` is exercised on every release (forced where Airflow
itself would not need it), so the fallback keeps working while it is not the path the main suite takes.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import re
import types
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_anaplan import compat

REPO = Path(__file__).resolve().parents[2]
BELOW_3_3 = compat.AIRFLOW_VERSION < (3, 3)
IMPORT_PRODUCTS, FILE_PRODUCTS = "112000000000", "113000000000"
PRODUCTS = b"Product,Category,Discontinued\nP701,Hardware,false\n"


def deletes(emulator: Any) -> int:
    requests = emulator.admin.counters()["requests"]
    return sum(n for k, n in requests.items() if k.startswith("DELETE") and "/tasks/" in k)


def variables_with_prefix(prefix: str) -> list[str]:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return list(session.scalars(select(Variable.key).where(Variable.key.startswith(prefix))))


def test_declared_lower_bound_and_feature_detection() -> None:
    """pyproject declares compat.MIN_AIRFLOW; the features appear exactly in the releases the docs say."""
    major, minor = compat.MIN_AIRFLOW
    assert re.search(rf'"apache-airflow>={major}\.{minor}(\.0)?,<4"', (REPO / "pyproject.toml").read_text())
    assert compat.AIRFLOW_VERSION[:2] >= compat.MIN_AIRFLOW
    v = compat.AIRFLOW_VERSION
    assert compat.has_task_state_store() is (v >= (3, 3))
    assert compat.variable_keys() is (v >= (3, 3))
    assert compat.has_trigger_on_kill() is (v >= (3, 3))
    assert compat._sdk_variable_writes_raise() is (v >= (3, 3))
    import airflow.sdk

    assert hasattr(airflow.sdk, "conf") is (v >= (3, 2))
    assert compat.conf.getboolean("core", "load_examples") is False  # the isolated home's setting


def test_variable_writes_raise_when_the_api_server_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Below 3.3 the Task SDK's Variable.set/delete log a refused write and return; the provider's
    writes (tokens, start records, task records) must not pass for done, so compat's raise."""
    from airflow.sdk import Variable
    from airflow.sdk.exceptions import AirflowRuntimeError, ErrorType
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.comms import ErrorResponse

    class Refusing:
        sent: list[Any] = []

        def send(self, msg: Any) -> Any:
            self.sent.append(msg)
            raise AirflowRuntimeError(ErrorResponse(error=ErrorType.GENERIC_ERROR, detail={"status_code": 500}))

    comms = Refusing()
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", comms, raising=False)
    with pytest.raises(AirflowRuntimeError):
        compat.sdk_variable_set("anaplan_compat_probe", "v", "probe")
    with pytest.raises(AirflowRuntimeError):
        compat.sdk_variable_delete("anaplan_compat_probe")
    assert [type(m).__name__ for m in comms.sent] == ["PutVariable", "DeleteVariable"]
    if BELOW_3_3:  # what compat works around: Airflow's own call swallows the refusal
        Variable.set("anaplan_compat_probe", "v")
        Variable.delete("anaplan_compat_probe")


def test_variable_task_state_store_is_per_task_instance(anaplan_airflow_db: Path) -> None:
    """The < 3.3 stand-in for context["task_state_store"]: one Variable per task instance and key."""
    from airflow_provider_anaplan.compat import TASK_STATE_PREFIX, VariableTaskStateStore

    one = VariableTaskStateStore("dag", "run_1", "load")
    mapped = VariableTaskStateStore("dag", "run_1", "load", map_index=0)
    other_run = VariableTaskStateStore("dag", "run_2", "load")
    record = {"action_id": "112000000000", "task_id": "ABC", "intent": None, "leases": []}
    one.set("anaplan_task", record)
    assert one.get("anaplan_task") == record
    assert mapped.get("anaplan_task") is None and other_run.get("anaplan_task", "none") == "none"
    assert VariableTaskStateStore("dag", "run_1", "load").get("anaplan_task") == record  # the next try
    assert len(variables_with_prefix(TASK_STATE_PREFIX)) == 1
    one.delete("anaplan_task")
    assert one.get("anaplan_task") is None and variables_with_prefix(TASK_STATE_PREFIX) == []


def test_task_state_store_prefers_airflows_own() -> None:
    from airflow_provider_anaplan.testing.context import InMemoryTaskStateStore, RecordingTaskInstance

    own = InMemoryTaskStateStore()
    assert compat.task_state_store({"ti": RecordingTaskInstance(), "task_state_store": own}) is own
    assert compat.task_state_store({}) is None  # no task instance: nothing to key a record by


def test_retry_reattaches_through_variables_in_dag_test(
    anaplan_dag_runner: Any, anaplan_connection: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A try that dies after starting the Anaplan task: the retry reattaches through the Variable
    record (forced on 3.3 too, where Airflow's task state store would serve), one Anaplan task."""
    from airflow.sdk import DAG

    from airflow_provider_anaplan.compat import TASK_STATE_PREFIX
    from airflow_provider_anaplan.operators.base import AnaplanTaskOperator
    from airflow_provider_anaplan.operators.imports import AnaplanImportOperator

    emulator = anaplan_connection
    emulator.admin.configure(min_task_seconds=0.5, rows_per_second=1_000_000)
    original_store = compat.task_state_store
    stores: list[str] = []
    seen_records: list[Any] = []

    def variables_only(context: Any) -> Any:
        store = original_store({k: v for k, v in dict(context).items() if k != "task_state_store"})
        stores.append(type(store).__name__)
        return store

    original_wait = AnaplanTaskOperator.wait

    def crash_once(self: AnaplanTaskOperator, task_id: str, end_time: float) -> Any:
        seen_records.extend(variables_with_prefix(TASK_STATE_PREFIX))
        if len(seen_records) == 1:
            raise RuntimeError("worker lost (simulated) right after the Anaplan task started")
        return original_wait(self, task_id, end_time)

    monkeypatch.setattr(compat, "task_state_store", variables_only)
    monkeypatch.setattr(AnaplanTaskOperator, "wait", crash_once)
    with DAG("compat_retry_reattach", schedule=None, start_date=datetime.datetime(2026, 1, 1)) as dag:
        AnaplanImportOperator(
            task_id="load", import_id=IMPORT_PRODUCTS, uploads={FILE_PRODUCTS: PRODUCTS}, poll_interval=0.2,
            retries=1, retry_delay=datetime.timedelta(seconds=0),
        )
    dr = anaplan_dag_runner.run(dag)
    assert anaplan_dag_runner.states(dr) == {"load": "success"}
    assert emulator.admin.counters()["tasks_created"] == {IMPORT_PRODUCTS: 1}
    assert set(stores) == {"VariableTaskStateStore"}
    assert len(seen_records) == 2 and len(set(seen_records)) == 1  # both tries saw the one record
    assert variables_with_prefix(TASK_STATE_PREFIX) == []  # deleted once the outcome was final


@pytest.mark.skipif(not BELOW_3_3, reason="Airflow >= 3.3 lists Variables by prefix: coordination uses them")
def test_coordination_is_per_machine_below_3_3(
    anaplan_airflow_db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from airflow_provider_anaplan.hooks.coordination import COORDINATION_PREFIX, AirflowVariableCoordination
    from airflow_provider_anaplan.testing.airflow_home import airflow_home

    compat.coordination_by_variables.cache_clear()
    store = AirflowVariableCoordination()
    with caplog.at_level(logging.WARNING, logger="airflow_provider_anaplan.compat"):
        store.put("file:ws:model:113", "r1", '{"expires_at": 1}')
        store.put("file:ws:model:113", "r2", '{"expires_at": 2}')
    assert sum("coordinated between the processes of this machine only" in r.message for r in caplog.records) == 1
    assert store.scan("file:ws:model:113") == {"r1": '{"expires_at": 1}', "r2": '{"expires_at": 2}'}
    assert list((airflow_home() / "anaplan" / "coordination").rglob("*.json"))
    assert variables_with_prefix(COORDINATION_PREFIX) == []
    store.delete("file:ws:model:113", "r1")
    assert set(store.scan("file:ws:model:113")) == {"r2"}


class _Comms:
    """A triggerer's supervisor connection that answers GetTaskStates like Airflow's execution API
    (``{run_id: {task_id or "<task_id>_<map_index>": state}}``)."""

    def __init__(self, state: str | None, fail: bool = False) -> None:
        self.state = state
        self.fail = fail
        self.asked: list[Any] = []

    async def asend(self, msg: Any) -> Any:
        from airflow.sdk.execution_time.comms import TaskStatesResult

        self.asked.append(msg)
        if self.fail:
            raise RuntimeError("supervisor gone")
        key = msg.task_ids[0] if msg.map_index in (None, -1) else f"{msg.task_ids[0]}_{msg.map_index}"
        states = {} if self.state is None else {msg.run_ids[0]: {key: self.state}}
        return TaskStatesResult(task_states=states)


@pytest.mark.parametrize("map_index", [-1, 3])
async def test_task_instance_state_asks_the_triggerers_supervisor(
    monkeypatch: pytest.MonkeyPatch, map_index: int
) -> None:
    from airflow.sdk.execution_time import task_runner

    trigger = types.SimpleNamespace(
        task_instance=types.SimpleNamespace(dag_id="d", run_id="r", task_id="t", map_index=map_index)
    )
    comms = _Comms("failed")
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", comms, raising=False)
    assert await compat.task_instance_state(trigger) == "failed"
    [msg] = comms.asked
    assert (msg.dag_id, msg.run_ids, msg.task_ids, msg.map_index) == ("d", ["r"], ["t"], map_index)
    comms.state = None
    assert await compat.task_instance_state(trigger) is None
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", _Comms("failed", fail=True), raising=False)
    assert await compat.task_instance_state(trigger) is None  # unknown: never read as a kill
    assert await compat.task_instance_state(types.SimpleNamespace()) is None  # no task instance


async def _started_import() -> str:
    from airflow_provider_anaplan.hooks.anaplan import AnaplanAsyncHook

    hook = AnaplanAsyncHook()
    try:
        await hook.upload_file(FILE_PRODUCTS, PRODUCTS)
        return await hook.start_task(IMPORT_PRODUCTS)
    finally:
        await hook.aclose()


@pytest.mark.parametrize(("state", "cancelled"), [("failed", 1), ("success", 1), (None, 0), ("deferred", 0)])
async def test_trigger_cleanup_cancels_only_after_a_user_kill(
    anaplan_connection: Any, monkeypatch: pytest.MonkeyPatch, state: str | None, cancelled: int
) -> None:
    """Below 3.3 (forced here on 3.3 too): a cancelled trigger whose task instance left ``deferred``
    (marked failed/success, cleared) cancels the Anaplan task in cleanup(); one still deferred
    (triggerer shutdown, hand-over) or of unknown state does not."""
    from airflow_provider_anaplan.triggers.task import AnaplanTaskTrigger

    anaplan_connection.admin.configure(min_task_seconds=5)
    task_id = await _started_import()
    asked: list[Any] = []

    async def ti_state(trigger: Any) -> str | None:
        asked.append(trigger)
        return state

    monkeypatch.setattr(compat, "task_instance_state", ti_state)
    monkeypatch.setattr(compat, "has_trigger_on_kill", lambda: False)
    trigger = AnaplanTaskTrigger(
        anaplan_conn_id="anaplan_default", action_id=IMPORT_PRODUCTS, task_id=task_id, poll_interval=0.1
    )

    async def consume() -> None:
        async for _ in trigger.run():
            pass

    runner = asyncio.ensure_future(consume())
    await asyncio.sleep(0.3)
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    await trigger.cleanup()  # what Airflow < 3.3's triggerer does after the cancellation
    await trigger.cleanup()
    assert deletes(anaplan_connection) == cancelled
    assert asked and asked[0] is trigger


async def test_trigger_kill_check_survives_the_triggerers_repeated_cancellation(
    anaplan_connection: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Airflow 3.1's triggerer cancels a trigger again on every loop until it has finished, also while
    cleanup() is waiting for the state or the cancel request: the check goes on regardless."""
    from airflow_provider_anaplan.triggers.task import AnaplanTaskTrigger

    anaplan_connection.admin.configure(min_task_seconds=10)

    async def slow_state(trigger: Any) -> str:
        await asyncio.sleep(0.5)
        return "failed"

    monkeypatch.setattr(compat, "task_instance_state", slow_state)
    monkeypatch.setattr(compat, "has_trigger_on_kill", lambda: False)
    trigger = AnaplanTaskTrigger(
        anaplan_conn_id="anaplan_default", action_id=IMPORT_PRODUCTS, task_id=await _started_import(),
        poll_interval=0.1,
    )

    async def run_then_cleanup() -> None:
        try:
            async for _ in trigger.run():
                pass
        finally:
            await trigger.cleanup()

    runner = asyncio.ensure_future(run_then_cleanup())
    await asyncio.sleep(0.3)
    runner.cancel()
    await asyncio.sleep(0.1)
    runner.cancel()  # the next loop of the triggerer, while cleanup() waits
    with pytest.raises(asyncio.CancelledError):
        await runner
    for _ in range(50):
        if deletes(anaplan_connection):
            break
        await asyncio.sleep(0.1)
    assert deletes(anaplan_connection) == 1


async def test_trigger_cleanup_after_an_event_or_with_on_kill_asks_nothing(
    anaplan_connection: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_anaplan.triggers.task import AnaplanTaskTrigger

    asked: list[Any] = []

    async def ti_state(trigger: Any) -> str | None:
        asked.append(trigger)
        return "failed"

    monkeypatch.setattr(compat, "task_instance_state", ti_state)
    monkeypatch.setattr(compat, "has_trigger_on_kill", lambda: False)
    task_id = await _started_import()
    trigger = AnaplanTaskTrigger(
        anaplan_conn_id="anaplan_default", action_id=IMPORT_PRODUCTS, task_id=task_id, poll_interval=0.1
    )
    events = [e.payload async for e in trigger.run()]
    await trigger.cleanup()
    assert events[0]["status"] == "success" and asked == [] and deletes(anaplan_connection) == 0

    # Airflow >= 3.3 calls on_kill() itself: cleanup() after a cancellation leaves it to Airflow
    monkeypatch.setattr(compat, "has_trigger_on_kill", lambda: True)
    anaplan_connection.admin.configure(min_task_seconds=5)
    trigger = AnaplanTaskTrigger(
        anaplan_conn_id="anaplan_default", action_id=IMPORT_PRODUCTS, task_id=await _started_import(),
        poll_interval=0.1,
    )
    runner = asyncio.ensure_future(trigger.run().__anext__())
    await asyncio.sleep(0.3)
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    await trigger.cleanup()
    assert asked == [] and deletes(anaplan_connection) == 0


async def test_aget_connection_outside_a_triggerer(anaplan_connection: Any) -> None:
    """Airflow 3.1.0's aget_connection needs a supervisor; compat's reads AIRFLOW_CONN_* without one."""
    from airflow_provider_anaplan.hooks.anaplan import AnaplanAsyncHook

    conn = await compat.aget_connection(AnaplanAsyncHook(), "anaplan_default")
    assert conn.login == anaplan_connection.user
    with pytest.raises(compat.AirflowNotFoundException):
        await compat.aget_connection(AnaplanAsyncHook(), "no_such_connection")
