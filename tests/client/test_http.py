"""HTTP policy against the emulator: retries, Retry-After, idempotency, error mapping."""

from __future__ import annotations

import email.utils
import logging
import time

import httpx
import pytest

from airflow_provider_anaplan.client import AnaplanAsyncClient, RetryPolicy
from airflow_provider_anaplan.client.http import anaplan_message, parse_retry_after
from airflow_provider_anaplan.exceptions import (
    AnaplanConflictError,
    AnaplanModelLockedError,
    AnaplanNotFoundError,
    AnaplanRateLimitedError,
    AnaplanServerError,
    AnaplanTaskStartUnknownError,
    AnaplanTransportError,
    AnaplanUnprocessableError,
)

FILES = "GET /2/0/workspaces/{workspaceId}/models/{modelId}/files"
TASKS = "/2/0/workspaces/{workspaceId}/models/{modelId}/imports/{importId}/tasks"


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= parse_retry_after(when) <= 31  # type: ignore[operator]


def test_anaplan_message_shapes() -> None:
    req = httpx.Request("GET", "http://x/2/0/a")
    assert (
        anaplan_message(httpx.Response(404, json={"status": {"code": 404, "message": "gone"}}, request=req))
        == "gone"
    )
    assert (
        anaplan_message(httpx.Response(401, json={"status": "FAILURE", "statusMessage": "bad"}, request=req))
        == "bad"
    )
    assert (
        anaplan_message(httpx.Response(403, json={"error": "invalid_grant"}, request=req)) == "invalid_grant"
    )
    assert (
        anaplan_message(httpx.Response(502, text="<html>bad gateway</html>", request=req))
        == "<html>bad gateway</html>"
    )


async def test_retry_after_is_honoured(make_config, anaplan_emulator, caplog) -> None:
    async with AnaplanAsyncClient(make_config()) as client:
        await client.list_files()  # authenticate first so only the retry is timed
        anaplan_emulator.admin.add_fault(
            method="GET", path_regex="/files$", status=429, retry_after=1, count=1
        )
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="airflow_provider_anaplan.client"):
            await client.list_files()
        elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 3.0  # FAST_RETRY backoff alone would be < 0.1 s
    assert "HTTP 429" in caplog.text and "Retry-After" in caplog.text
    assert anaplan_emulator.admin.counters()["statuses"][f"{FILES} -> 429"] == 1


async def test_transient_errors_are_retried(make_config, anaplan_emulator) -> None:
    admin = anaplan_emulator.admin
    admin.add_fault(method="GET", path_regex="/files$", status=503, count=1)
    admin.add_fault(method="GET", path_regex="/files$", status=502, count=1)
    admin.add_fault(method="GET", path_regex="/files$", drop=True, count=1)
    async with AnaplanAsyncClient(make_config()) as client:
        assert len(await client.list_files()) >= 2
    assert admin.counters()["requests"][FILES] == 4


async def test_retries_are_bounded(make_config, anaplan_emulator) -> None:
    anaplan_emulator.admin.add_fault(method="GET", path_regex="/files$", status=500, count=10)
    async with AnaplanAsyncClient(
        make_config(retry=RetryPolicy(max_attempts=3, backoff_initial=0.01))
    ) as client:
        with pytest.raises(
            AnaplanServerError, match=r"HTTP 500 Internal Server Error from GET /2/0/.*/files"
        ) as info:
            await client.list_files()
    assert info.value.status_code == 500 and info.value.method == "GET"
    assert anaplan_emulator.admin.counters()["requests"][FILES] == 3


async def test_rate_limit_after_retries(make_config, anaplan_emulator) -> None:
    anaplan_emulator.admin.add_fault(method="GET", path_regex="/files$", status=429, retry_after=0, count=10)
    async with AnaplanAsyncClient(
        make_config(retry=RetryPolicy(max_attempts=2, backoff_initial=0.01))
    ) as client:
        with pytest.raises(AnaplanRateLimitedError):
            await client.list_files()


async def test_timeout_is_reported_as_such(make_config, anaplan_emulator) -> None:
    anaplan_emulator.admin.add_fault(method="GET", path_regex="/files$", delay_ms=800, count=5)
    config = make_config(timeout=0.3, retry=RetryPolicy(max_attempts=2, backoff_initial=0.01))
    async with AnaplanAsyncClient(config) as client:
        with pytest.raises(AnaplanTransportError, match="timed out after 0.3 s"):
            await client.list_files()


async def test_model_busy_409_is_retried(make_config, anaplan_emulator) -> None:
    anaplan_emulator.admin.add_fault(method="POST", path_regex="/tasks$", status=409, count=1)
    async with AnaplanAsyncClient(make_config()) as client:
        await client.run_action(116000000001)
    assert anaplan_emulator.admin.counters()["tasks_created"] == {"116000000001": 1}


async def test_conflict_after_retries(make_config, anaplan_emulator) -> None:
    anaplan_emulator.admin.add_fault(method="POST", path_regex="/tasks$", status=409, count=10)
    async with AnaplanAsyncClient(
        make_config(retry=RetryPolicy(max_attempts=2, backoff_initial=0.01))
    ) as client:
        with pytest.raises(AnaplanConflictError, match="Export 116000000001: HTTP 409"):
            await client.start_task(116000000001)


@pytest.mark.parametrize(("when", "drop"), [("after", False), ("after", True)])
async def test_ambiguous_task_creation_does_not_duplicate(make_config, anaplan_emulator, when, drop) -> None:
    """The task POST reaches the emulator (task created) but the answer is lost: adopt, don't re-POST."""
    admin = anaplan_emulator.admin
    rule = {"drop": True} if drop else {"status": 500}
    admin.add_fault(method="POST", path_regex="/exports/116000000001/tasks$", when=when, count=1, **rule)
    async with AnaplanAsyncClient(make_config()) as client:
        task_id = await client.start_task(116000000001)
        status = await client.wait_for_task(116000000001, task_id)
    assert status.is_success
    assert admin.counters()["tasks_created"] == {"116000000001": 1}


async def test_task_post_failing_before_creation_is_never_resent(make_config, anaplan_emulator) -> None:
    """A 503 on a task POST may come after Anaplan acted: the POST is not sent again. Nothing appears in
    the confirmation window, so the start ends with a clear "unknown" error and no task at all."""
    admin = anaplan_emulator.admin
    admin.add_fault(
        method="POST", path_regex="/imports/112000000000/tasks$", status=503, when="before", count=1
    )
    async with AnaplanAsyncClient(make_config(start_confirm_window=1.0)) as client:
        await client.upload_file(113000000000, b"Product,Category,Discontinued\nP7,Cat,false\n")
        with pytest.raises(AnaplanTaskStartUnknownError) as info:
            await client.run_action(112000000000)
    assert info.value.candidates == []
    assert "not sent again" in str(info.value) and "no new task of it appeared within 1 s" in str(info.value)
    counters = admin.counters()
    assert counters["tasks_created"] == {}
    assert counters["requests"][f"POST {TASKS}"] == 1


async def test_error_mapping_and_messages(make_config, anaplan_emulator) -> None:
    async with AnaplanAsyncClient(make_config()) as client:
        with pytest.raises(AnaplanNotFoundError) as info:
            await client.get_import(112999999999)
        exc = info.value
        assert str(exc).startswith("Import 112999999999: HTTP 404 Not Found from GET /2/0/workspaces/")
        assert str(exc).endswith("(not found or no access)")
        assert (exc.status_code, exc.object_id, exc.method) == (404, "112999999999", "GET")
        assert exc.anaplan_message == "Import 112999999999 not found or no access"
        assert exc.path.endswith("/imports/112999999999") and "?" not in exc.path


async def test_wrong_workspace_is_not_found(make_config, anaplan_emulator) -> None:
    config = make_config(workspace_id="0" * 32)
    async with AnaplanAsyncClient(config) as client:
        with pytest.raises(AnaplanNotFoundError, match="Workspace 0{32} not found or no access"):
            await client.list_imports()


async def test_model_locked_and_archived(make_config, anaplan_emulator) -> None:
    admin = anaplan_emulator.admin
    admin.add_fault(method="POST", path_regex="/tasks$", status=423, message="Model is locked", count=1)
    admin.add_fault(method="GET", path_regex="/exports$", status=422, message="Model is archived", count=1)
    async with AnaplanAsyncClient(make_config()) as client:
        with pytest.raises(AnaplanModelLockedError, match="HTTP 423 Locked .*: Model is locked"):
            await client.start_task(116000000001)
        with pytest.raises(AnaplanUnprocessableError, match="Model is archived"):
            await client.list_exports()
    assert admin.counters()["tasks_created"] == {}


async def test_list_paging(make_config, anaplan_emulator) -> None:
    async with AnaplanAsyncClient(make_config()) as client:
        client.page_size = 1
        files = await client.list_files()
        imports = await client.list_imports()
    assert len(files) == 4 and len({f["id"] for f in files}) == 4
    assert [i["id"] for i in imports] == ["112000000000", "112000000001", "112000000002"]
    assert anaplan_emulator.admin.counters()["requests"][FILES] == 4
