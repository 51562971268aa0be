"""AnaplanTaskTrigger against the emulator over real HTTP (PITFALLS "Deferrable operators and triggers")."""

from __future__ import annotations

import asyncio
import gc
import importlib
import json
import time
import warnings
from typing import Any
from unittest import mock

import pytest

from airflow_provider_anaplan.client.status import TaskState, TaskStatus
from airflow_provider_anaplan.hooks.anaplan import AnaplanAsyncHook
from airflow_provider_anaplan.triggers.task import AnaplanTaskTrigger, event_for_terminal

IMPORT_PRODUCTS = "112000000000"
FILE_PRODUCTS = "113000000000"
CONTRACT_KEYS = {"status", "message", "task_id", "action_id", "task", "kind", "job"}
GOOD_PRODUCTS = b"Product,Category,Discontinued\nP010,Hardware,false\nP011,Software,true\n"


async def start(action_id: str = IMPORT_PRODUCTS, content: bytes = GOOD_PRODUCTS) -> str:
    hook = AnaplanAsyncHook()
    try:
        await hook.upload_file(FILE_PRODUCTS, content)
        return await hook.start_task(action_id)
    finally:
        await hook.aclose()


def trigger_for(task_id: str, action_id: str = IMPORT_PRODUCTS, **kw: Any) -> AnaplanTaskTrigger:
    kw.setdefault("poll_interval", 0.1)
    return AnaplanTaskTrigger(anaplan_conn_id="anaplan_default", action_id=action_id, task_id=task_id, **kw)


async def all_events(trigger: AnaplanTaskTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]


def deletes(counters: dict[str, Any]) -> int:
    return sum(n for k, n in counters["requests"].items() if k.startswith("DELETE") and "tasks" in k)


async def test_success_exactly_one_event_then_run_ends(emulator: Any) -> None:
    task_id = await start()
    events = await all_events(trigger_for(task_id))
    assert len(events) == 1
    event = events[0]
    assert set(event) == CONTRACT_KEYS
    assert event["status"] == "success" and event["task_id"] == task_id and event["action_id"] == IMPORT_PRODUCTS
    assert event["task"]["state"] == "COMPLETE" and event["task"]["successful"] is True
    json.dumps(event)  # JSON-safe


async def test_failed_import_gives_failed_event(emulator: Any) -> None:
    bad = b"Product,Category,Discontinued\nP100,Hardware,false\nP101,Hardware,maybe\n"
    task_id = await start(content=bad)
    [event] = await all_events(trigger_for(task_id))
    assert event["status"] == "failed"
    assert event["task"]["successful"] is False and event["task"]["failure_dump_available"] is True
    assert task_id in event["message"]


async def test_cancelled_task_gives_cancelled_event(emulator: Any) -> None:
    emulator.admin.configure(min_task_seconds=5)
    task_id = await start()
    hook = AnaplanAsyncHook()
    await hook.cancel_task(IMPORT_PRODUCTS, task_id)
    await hook.aclose()
    [event] = await all_events(trigger_for(task_id))
    assert event["status"] == "cancelled"


async def test_timeout_event_and_task_left_running(emulator: Any) -> None:
    emulator.admin.configure(min_task_seconds=5)
    task_id = await start()
    started = time.monotonic()
    [event] = await all_events(trigger_for(task_id, end_time=time.time() + 0.5))
    assert event["status"] == "timeout" and "deadline" in event["message"]
    assert time.monotonic() - started < 2
    assert deletes(emulator.admin.counters()) == 0  # execute_complete cancels, not the trigger


async def test_restored_trigger_with_past_deadline_polls_once_at_once(emulator: Any) -> None:
    """Past its deadline, a re-created trigger still polls once (the task may have finished meanwhile;
    see test_trigger_faults.py); for a task Anaplan does not know, that poll is a permanent error."""
    original = trigger_for("abc123", end_time=time.time() - 1)
    classpath, kwargs = original.serialize()
    module, name = classpath.rsplit(".", 1)
    restored = getattr(importlib.import_module(module), name)(**kwargs)
    assert restored.end_time == original.end_time
    emulator.admin.reset_counters()
    started = time.monotonic()
    [event] = await all_events(restored)
    assert event["status"] == "error" and "404" in event["message"]
    assert time.monotonic() - started < 2  # no jitter sleep: one authentication and one poll
    polls = [k for k in emulator.admin.counters()["requests"] if k.startswith("GET") and "tasks/{" in k]
    assert sum(emulator.admin.counters()["requests"][k] for k in polls) == 1


async def test_sync_get_connection_forbidden_inside_run(emulator: Any) -> None:
    from airflow.sdk import BaseHook, Connection

    task_id = await start()
    boom = mock.Mock(side_effect=AssertionError("sync get_connection called on the event loop"))
    with mock.patch.object(BaseHook, "get_connection", boom), mock.patch.object(Connection, "get", boom):
        [event] = await all_events(trigger_for(task_id))
    assert event["status"] == "success"
    boom.assert_not_called()


async def test_transient_503_during_polling_does_not_fail(emulator: Any) -> None:
    emulator.admin.configure(min_task_seconds=0.5)
    task_id = await start()
    emulator.admin.add_fault(method="GET", path_regex=f"/tasks/{task_id}$", status=503, count=2)
    [event] = await all_events(trigger_for(task_id))
    assert event["status"] == "success"
    assert sum(emulator.admin.counters()["faults"].values()) >= 2


@pytest.mark.parametrize("status", [403, 404])  # a 401 is transient (test_trigger_faults.py)
async def test_permanent_poll_error_gives_one_error_event(emulator: Any, status: int) -> None:
    task_id = await start()
    emulator.admin.add_fault(method="GET", path_regex=f"/tasks/{task_id}$", status=status)
    events = await all_events(trigger_for(task_id))
    assert len(events) == 1 and events[0]["status"] == "error"
    assert set(events[0]) == CONTRACT_KEYS and str(status) in events[0]["message"]


async def test_one_authentication_across_many_polls(emulator: Any) -> None:
    emulator.admin.configure(min_task_seconds=1.0)
    task_id = await start()
    before = sum(emulator.admin.counters()["authentications"].values())
    [event] = await all_events(trigger_for(task_id, poll_interval=0.1))
    counters = emulator.admin.counters()
    polls = sum(n for k, n in counters["requests"].items() if k.startswith("GET") and "tasks/{" in k)
    assert event["status"] == "success" and polls >= 5
    assert sum(counters["authentications"].values()) == before  # the token from start() is reused


async def test_plain_cancelled_error_never_cancels_the_anaplan_task(emulator: Any) -> None:
    emulator.admin.configure(min_task_seconds=3)
    task_id = await start()
    runner = asyncio.ensure_future(all_events(trigger_for(task_id)))
    await asyncio.sleep(0.5)
    runner.cancel()  # triggerer shutdown / hand-over
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert deletes(emulator.admin.counters()) == 0
    # a re-created copy goes on polling the same task to completion
    [event] = await all_events(trigger_for(task_id))
    assert event["status"] == "success"


async def test_on_kill_cancels_once(emulator: Any) -> None:
    emulator.admin.configure(min_task_seconds=5)
    task_id = await start()
    trigger = trigger_for(task_id)
    await trigger.on_kill()
    await trigger.on_kill()
    assert deletes(emulator.admin.counters()) == 1
    [event] = await all_events(trigger_for(task_id))
    assert event["status"] == "cancelled"


async def test_on_kill_failure_is_swallowed(emulator: Any) -> None:
    trigger = trigger_for("nosuchtask")
    await trigger.on_kill()  # 404 from Anaplan: logged, not raised


async def test_two_concurrent_copies_same_event_no_side_effects(emulator: Any) -> None:
    emulator.admin.configure(min_task_seconds=0.5)
    task_id = await start()
    created = dict(emulator.admin.counters()["tasks_created"])
    a, b = await asyncio.gather(all_events(trigger_for(task_id)), all_events(trigger_for(task_id)))
    assert len(a) == len(b) == 1
    assert {k: v for k, v in a[0].items() if k != "task"} == {k: v for k, v in b[0].items() if k != "task"}
    counters = emulator.admin.counters()
    assert counters["tasks_created"] == created and deletes(counters) == 0


async def test_loop_not_blocked_by_slow_anaplan(emulator: Any) -> None:
    emulator.admin.configure(min_task_seconds=1.0)
    task_id = await start()
    emulator.admin.set_faults(latency_ms=300)
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            before = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - before - 0.01)

    tick = asyncio.ensure_future(ticker())
    [event] = await all_events(trigger_for(task_id, poll_interval=0.2))
    done.set()
    await tick
    assert event["status"] == "success"
    assert max(lags) < 0.1, f"event loop blocked for {max(lags):.3f} s"


def test_serialize_round_trip_through_serde_carries_no_secret(emulator: Any) -> None:
    try:
        from airflow.sdk.serde import deserialize, serialize
    except ImportError:  # Airflow 3.1
        from airflow.serialization.serde import deserialize, serialize

    trigger = trigger_for("t1", end_time=1234.5, workspace_id=emulator.workspace_id)
    classpath, kwargs = trigger.serialize()
    assert deserialize(serialize(kwargs)) == kwargs
    assert set(kwargs) == {"anaplan_conn_id", "workspace_id", "model_id", "action_id", "task_id", "poll_interval", "end_time"}
    text = json.dumps(serialize(kwargs))
    for secret in (emulator.password, "password", "token", "secret"):
        assert secret not in text
    module, name = classpath.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    assert cls is AnaplanTaskTrigger
    assert cls(**deserialize(serialize(kwargs))).serialize() == (classpath, kwargs)


@pytest.mark.parametrize(
    ("state", "successful", "expected"),
    [
        ("COMPLETE", True, "success"),
        ("COMPLETE", False, "failed"),
        ("COMPLETE", None, "failed"),
        ("CANCELLED", None, "cancelled"),
        ("NOT_STARTED", None, None),
        ("IN_PROGRESS", None, None),
        ("CANCELLING", None, None),
        ("SOMETHING_NEW", None, None),
    ],
)
def test_every_task_state(state: str, successful: bool | None, expected: str | None) -> None:
    payload: dict[str, Any] = {"taskId": "T1", "taskState": state, "progress": 0.5}
    if successful is not None:
        payload["result"] = {"successful": successful, "failureDumpAvailable": False}
    status = TaskStatus.from_api("112000000000", {"task": payload})
    if expected is None:
        assert not status.is_terminal  # keep polling (the deadline bounds an unknown state)
        return
    assert status.is_terminal
    event = event_for_terminal(status)
    assert event["status"] == expected and set(event) == CONTRACT_KEYS
    if status.state is TaskState.COMPLETE:
        assert event["task"]["successful"] is successful


async def test_triggerer_assigning_its_task_instance_keeps_the_anaplan_task_id(emulator: Any) -> None:
    """A real triggerer sets ``trigger.task_instance``; BaseTrigger then overwrites ``trigger.task_id``
    with the *Airflow* task id. The trigger must go on polling the Anaplan task it was given."""
    task_id = await start()
    trigger = trigger_for(task_id)
    trigger.task_instance = mock.Mock(task_id="import_products", spec=["task_id"])
    events = await all_events(trigger)
    assert [e["status"] for e in events] == ["success"]
    assert events[0]["task_id"] == task_id
    assert trigger.serialize()[1]["task_id"] == task_id


async def test_token_expiring_during_a_long_deferral_is_refreshed_ahead(emulator: Any) -> None:
    """PITFALLS 4/5: the deferral outlives several token lifetimes. The trigger refreshes the token
    before it expires (no new login, no 401 replay) and completes."""
    emulator.admin.configure(token_ttl_seconds=2, min_task_seconds=5.0)
    task_id = await start()
    before = dict(emulator.admin.counters()["authentications"])
    [event] = await all_events(trigger_for(task_id, poll_interval=0.2))
    after = emulator.admin.counters()["authentications"]
    assert event["status"] == "success"
    assert after.get("refresh", 0) - before.get("refresh", 0) >= 2
    assert after.get("basic", 0) == before.get("basic", 0)  # never re-authenticated (no 401 either)


async def test_hundreds_of_triggers_leave_nothing_open(emulator: Any) -> None:
    """PITFALLS 21: many triggers in one loop each close what they open (no ResourceWarning)."""
    task_ids = [await start() for _ in range(20)]
    triggers = [trigger_for(t, poll_interval=0.3) for t in task_ids for _ in range(5)]  # 100 triggers
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        results = await asyncio.gather(*(all_events(t) for t in triggers))
        gc.collect()
    outcomes = [[(e["status"], e["message"]) for e in events] for events in results]
    assert all([status for status, _ in o] == ["success"] for o in outcomes), [
        o for o in outcomes if [s for s, _ in o] != ["success"]
    ][:3]
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == []
