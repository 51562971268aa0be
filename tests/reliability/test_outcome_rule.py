"""ONE outcome rule: every layer (client, sync operator, trigger, execute_complete, sensor) agrees.

The same task payloads (odd ``result.successful`` values, CANCELLED with and without results,
non-terminal and unknown states) are fed through every layer over real HTTP: a real task is started
in the emulator, and a forcing httpx transport (the client's test seam) replaces the ``task`` object
of each status answer with the payload under test. Every layer must reach the same verdict.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_anaplan.client import (
    AnaplanAsyncClient,
    AnaplanClient,
    BasicCredentials,
    ClientConfig,
    RetryPolicy,
    TaskStatus,
    clear_token_cache,
    raise_for_task,
)
from airflow_provider_anaplan.client.status import TaskOutcome
from airflow_provider_anaplan.exceptions import (
    AnaplanTaskCancelledError,
    AnaplanTaskFailedError,
    AnaplanTaskTimeoutError,
)
from airflow_provider_anaplan.testing.context import operator_context

IMPORT_PRODUCTS = "112000000000"
FILE_PRODUCTS = "113000000000"
CONN_ID = "anaplan_outcome"
FAST_RETRY = RetryPolicy(max_attempts=3, backoff_initial=0.01, backoff_max=0.02, retry_after_max=0.05)
GOOD_PRODUCTS = b"Product,Category,Discontinued\nP100,Hardware,false\n"
_TASK_PATH = re.compile(r"/tasks/[^/]+$")

# (id, task object without taskId, expected verdict)
CASES: list[tuple[str, dict[str, Any], str]] = [
    ("successful-true", {"taskState": "COMPLETE", "result": {"successful": True}}, "success"),
    ("successful-false", {"taskState": "COMPLETE", "result": {"successful": False}}, "failed"),
    ("successful-missing", {"taskState": "COMPLETE", "result": {"failureDumpAvailable": False}}, "failed"),
    ("successful-str-true", {"taskState": "COMPLETE", "result": {"successful": "true"}}, "success"),
    ("successful-str-TRUE", {"taskState": "COMPLETE", "result": {"successful": " TRUE "}}, "success"),
    ("successful-str-false", {"taskState": "COMPLETE", "result": {"successful": "false"}}, "failed"),
    ("successful-none", {"taskState": "COMPLETE", "result": {"successful": None}}, "failed"),
    ("successful-odd", {"taskState": "COMPLETE", "result": {"successful": "maybe"}}, "failed"),
    ("no-result", {"taskState": "COMPLETE"}, "failed"),
    ("cancelled-with-results", {"taskState": "CANCELLED", "result": {"successful": True}}, "cancelled"),
    ("cancelled", {"taskState": "CANCELLED"}, "cancelled"),
    ("not-started", {"taskState": "NOT_STARTED"}, "running"),
    ("unknown-state", {"taskState": "EXPLODED"}, "running"),
]
IDS = [c[0] for c in CASES]


class ForcingTransport(httpx.AsyncBaseTransport):
    """Real HTTP to the emulator; a task status answer gets its ``task`` replaced by ``forced``."""

    forced: dict[str, Any] | None = None

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        forced = ForcingTransport.forced
        if forced is None or request.method != "GET" or not _TASK_PATH.search(request.url.path):
            return response
        body = await response.aread()
        await response.aclose()
        if response.status_code != 200:
            return httpx.Response(response.status_code, headers=response.headers, content=body)
        task = json.loads(body).get("task") or {}
        replaced = {"taskId": task.get("taskId"), "progress": 1.0, **forced}
        return httpx.Response(200, json={"task": replaced})

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def forced(anaplan_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Every AnaplanAsyncClient (hence every hook, trigger and sync client) uses a ForcingTransport."""
    clear_token_cache()
    anaplan_emulator.admin.configure(rows_per_second=1_000_000)
    original = AnaplanAsyncClient.__init__

    def init(self: AnaplanAsyncClient, config: ClientConfig, *, transport: Any = None) -> None:
        original(self, config, transport=transport or ForcingTransport())

    monkeypatch.setattr(AnaplanAsyncClient, "__init__", init)
    extras = {
        "api_url": anaplan_emulator.api_url,
        "auth_url": anaplan_emulator.auth_url,
        "oauth_url": anaplan_emulator.oauth_url,
        "workspace_id": anaplan_emulator.workspace_id,
        "model_id": anaplan_emulator.model_id,
    }
    conn = {"conn_type": "anaplan", "login": anaplan_emulator.user, "password": anaplan_emulator.password, "extra": extras}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    ForcingTransport.forced = None
    try:
        yield anaplan_emulator
    finally:
        ForcingTransport.forced = None
        clear_token_cache()


def config(emu: Any) -> ClientConfig:
    return ClientConfig(
        BasicCredentials(emu.user, emu.password),
        workspace_id=emu.workspace_id,
        model_id=emu.model_id,
        api_url=emu.api_url,
        auth_url=emu.auth_url,
        oauth_url=emu.oauth_url,
        retry=FAST_RETRY,
        poll_interval=0.1,
        timeout=10.0,
    )


def label_of(call: Any) -> str:
    """Run ``call`` and name the verdict it reached."""
    from airflow.sdk.exceptions import AirflowSensorTimeout

    try:
        result = call()
    except AnaplanTaskCancelledError:
        return "cancelled"
    except AnaplanTaskFailedError:
        return "failed"
    except (AnaplanTaskTimeoutError, AirflowSensorTimeout):
        return "running"
    if result is False:  # a sensor poke: not done yet
        return "running"
    return "success"


def event_label(event: dict[str, Any]) -> str:
    return {"timeout": "running"}.get(event["status"], event["status"])


def started_task(emu: Any) -> str:
    with AnaplanClient(config(emu)) as client:
        client.upload_file(FILE_PRODUCTS, GOOD_PRODUCTS)
        task_id = client.start_task(IMPORT_PRODUCTS)
        client.wait_for_task(IMPORT_PRODUCTS, task_id, timeout=10)  # really finished in the emulator
    return task_id


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("name", "payload", "expected"), CASES, ids=IDS)
def test_every_layer_reaches_the_same_verdict(forced: Any, name: str, payload: dict[str, Any], expected: str) -> None:
    from airflow_provider_anaplan.operators.imports import AnaplanImportOperator
    from airflow_provider_anaplan.sensors.task import AnaplanTaskSensor
    from airflow_provider_anaplan.triggers.task import AnaplanTaskTrigger, event_for_terminal

    emu = forced
    task_id = started_task(emu)
    ForcingTransport.forced = payload
    verdicts: dict[str, str] = {}

    # the pure rule
    status = TaskStatus.from_api(IMPORT_PRODUCTS, {"task": {"taskId": task_id, **payload}})
    verdicts["TaskStatus.outcome"] = {TaskOutcome.RUNNING: "running"}.get(status.outcome, status.outcome.value)
    verdicts["raise_for_task"] = label_of(lambda: (raise_for_task(status), status.is_terminal)[1])
    if status.is_terminal:
        verdicts["event_for_terminal"] = event_label(event_for_terminal(status))

    # the client over HTTP
    with AnaplanClient(config(emu)) as client:
        verdicts["client.wait_for_task"] = label_of(
            lambda: client.wait_for_task(IMPORT_PRODUCTS, task_id, poll_interval=0.1, timeout=0.5)
        )
        verdicts["client.run_action"] = label_of(lambda: client.run_action(IMPORT_PRODUCTS, timeout=0.5))

    async def via_async() -> str:
        async with AnaplanAsyncClient(config(emu)) as aclient:
            return label_of_async(await _capture(aclient.wait_for_task(IMPORT_PRODUCTS, task_id, timeout=0.5)))

    verdicts["async client.wait_for_task"] = asyncio.run(via_async())

    # the operator, synchronously
    op_kw = {"anaplan_conn_id": CONN_ID, "import_id": IMPORT_PRODUCTS, "poll_interval": 0.1}
    verdicts["operator.execute"] = label_of(
        lambda: AnaplanImportOperator(task_id="sync_op", timeout=1.0, **op_kw).execute(operator_context())
    )

    # the trigger, then execute_complete with its event (on a fresh operator)
    trigger = AnaplanTaskTrigger(
        anaplan_conn_id=CONN_ID, action_id=IMPORT_PRODUCTS, task_id=task_id, poll_interval=0.1, end_time=time.time() + 1.0
    )

    async def run_trigger() -> list[dict[str, Any]]:
        return [e.payload async for e in trigger.run()]

    [event] = asyncio.run(run_trigger())
    verdicts["trigger"] = event_label(event)
    verdicts["operator.execute_complete"] = label_of(
        lambda: AnaplanImportOperator(task_id="deferred_op", **op_kw).execute_complete(operator_context(), event)
    )

    # the sensor: one poke, and execute_complete with the trigger's event
    sensor = AnaplanTaskSensor(
        task_id="sensor", anaplan_conn_id=CONN_ID, action_id=IMPORT_PRODUCTS, task_id_to_watch=task_id, poke_interval=0.1
    )
    verdicts["sensor.poke"] = label_of(lambda: sensor.poke(operator_context()))
    verdicts["sensor.execute_complete"] = label_of(lambda: sensor.execute_complete(operator_context(), event))

    assert verdicts == dict.fromkeys(verdicts, expected), verdicts


class _Captured:
    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value, self.error = value, error


async def _capture(awaitable: Any) -> _Captured:
    try:
        return _Captured(await awaitable)
    except Exception as exc:
        return _Captured(error=exc)


def label_of_async(captured: _Captured) -> str:
    def replay() -> Any:
        if captured.error is not None:
            raise captured.error
        return captured.value

    return label_of(replay)


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [(True, True), (False, False), ("true", True), ("TRUE", True), (" True ", True), ("false", False),
     ("FALSE", False), (None, None), ("yes", None), (1, None), (0, None)],
)
def test_successful_is_parsed_tolerantly(raw: Any, parsed: bool | None) -> None:
    status = TaskStatus.from_api(IMPORT_PRODUCTS, {"task": {"taskId": "T", "taskState": "COMPLETE", "result": {"successful": raw}}})
    assert status.successful is parsed
    assert status.outcome is (TaskOutcome.SUCCESS if parsed else TaskOutcome.FAILED)


def test_no_verdict_message_says_anaplan_gave_none() -> None:
    status = TaskStatus.from_api(IMPORT_PRODUCTS, {"task": {"taskId": "T", "taskState": "COMPLETE", "result": {}}})
    with pytest.raises(AnaplanTaskFailedError, match="no verdict"):
        raise_for_task(status)
    verdict = status.verdict()
    assert not verdict.ok and "no verdict" in verdict.reason


def test_partial_success_policy() -> None:
    """``fail_on_partial`` refines the one rule the same way for the client and the operators."""
    details = [{"values": ["successRowCount", "3", "failedCount", "1", "ignoredCount", "1"]}]
    ok_with_rejects = TaskStatus.from_api(
        IMPORT_PRODUCTS,
        {"task": {"taskId": "T", "taskState": "COMPLETE", "result": {"successful": True, "details": details}}},
    )
    assert ok_with_rejects.outcome is TaskOutcome.SUCCESS
    assert not ok_with_rejects.verdict(fail_on_partial=True).ok
    assert ok_with_rejects.verdict(fail_on_partial=False).ok
    failed_some_loaded = TaskStatus.from_api(
        IMPORT_PRODUCTS,
        {"task": {"taskId": "T", "taskState": "COMPLETE", "result": {"successful": False, "details": details}}},
    )
    partial = failed_some_loaded.verdict(fail_on_partial=False)
    assert partial.ok and partial.accepted_partial
    assert not failed_some_loaded.verdict(fail_on_partial=True).ok
    with pytest.raises(AnaplanTaskFailedError):
        raise_for_task(ok_with_rejects, fail_on_partial=True)
    raise_for_task(failed_some_loaded, fail_on_partial=False)  # accepted partial load: no exception
    # the client's default (None): Anaplan's verdict alone
    raise_for_task(ok_with_rejects)
    with pytest.raises(AnaplanTaskFailedError):
        raise_for_task(failed_some_loaded)
