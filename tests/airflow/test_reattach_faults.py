"""An operator's retry never starts a second Anaplan task: targeted faults on the state it keeps.

Each test reproduces one way a retry used to start a second task: the task state store failing (once,
or for good), the previous try's task unreadable for a while, a try that died between its task POST and
recording the task id. Plus: concurrent runs uploading to one file are serialised.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from airflow_provider_anaplan.client.coordination import StartClaims, new_tasks
from airflow_provider_anaplan.operators.base import STATE_KEY
from airflow_provider_anaplan.operators.imports import AnaplanImportOperator
from airflow_provider_anaplan.operators.reattach import TaskStateError
from airflow_provider_anaplan.testing.context import InMemoryTaskStateStore

IMPORT_PRODUCTS, FILE_PRODUCTS = "112000000000", "113000000000"
PRODUCTS = b"Product,Category,Discontinued\nP701,Hardware,false\nP702,Software,true\n"


def import_op(content: bytes = PRODUCTS, **kw: Any) -> AnaplanImportOperator:
    kw.setdefault("task_id", "load")
    kw.setdefault("poll_interval", 0.2)
    return AnaplanImportOperator(import_id=IMPORT_PRODUCTS, uploads={FILE_PRODUCTS: content}, **kw)


def creations(emulator: Any) -> int:
    return emulator.admin.counters()["tasks_created"].get(IMPORT_PRODUCTS, 0)


class FlakyStore(InMemoryTaskStateStore):
    """A task state store whose ``set`` fails ``failures`` times (all of them with ``failures=-1``),
    optionally only for records that carry a task id."""

    def __init__(self, failures: int, only_task_ids: bool = False) -> None:
        super().__init__()
        self.failures = failures
        self.only_task_ids = only_task_ids

    def set(self, key: str, value: Any, **kw: Any) -> None:
        if self.failures != 0 and (not self.only_task_ids or (value or {}).get("task_id")):
            self.failures -= 1 if self.failures > 0 else 0
            raise ConnectionError("task state store unavailable")
        super().set(key, value, **kw)


def test_state_store_failing_once_is_retried(emulator: Any, make_context: Any) -> None:
    store = FlakyStore(failures=1)
    result = import_op().execute(make_context(store))
    assert result["successful"] is True
    assert creations(emulator) == 1


def test_state_store_down_sends_no_task(emulator: Any, make_context: Any) -> None:
    """The start intent cannot be saved: the try stops *before* the task POST, so no retry can double it."""
    with pytest.raises(TaskStateError, match="stopping this try"):
        import_op().execute(make_context(FlakyStore(failures=-1)))
    assert creations(emulator) == 0


def test_task_id_never_recorded_retry_still_finds_the_task(emulator: Any, make_context: Any) -> None:
    """The intent was saved, the task id write failed for good, the try died: the retry resolves the
    start through the deployment's start claim and reattaches (before: a second task)."""
    emulator.admin.configure(min_task_seconds=1)
    store = FlakyStore(failures=-1, only_task_ids=True)
    first = import_op()
    task_id = first.start(make_context(store))  # the try "dies" after starting
    assert store.data[STATE_KEY]["task_id"] is None and store.data[STATE_KEY]["intent"]
    store.failures = 0  # the store works again for the retry
    result = import_op().execute(make_context(store))
    assert result["task_id"] == task_id
    assert creations(emulator) == 1


def test_retry_reads_previous_task_through_transient_failures(emulator: Any, make_context: Any) -> None:
    """The previous try's task cannot be read for a while (503s beyond the client's retries): the retry
    keeps reading instead of starting a second task."""
    emulator.admin.configure(min_task_seconds=1)
    store = InMemoryTaskStateStore()
    task_id = import_op().start(make_context(store))
    emulator.admin.add_fault(method="GET", path_regex=rf"/tasks/{task_id}$", status=503, retry_after=0, count=6)
    result = import_op().execute(make_context(store))
    assert result["task_id"] == task_id and result["successful"] is True
    assert creations(emulator) == 1


def test_try_killed_between_post_and_claim_is_resolved_on_retry(emulator: Any, make_context: Any) -> None:
    """The previous try registered its start and POSTed (the task exists) but died before it knew the
    task id: the retry takes that task, which no other start claims, instead of starting another."""
    from airflow_provider_anaplan.hooks.anaplan import AnaplanHook

    emulator.admin.configure(min_task_seconds=0.5)
    with AnaplanHook() as hook:
        hook.upload_file(FILE_PRODUCTS, PRODUCTS)
        cfg = hook.get_client_config()
        tasks = hook.list_tasks(IMPORT_PRODUCTS)
        since = time.time()
        claims = StartClaims(cfg.coordination)
        from airflow_provider_anaplan.client.sync import run_sync

        intent = run_sync(
            claims.register(
                StartClaims.scope(cfg.workspace_id, cfg.model_id, IMPORT_PRODUCTS),
                IMPORT_PRODUCTS,
                since,
                [t["taskId"] for t in new_tasks(tasks, (), since)],
            )
        )
    store = InMemoryTaskStateStore()
    store.set(STATE_KEY, {"action_id": IMPORT_PRODUCTS, "intent": intent.to_dict(), "task_id": None, "leases": []})
    # the dead try's POST: Anaplan created the task, and nobody recorded it
    auth = httpx.post(f"{emulator.auth_url}/token/authenticate", auth=(emulator.user, emulator.password)).json()
    header = {"Authorization": f"AnaplanAuthToken {auth['tokenInfo']['tokenValue']}"}
    made = httpx.post(
        f"{emulator.model_url}/imports/{IMPORT_PRODUCTS}/tasks", json={"localeName": "en_US"}, headers=header
    ).json()["task"]["taskId"]
    result = import_op().execute(make_context(store))
    assert result["task_id"] == made
    assert creations(emulator) == 1


def test_concurrent_runs_writing_one_file_take_turns(emulator: Any, make_context: Any) -> None:
    """Two runs of one import with different content for the same file: the second waits for the first
    run's task to finish before it uploads (files are per user and not safe for concurrent writers)."""
    emulator.admin.configure(min_task_seconds=1.5)
    first = b"Product,Category,Discontinued\nP801,Hardware,false\n"
    second = b"Product,Category,Discontinued\nP802,Software,false\n"
    results: dict[str, Any] = {}
    errors: list[BaseException] = []

    def run(name: str, content: bytes) -> None:
        try:
            results[name] = import_op(content, task_id=name).execute(make_context())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=("a", first)), threading.Thread(target=run, args=("b", second))]
    threads[0].start()
    time.sleep(0.3)
    threads[1].start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    names = {item["name"] for item in emulator.admin.list_items("101000000001")}
    assert {"P801", "P802"} <= names  # each import read its own upload
    details = emulator.admin.counters()["tasks_created_detail"][IMPORT_PRODUCTS]
    assert len(details) == 2
    assert results["a"]["successful"] and results["b"]["successful"]


def _file_leases(hook_config: Any) -> dict[str, str]:
    from airflow_provider_anaplan.client.coordination import FileLeases

    scope = FileLeases.scope(hook_config.workspace_id, hook_config.model_id, FILE_PRODUCTS)
    return hook_config.coordination.scan(scope)


def test_lease_released_after_a_deferral(emulator: Any, make_context: Any) -> None:
    """The lease taken before the upload is given back by execute_complete on a fresh operator (the
    resumed task), not left to expire (before: every later run waited for it)."""
    import asyncio

    from airflow_provider_anaplan.compat import TaskDeferred
    from airflow_provider_anaplan.hooks.anaplan import AnaplanHook

    emulator.admin.configure(min_task_seconds=1)  # still running when the operator decides to defer
    store = InMemoryTaskStateStore()
    with pytest.raises(TaskDeferred) as deferred:
        import_op(deferrable=True).execute(make_context(store))
    config = AnaplanHook().get_client_config()
    assert len(_file_leases(config)) == 1  # held while the trigger waits

    async def first_event() -> Any:
        async for event in deferred.value.trigger.run():
            return event.payload

    event = asyncio.run(first_event())
    result = import_op(deferrable=True).execute_complete(make_context(store), event)
    assert result["successful"] is True
    assert _file_leases(config) == {}
    assert import_op().execute(make_context())["successful"] is True  # the next run does not wait


def test_retry_after_a_crash_mid_upload_does_not_wait_for_its_own_lease(emulator: Any, make_context: Any) -> None:
    from airflow_provider_anaplan.hooks.anaplan import AnaplanHook

    def broken() -> Any:
        yield b"Product,Category,Discontinued\n"
        raise RuntimeError("worker died mid-upload")

    store = InMemoryTaskStateStore()
    with pytest.raises(RuntimeError):
        AnaplanImportOperator(
            task_id="load", import_id=IMPORT_PRODUCTS, uploads={FILE_PRODUCTS: broken()}, poll_interval=0.2
        ).start(make_context(store))  # start() has no finally: the lease stays, as after a SIGKILL
    assert store.data[STATE_KEY]["leases"]  # recorded before the upload began
    assert len(_file_leases(AnaplanHook().get_client_config())) == 1
    started = time.monotonic()
    result = import_op().execute(make_context(store))
    assert result["successful"] is True and time.monotonic() - started < 30
    assert creations(emulator) == 1
