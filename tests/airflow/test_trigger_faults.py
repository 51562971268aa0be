"""AnaplanTaskTrigger under faults, restarts and deadlines; what execute_complete then reports.

* a trigger re-created after its deadline polls once and reports the task's real outcome;
* transient failures (503 storms, a second 401 within one request, dropped connections, expired
  tokens) never produce an ``error`` event: the trigger keeps polling with backoff until the deadline;
* ``error`` only for permanent failures (404, 403);
* ``execute_complete`` never says "cancelled" for a timeout and never clears the reattach state of a
  task that may still run or that completed.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from airflow_provider_anaplan.client import RetryPolicy
from airflow_provider_anaplan.exceptions import AnaplanConfigError, AnaplanTaskError, AnaplanTaskTimeoutError
from airflow_provider_anaplan.hooks.anaplan import AnaplanAsyncHook, AnaplanHook
from airflow_provider_anaplan.operators.base import STATE_KEY
from airflow_provider_anaplan.operators.imports import AnaplanImportOperator
from airflow_provider_anaplan.triggers.task import AnaplanTaskTrigger

IMPORT_PRODUCTS = "112000000000"
FILE_PRODUCTS = "113000000000"
PRODUCTS = b"Product,Category,Discontinued\nP010,Hardware,false\nP011,Software,true\n"
BAD_PRODUCTS = b"Product,Category,Discontinued\nP100,Hardware,false\nP101,Hardware,maybe\n"
FAST_RETRY = RetryPolicy(max_attempts=3, backoff_initial=0.02, backoff_max=0.1, retry_after_max=0.2)


@pytest.fixture(autouse=True)
def _metadata_db(airflow_db: str) -> None:
    """Hooks may keep coordination state in the metadata database (Variables)."""


@pytest.fixture
def fast_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Triggers use a quick retry policy (3 attempts): transient failures exhaust a poll often."""

    def hook(self: AnaplanTaskTrigger) -> AnaplanAsyncHook:
        return AnaplanAsyncHook(
            self.anaplan_conn_id, workspace_id=self.workspace_id, model_id=self.model_id, retry=FAST_RETRY
        )

    monkeypatch.setattr(AnaplanTaskTrigger, "_hook", hook)


def start_tasks(count: int = 1, content: bytes = PRODUCTS) -> list[str]:
    with AnaplanHook() as hook:
        hook.upload_file(FILE_PRODUCTS, content)
        return [hook.start_task(IMPORT_PRODUCTS) for _ in range(count)]


def finished_task(content: bytes = PRODUCTS) -> str:
    [task_id] = start_tasks(1, content)
    with AnaplanHook() as hook:
        hook.wait_for_task(IMPORT_PRODUCTS, task_id, poll_interval=0.1, timeout=30, raise_on_failure=False)
    return task_id


def trigger_for(task_id: str, **kw: Any) -> AnaplanTaskTrigger:
    kw.setdefault("poll_interval", 0.2)
    return AnaplanTaskTrigger(anaplan_conn_id="anaplan_default", action_id=IMPORT_PRODUCTS, task_id=task_id, **kw)


async def one_event(trigger: AnaplanTaskTrigger) -> dict[str, Any]:
    events = [event.payload async for event in trigger.run()]
    assert len(events) == 1, events
    return events[0]


def task_polls(emulator: Any) -> int:
    requests = emulator.admin.counters()["requests"]
    return sum(n for k, n in requests.items() if k.startswith("GET") and k.endswith("/tasks/{taskId}"))


def deletes(emulator: Any) -> int:
    requests = emulator.admin.counters()["requests"]
    return sum(n for k, n in requests.items() if k.startswith("DELETE") and "tasks" in k)


# ------------------------------------------------------------------ restart after the deadline


@pytest.mark.parametrize(("content", "expected"), [(PRODUCTS, "success"), (BAD_PRODUCTS, "failed")])
async def test_recreated_after_deadline_reports_the_real_outcome(emulator: Any, content: bytes, expected: str) -> None:
    """The triggerer was down past the deadline; meanwhile the task completed: report its outcome."""
    task_id = await asyncio.to_thread(finished_task, content)
    original = trigger_for(task_id, end_time=time.time() - 60)
    classpath, kwargs = original.serialize()
    restored = AnaplanTaskTrigger(**kwargs)
    emulator.admin.reset_counters()
    started = time.monotonic()
    event = await one_event(restored)
    assert event["status"] == expected, event
    assert event["task"]["state"] == "COMPLETE"
    assert task_polls(emulator) == 1
    assert time.monotonic() - started < 2  # no jitter sleep past the deadline


async def test_recreated_after_deadline_still_running_times_out_after_one_poll(emulator: Any) -> None:
    emulator.admin.configure(min_task_seconds=5)
    [task_id] = await asyncio.to_thread(start_tasks)
    emulator.admin.reset_counters()
    event = await one_event(trigger_for(task_id, end_time=time.time() - 1))
    assert event["status"] == "timeout" and "last state" in event["message"], event
    assert event["task"] is not None and event["task"]["state"] in ("NOT_STARTED", "IN_PROGRESS")
    assert task_polls(emulator) == 1 and deletes(emulator) == 0


# ------------------------------------------------------------------ transient vs permanent


@pytest.mark.timeout(300)
async def test_fifty_triggers_through_503_storm_and_expiring_tokens(emulator: Any, fast_retry: None) -> None:
    """50 triggers, 30 % of all API calls answer 503 and every token dies every 2 s: all succeed."""
    emulator.admin.configure(min_task_seconds=0.1)
    task_ids = await asyncio.to_thread(start_tasks, 50)
    emulator.admin.reset_counters()
    emulator.admin.set_faults(error_rates={503: 0.3}, seed=7)
    done = asyncio.Event()

    async def expire_tokens() -> int:
        expired = 0
        while not done.is_set():
            await asyncio.sleep(2.0)
            await asyncio.to_thread(emulator.admin.expire_tokens)
            expired += 1
        return expired

    expirer = asyncio.ensure_future(expire_tokens())
    try:
        events = await asyncio.gather(
            *(one_event(trigger_for(t, poll_interval=0.2, end_time=time.time() + 240)) for t in task_ids)
        )
    finally:
        done.set()
        expirations = await expirer
    emulator.admin.clear_faults()
    statuses = [e["status"] for e in events]
    assert statuses == ["success"] * 50, [e for e in events if e["status"] != "success"][:3]
    counters = emulator.admin.counters()
    assert sum(n for k, n in counters["statuses"].items() if k.endswith("-> 503")) > 50  # the storm happened
    assert expirations >= 2 and counters["authentications"].get("basic", 0) >= 2  # re-authenticated


async def test_second_401_within_one_request_is_not_an_error(emulator: Any, fast_retry: None) -> None:
    emulator.admin.configure(min_task_seconds=1.0)
    [task_id] = await asyncio.to_thread(start_tasks)
    # the poll gets 401, re-authenticates, replays, and gets 401 again: the request fails
    emulator.admin.add_fault(method="GET", path_regex=f"/tasks/{task_id}$", status=401, count=2)
    event = await one_event(trigger_for(task_id, end_time=time.time() + 30))
    assert event["status"] == "success", event
    fired = emulator.admin.counters()["faults"]
    assert [n for k, n in fired.items() if k.startswith("rule")] == [2], fired


async def test_exhausted_retries_and_dropped_connections_are_not_errors(emulator: Any, fast_retry: None) -> None:
    emulator.admin.configure(min_task_seconds=1.0)
    [task_id] = await asyncio.to_thread(start_tasks)
    emulator.admin.add_fault(method="GET", path_regex=f"/tasks/{task_id}$", status=503, count=7)  # > 2 polls
    emulator.admin.add_fault(method="GET", path_regex=f"/tasks/{task_id}$", drop=True, count=4)
    event = await one_event(trigger_for(task_id, poll_interval=0.1, end_time=time.time() + 60))
    assert event["status"] == "success", event


async def test_transient_failures_until_the_deadline_give_timeout_not_error(emulator: Any, fast_retry: None) -> None:
    emulator.admin.configure(min_task_seconds=5)
    [task_id] = await asyncio.to_thread(start_tasks)
    emulator.admin.add_fault(method="GET", path_regex=f"/tasks/{task_id}$", status=503)
    started = time.monotonic()
    event = await one_event(trigger_for(task_id, poll_interval=0.1, end_time=time.time() + 2))
    assert event["status"] == "timeout", event
    assert "the last poll failed" in event["message"] and "503" in event["message"]
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("status", [403, 404])
async def test_permanent_failures_are_errors_at_once(emulator: Any, fast_retry: None, status: int) -> None:
    emulator.admin.configure(min_task_seconds=5)
    [task_id] = await asyncio.to_thread(start_tasks)
    emulator.admin.add_fault(method="GET", path_regex=f"/tasks/{task_id}$", status=status)
    started = time.monotonic()
    event = await one_event(trigger_for(task_id, end_time=time.time() + 60))
    assert event["status"] == "error" and str(status) in event["message"], event
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"poll_interval": float("nan")}, "poll_interval must be a finite number of seconds"),
        ({"poll_interval": float("inf")}, "poll_interval must be a finite number of seconds"),
        ({"poll_interval": 0.01}, "poll_interval must be >= 0.1 seconds"),
        ({"poll_interval": True}, "poll_interval must be a number of seconds"),
        ({"poll_interval": "5"}, "poll_interval must be a number of seconds"),
        ({"end_time": float("nan")}, "end_time must be None or epoch seconds"),
        ({"end_time": "tomorrow"}, "end_time must be None or epoch seconds"),
    ],
)
def test_trigger_arguments_are_validated(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(AnaplanConfigError, match=message):
        AnaplanTaskTrigger(anaplan_conn_id="anaplan_default", action_id=IMPORT_PRODUCTS, task_id="T", **kwargs)


# ------------------------------------------------------------------ what execute_complete reports


def op() -> AnaplanImportOperator:
    return AnaplanImportOperator(task_id="load", import_id=IMPORT_PRODUCTS, poll_interval=0.2, timeout=60)


def context_with_state(make_context: Any, task_id: str) -> Any:
    context = make_context()
    context["task_state_store"].set(STATE_KEY, {"action_id": IMPORT_PRODUCTS, "task_id": task_id})
    return context


def event(status: str, task_id: str, message: str = "the trigger said so") -> dict[str, Any]:
    return {"status": status, "message": message, "task_id": task_id, "action_id": IMPORT_PRODUCTS, "task": None}


def test_timeout_with_failed_cancel_keeps_state_and_says_so(emulator: Any, make_context: Any) -> None:
    emulator.admin.configure(min_task_seconds=5)
    [task_id] = start_tasks()
    emulator.admin.add_fault(method="DELETE", path_regex="/tasks/", status=403)  # refused, not retried
    context = context_with_state(make_context, task_id)
    with pytest.raises(AnaplanTaskTimeoutError) as info:
        op().execute_complete(context, event("timeout", task_id))
    text = str(info.value)
    assert "cancelling it FAILED" in text and "may still be running" in text, text
    assert "was cancelled" not in text
    assert context["task_state_store"].get(STATE_KEY)["task_id"] == task_id  # a retry reattaches


def test_timeout_while_cancelling_keeps_state(emulator: Any, make_context: Any) -> None:
    emulator.admin.configure(min_task_seconds=5, cancel_delay_seconds=2)
    [task_id] = start_tasks()
    time.sleep(0.3)  # running
    context = context_with_state(make_context, task_id)
    with pytest.raises(AnaplanTaskTimeoutError) as info:
        op().execute_complete(context, event("timeout", task_id))
    text = str(info.value)
    assert "cancellation was requested" in text and "CANCELLING" in text, text
    assert context["task_state_store"].get(STATE_KEY)["task_id"] == task_id


def test_timeout_for_a_task_that_completed_meanwhile_keeps_state(emulator: Any, make_context: Any) -> None:
    task_id = finished_task()
    context = context_with_state(make_context, task_id)
    with pytest.raises(AnaplanTaskTimeoutError) as info:
        op().execute_complete(context, event("timeout", task_id))
    text = str(info.value)
    assert "COMPLETE" in text and "a retry reuses its result" in text and "was cancelled" not in text, text
    assert context["task_state_store"].get(STATE_KEY)["task_id"] == task_id
    # the retry reattaches to the completed task and succeeds without a second task
    created = emulator.admin.counters()["tasks_created"][IMPORT_PRODUCTS]
    result = op().execute(context)
    assert result["task_id"] == task_id and result["successful"] is True
    assert emulator.admin.counters()["tasks_created"][IMPORT_PRODUCTS] == created
    assert STATE_KEY not in context["task_state_store"].data


def test_error_event_keeps_state(emulator: Any, make_context: Any) -> None:
    emulator.admin.configure(min_task_seconds=5)
    [task_id] = start_tasks()
    context = context_with_state(make_context, task_id)
    with pytest.raises(AnaplanTaskError, match=r"\[error\]"):
        op().execute_complete(context, event("error", task_id))
    assert context["task_state_store"].get(STATE_KEY)["task_id"] == task_id
    assert deletes(emulator) == 0


def test_cancelled_event_clears_state(emulator: Any, make_context: Any) -> None:
    emulator.admin.configure(min_task_seconds=5)
    [task_id] = start_tasks()
    with AnaplanHook() as hook:
        hook.cancel_task(IMPORT_PRODUCTS, task_id)
    context = context_with_state(make_context, task_id)
    with pytest.raises(AnaplanTaskError, match=r"\[cancelled\]"):
        op().execute_complete(context, event("cancelled", task_id))
    assert STATE_KEY not in context["task_state_store"].data


def test_sync_operator_polls_through_exhausted_retries(emulator: Any, make_context: Any) -> None:
    """The sync path follows the same rule: a poll whose retries are exhausted is not the end."""
    emulator.admin.configure(min_task_seconds=1.0)
    operator = AnaplanImportOperator(
        task_id="load", import_id=IMPORT_PRODUCTS, uploads={FILE_PRODUCTS: PRODUCTS}, poll_interval=0.1, timeout=60
    )
    operator.hook = AnaplanHook(retry=FAST_RETRY)  # 3 attempts per request
    emulator.admin.add_fault(method="GET", path_regex=r"/tasks/[0-9A-F]+$", status=503, count=7)
    result = operator.execute(make_context())
    assert result["successful"] is True
    fired = emulator.admin.counters()["faults"]
    assert [n for k, n in fired.items() if k.startswith("rule")] == [7], fired


def test_sync_operator_times_out_through_transient_failures(emulator: Any, make_context: Any) -> None:
    emulator.admin.configure(min_task_seconds=30)
    operator = AnaplanImportOperator(
        task_id="load", import_id=IMPORT_PRODUCTS, uploads={FILE_PRODUCTS: PRODUCTS}, poll_interval=0.1, timeout=2
    )
    operator.hook = AnaplanHook(retry=FAST_RETRY)
    emulator.admin.add_fault(method="GET", path_regex=r"/tasks/[0-9A-F]+$", status=503)
    with pytest.raises(AnaplanTaskTimeoutError) as info:
        operator.execute(make_context())
    text = str(info.value)
    assert "did not finish within 2 s" in text and "the last poll failed" in text, text
    assert "cancellation was requested" in text, text
