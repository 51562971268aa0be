"""The generic job machinery (client/jobs.py, AnaplanJobOperator, the trigger's kind/job) over real HTTP.

Driven with the one kind every emulator has (a bulk task started through ``AnaplanJobOperator``), so the
machinery is proven independently of the families that use it (read requests, ALM, CloudWorks).
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Any, ClassVar

import pytest
from airflow.sdk import DAG

from airflow_provider_anaplan.client.jobs import JOB_KINDS, JobKind, parse_job
from airflow_provider_anaplan.compat import TaskDeferred
from airflow_provider_anaplan.exceptions import (
    AnaplanConfigError,
    AnaplanTaskFailedError,
    AnaplanTaskTimeoutError,
)
from airflow_provider_anaplan.hooks.anaplan import AnaplanHook
from airflow_provider_anaplan.operators.jobs import JOB_STATE_KEY, AnaplanJobOperator
from airflow_provider_anaplan.triggers.task import AnaplanTaskTrigger

IMPORT_PRODUCTS, FILE_PRODUCTS = "112000000000", "113000000000"
PRODUCTS = b"Product,Category,Discontinued\nP501,Hardware,false\nP502,Software,true\n"
BAD_PRODUCTS = b"Product,Category,Discontinued\nP601,Hardware,false\nP602,Hardware,maybe\n"
START = datetime.datetime(2026, 1, 1)


class ImportJobOperator(AnaplanJobOperator):
    """A bulk import run as a generic job (the test vehicle)."""

    job_kind: ClassVar[str] = JobKind.BULK_TASK.value

    def __init__(self, *, content: bytes = PRODUCTS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.content = content
        self.released: list[dict[str, str]] = []

    def start_job(self, context: Any) -> dict[str, str]:
        self.hook.upload_file(FILE_PRODUCTS, self.content)
        return {"action_id": IMPORT_PRODUCTS, "task_id": self.hook.start_task(IMPORT_PRODUCTS)}

    def release_job(self, context: Any, job: dict[str, str]) -> None:
        self.released.append(job)


def test_parse_job_validates_kind_and_ids() -> None:
    assert parse_job("read_request", {"source": "views", "object_id": 1, "request_id": " r "}) == (
        JobKind.READ_REQUEST,
        {"source": "views", "object_id": "1", "request_id": "r"},
    )
    with pytest.raises(AnaplanConfigError, match="unknown Anaplan job kind 'nope'"):
        parse_job("nope", {})
    with pytest.raises(AnaplanConfigError, match="'run_id' must be a non-empty id"):
        parse_job("cloudworks_run", {"integration_id": "i", "run_id": " "})
    with pytest.raises(AnaplanConfigError, match="unexpected"):
        parse_job("model_open", {"model_id": "m"})
    assert set(JOB_KINDS) == set(JobKind)


def test_trigger_serializes_any_kind_and_rejects_mixed_ids() -> None:
    trigger = AnaplanTaskTrigger(
        anaplan_conn_id="c", kind="cloudworks_run", job={"integration_id": "I1", "run_id": "R1"}, end_time=5.0
    )
    classpath, kwargs = trigger.serialize()
    assert kwargs["kind"] == "cloudworks_run" and kwargs["job"] == {"integration_id": "I1", "run_id": "R1"}
    assert "action_id" not in kwargs and "task_id" not in kwargs
    again = AnaplanTaskTrigger(**kwargs)
    assert again.serialize() == (classpath, kwargs)
    assert (again.anaplan_task_id, again.action_id) == ("R1", "I1")
    with pytest.raises(AnaplanConfigError, match="bulk-task ids"):
        AnaplanTaskTrigger(anaplan_conn_id="c", kind="model_open", task_id="x")
    bulk = AnaplanTaskTrigger(anaplan_conn_id="c", job={"action_id": "112000000000", "task_id": "T"})
    assert bulk.serialize()[1]["task_id"] == "T" and "kind" not in bulk.serialize()[1]


def test_trigger_polls_a_job_kind_and_fires_the_contract(emulator: Any) -> None:
    with AnaplanHook() as hook:
        hook.upload_file(FILE_PRODUCTS, PRODUCTS)
        task_id = hook.start_task(IMPORT_PRODUCTS)
    trigger = AnaplanTaskTrigger(
        anaplan_conn_id="anaplan_default", job={"action_id": IMPORT_PRODUCTS, "task_id": task_id}, poll_interval=0.1
    )

    async def run() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    events = asyncio.run(run())
    assert len(events) == 1
    event = events[0]
    assert event["status"] == "success" and event["kind"] == "bulk_task"
    assert event["job"] == {"action_id": IMPORT_PRODUCTS, "task_id": task_id} and event["task_id"] == task_id
    assert event["task"]["state"] == "COMPLETE"


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_job_operator_in_dag_test(dag_runner: Any, emulator: Any, deferrable: bool) -> None:
    emulator.admin.configure(min_task_seconds=0.3)
    with DAG(f"job_{deferrable}", schedule=None, start_date=START) as dag:
        ImportJobOperator(task_id="job", deferrable=deferrable, poll_interval=0.1)
    dr = dag_runner.run(dag)
    assert dag_runner.states(dr) == {"job": "success"}
    result = dag_runner.xcom(dr, "job")
    assert result["kind"] == "bulk_task" and result["state"] == "COMPLETE" and result["rows"]
    assert emulator.admin.counters()["tasks_created"] == {IMPORT_PRODUCTS: 1}


def test_failed_job_raises_by_the_outcome_rule_and_is_released(emulator: Any, make_context: Any) -> None:
    op = ImportJobOperator(task_id="job", content=BAD_PRODUCTS, deferrable=False, poll_interval=0.1)
    ctx = make_context()
    with pytest.raises(AnaplanTaskFailedError, match="not successful.*maybe"):
        op.execute(ctx)
    assert len(op.released) == 1 and ctx["task_state_store"].get(JOB_STATE_KEY) is None
    ok = ImportJobOperator(
        task_id="job", content=BAD_PRODUCTS, deferrable=False, poll_interval=0.1, fail_on_partial=False
    )
    assert ok.execute(make_context())["accepted_partial"] is True


def test_deferral_records_the_job_and_a_retry_reattaches(emulator: Any, make_context: Any) -> None:
    emulator.admin.configure(min_task_seconds=2)
    ctx = make_context()
    op = ImportJobOperator(task_id="job", deferrable=True, poll_interval=0.1, timeout=600)
    with pytest.raises(TaskDeferred) as info:
        op.execute(ctx)
    trigger = info.value.trigger
    assert isinstance(trigger, AnaplanTaskTrigger) and trigger.kind is JobKind.BULK_TASK
    saved = ctx["task_state_store"].get(JOB_STATE_KEY)
    assert saved["job"] == trigger.job and op.released == []  # still running: nothing released
    # the worker died while deferred; the retry (same store) reattaches instead of starting again
    retry = ImportJobOperator(task_id="job", deferrable=False, poll_interval=0.1)
    assert retry.execute(ctx)["job"] == trigger.job
    assert emulator.admin.counters()["tasks_created"] == {IMPORT_PRODUCTS: 1}
    assert ctx["task_state_store"].get(JOB_STATE_KEY) is None


def test_timeout_cancels_the_job(emulator: Any, make_context: Any) -> None:
    emulator.admin.configure(min_task_seconds=30)
    op = ImportJobOperator(task_id="job", deferrable=False, poll_interval=0.1, timeout=0.5)
    with pytest.raises(AnaplanTaskTimeoutError, match="cancellation was requested|CANCELL"):
        op.execute(make_context())
    assert op.released


def test_execute_complete_timeout_event(emulator: Any, make_context: Any) -> None:
    emulator.admin.configure(min_task_seconds=30)
    ctx = make_context()
    op = ImportJobOperator(task_id="job", deferrable=True, poll_interval=0.1, timeout=600)
    with pytest.raises(TaskDeferred) as info:
        op.execute(ctx)
    job = info.value.trigger.job
    event = {"status": "timeout", "message": "late", "kind": "bulk_task", "job": job, "task_id": "", "action_id": ""}
    with pytest.raises(AnaplanTaskTimeoutError, match=r"\[timeout\] late"):
        op.execute_complete(ctx, event)
    assert op.released == [job]
