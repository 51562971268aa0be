"""Task creation is never foreign and never doubled (targeted faults, real HTTP against the emulator).

A task POST is sent at most once. After an ambiguous failure the client takes a task only when it is
provably its own (new since the start, claimed by no other start of the deployment, the only one),
otherwise it raises :class:`AnaplanTaskStartUnknownError` — see ``client/coordination.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from airflow_provider_anaplan.client import AnaplanAsyncClient
from airflow_provider_anaplan.client.coordination import MemoryCoordination
from airflow_provider_anaplan.exceptions import AnaplanTaskStartUnknownError

BY_VERSION = "112000000002"  # Revenue import that needs the mapping parameter Version
POSTS = rf"/imports/{BY_VERSION}/tasks$"


def created(emulator: Any) -> int:
    return emulator.admin.counters()["tasks_created"].get(BY_VERSION, 0)


async def test_mapped_run_never_takes_another_runs_task(make_config: Any, anaplan_emulator: Any) -> None:
    """Run A's POST is held and then refused (nothing created); meanwhile run B (other mapping) starts
    its own task. A must not report B's task as its own (before: it did, and A's data never loaded)."""
    anaplan_emulator.admin.add_fault(method="POST", path_regex=POSTS, hold_ms=1000, status=503, count=1)
    async with AnaplanAsyncClient(make_config(start_confirm_window=2.0)) as a, AnaplanAsyncClient(make_config()) as b:
        first = asyncio.create_task(a.start_task(BY_VERSION, {"Version": "Budget"}))
        await asyncio.sleep(0.3)
        task_b = await b.start_task(BY_VERSION, {"Version": "Forecast"})
        with pytest.raises(AnaplanTaskStartUnknownError) as info:
            await first
    assert task_b not in str(info.value) and info.value.candidates == []
    assert "not sent again" in str(info.value)
    assert created(anaplan_emulator) == 1  # B's only; A's POST was never repeated


async def test_lost_replies_of_concurrent_runs_each_get_their_own(make_config: Any, anaplan_emulator: Any) -> None:
    """A's task is created but its answer lost while B starts too: A takes the one B did not claim."""
    anaplan_emulator.admin.add_fault(method="POST", path_regex=POSTS, hold_ms=800, status=503, when="after", count=1)
    async with AnaplanAsyncClient(make_config()) as a, AnaplanAsyncClient(make_config()) as b:
        first = asyncio.create_task(a.start_task(BY_VERSION, {"Version": "Budget"}))
        await asyncio.sleep(0.2)
        task_b = await b.start_task(BY_VERSION, {"Version": "Forecast"})
        task_a = await first
    assert task_a != task_b
    assert created(anaplan_emulator) == 2
    detail = anaplan_emulator.admin.counters().get("tasks_created_detail", {}).get(BY_VERSION)
    if detail is not None:  # the emulator records which mapping made which task
        mapping = {d["task_id"]: d["mapping"] for d in detail}
        assert mapping[task_a] == {"Version": "Budget"} and mapping[task_b] == {"Version": "Forecast"}


async def test_post_held_past_the_timeout_then_executed_is_not_doubled(
    make_config: Any, anaplan_emulator: Any
) -> None:
    """The POST is held 2.5 s (client timeout 1 s) and executed afterwards: one task, and it is ours
    (before: the client saw no task yet, POSTed again, and one held POST became several tasks)."""
    anaplan_emulator.admin.add_fault(method="POST", path_regex=POSTS, hold_ms=2500, count=1)
    async with AnaplanAsyncClient(make_config(timeout=1.0)) as client:
        task_id = await client.start_task(BY_VERSION, {"Version": "Budget"})
    await asyncio.sleep(3.0)  # anything still held would have landed by now
    assert created(anaplan_emulator) == 1
    listed = [t["taskId"] for t in anaplan_emulator.admin.tasks()[BY_VERSION]]
    assert listed == [task_id]


async def test_task_list_failing_while_resolving_does_not_start_another(
    make_config: Any, anaplan_emulator: Any
) -> None:
    """The answer is lost and the task list then fails (503 beyond the client's retries): the client
    keeps looking until the list answers, instead of giving up or POSTing again."""
    admin = anaplan_emulator.admin
    admin.add_fault(method="POST", path_regex=POSTS, status=503, when="after", count=1)
    async with AnaplanAsyncClient(make_config()) as client:
        real_list = client.list_tasks
        calls = {"n": 0}

        async def flaky_list(action_id: Any) -> Any:
            calls["n"] += 1
            if calls["n"] in (2, 3):  # the first listing (before the POST) passes; the next two fail
                admin.add_fault(method="GET", path_regex=POSTS, status=503, count=4)
            return await real_list(action_id)

        client.list_tasks = flaky_list  # type: ignore[method-assign]
        task_id = await client.start_task(BY_VERSION, {"Version": "Budget"})
    assert created(anaplan_emulator) == 1
    assert [t["taskId"] for t in admin.tasks()[BY_VERSION]] == [task_id]


class FlakyCoordination(MemoryCoordination):
    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def put(self, scope: str, record_id: str, value: str) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise OSError("coordination store unavailable")
        super().put(scope, record_id, value)


async def test_coordination_store_failing_once_is_retried(make_config: Any, anaplan_emulator: Any) -> None:
    store = FlakyCoordination(failures=1)
    async with AnaplanAsyncClient(make_config(coordination=store)) as client:
        task_id = await client.start_task(BY_VERSION, {"Version": "Budget"})
    assert created(anaplan_emulator) == 1
    records = [r for scope in store._data.values() for r in scope.values()]
    assert any(task_id in r for r in records)  # the start claimed its task


async def test_coordination_store_down_sends_nothing(make_config: Any, anaplan_emulator: Any) -> None:
    """If the start cannot even be registered, nothing is sent (a retry cannot double it)."""
    store = FlakyCoordination(failures=100)
    async with AnaplanAsyncClient(make_config(coordination=store)) as client:
        with pytest.raises(OSError):
            await client.start_task(BY_VERSION, {"Version": "Budget"})
    assert created(anaplan_emulator) == 0
