"""``hold_ms``: the request is held before its handler, which then runs even if the client has gone."""

from __future__ import annotations

import time

import httpx
import pytest

from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle

from .conftest import M, login

TASKS = "POST /2/0/workspaces/{workspaceId}/models/{modelId}/imports/{importId}/tasks"


def test_held_task_post_executes_after_the_client_timed_out(emu: EmulatorHandle) -> None:
    rule = emu.admin.add_fault(
        method="POST", path_regex=r"/imports/112000000002/tasks$", hold_ms=1500, count=1
    )
    token = login(emu.url)
    body = {"localeName": "en_US", "mappingParameters": [{"entityType": "Version", "entityName": "Plan"}]}
    headers = {"Authorization": f"AnaplanAuthToken {token}"}
    began = time.monotonic()
    with (
        httpx.Client(base_url=emu.url, headers=headers, timeout=0.5) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        impatient.post(f"{M}/imports/112000000002/tasks", json=body)
    assert time.monotonic() - began < 1.2
    assert emu.admin.counters()["tasks_created"] == {}, "held: not executed yet"
    time.sleep(2.0)
    counters = emu.admin.counters()
    assert counters["tasks_created"] == {"112000000002": 1}
    [detail] = counters["tasks_created_detail"]["112000000002"]
    assert detail["mapping"] == {"Version": "Plan"}
    assert counters["lost_replies"] == {f"{TASKS} -> 200": 1}
    assert counters["faults"] == {f"rule {rule['id']}": 1, "hold": 1}
    listed = httpx.get(f"{emu.url}{M}/imports/112000000002/tasks", headers=headers).json()["tasks"]
    assert [t["taskId"] for t in listed] == [detail["task_id"]]


def test_held_request_answers_normally_when_the_client_waits(
    emu: EmulatorHandle, client: httpx.Client
) -> None:
    emu.admin.add_fault(method="POST", path_regex=r"/actions/117000000000/tasks$", hold_ms=300, count=1)
    began = time.monotonic()
    r = client.post(f"{M}/actions/117000000000/tasks", json={"localeName": "en_US"})
    assert r.status_code == 200 and time.monotonic() - began >= 0.3
    assert emu.admin.counters()["lost_replies"] == {}
    assert (
        client.get(f"{M}/actions/117000000000/tasks").json()["tasks"][0]["taskId"]
        == r.json()["task"]["taskId"]
    )


def test_hold_then_reply_lost(emu: EmulatorHandle, client: httpx.Client) -> None:
    """``hold_ms`` combines with a fault: held, executed, then answered 503."""
    emu.admin.add_fault(method="POST", path_regex=r"/tasks$", hold_ms=200, status=503, when="after", count=1)
    began = time.monotonic()
    assert client.post(f"{M}/exports/116000000000/tasks", json={"localeName": "en_US"}).status_code == 503
    assert time.monotonic() - began >= 0.2
    assert emu.admin.counters()["tasks_created"] == {"116000000000": 1}


def test_hold_with_a_large_body_reads_it_before_holding(emu: EmulatorHandle, client: httpx.Client) -> None:
    client.post(f"{M}/files/113000000000", json={"chunkCount": 1})
    emu.admin.add_fault(method="PUT", path_regex=r"/chunks/0$", hold_ms=1000, count=1)
    data = b"Product,Category,Discontinued\n" + b"P1,Hardware,false\n" * 200_000
    with pytest.raises(httpx.ReadTimeout):
        client.put(f"{M}/files/113000000000/chunks/0", content=data, timeout=0.3)
    time.sleep(1.5)
    assert client.get(f"{M}/files/113000000000/chunks").json()["chunks"][0]["id"] == "0"
    assert client.get(f"{M}/files/113000000000/chunks/0").content == data


def test_reset_discards_a_held_request(emu: EmulatorHandle) -> None:
    emu.admin.add_fault(method="POST", path_regex=r"/tasks$", hold_ms=500, count=1)
    token = login(emu.url)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{emu.url}{M}/actions/117000000000/tasks",
            json={"localeName": "en_US"},
            headers={"Authorization": f"AnaplanAuthToken {token}"},
            timeout=0.2,
        )
    emu.admin.reset()
    time.sleep(0.6)
    assert emu.admin.counters()["tasks_created"] == {}
    assert emu.admin.tasks() == {}
