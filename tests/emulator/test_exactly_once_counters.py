"""Counters for exactly-once tests (refresh grants, refresh-token reuse, task creations with their
mapping parameters) and the task list (``creationTime`` per task, consistent with ``taskState``)."""

from __future__ import annotations

import time

import httpx
import pytest

from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle

from .conftest import PRODUCTS_CSV, M, SpecValidator, start, upload, wait

ROTATING = "emulator-rotating-client"
DEVICE = "emulator-device-client"
P = "/workspaces/{workspaceId}/models/{modelId}"


def refresh(anon: httpx.Client, client_id: str, token: str) -> httpx.Response:
    body = {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": token}
    return anon.post("/oauth/token", data=body)


def test_refresh_grants_and_reuse_are_counted(emu: EmulatorHandle, anon: httpx.Client) -> None:
    first = emu.admin.issue_oauth_tokens(ROTATING)["refresh_token"]
    second = refresh(anon, ROTATING, first).json()["refresh_token"]
    for _ in range(2):  # a spent token presented again: refused, nothing else changes
        r = refresh(anon, ROTATING, first)
        assert r.status_code == 403 and r.json()["error"] == "invalid_grant"
    third = refresh(anon, ROTATING, second)
    assert third.status_code == 200, "a reuse attempt must not revoke the newer token"
    static = emu.admin.issue_oauth_tokens(DEVICE)["refresh_token"]
    for _ in range(2):
        assert refresh(anon, DEVICE, static).status_code == 200
    assert refresh(anon, ROTATING, "never-issued").status_code == 403
    counters = emu.admin.counters()
    assert counters["oauth_refresh_grants"] == {ROTATING: 2, DEVICE: 2}
    assert counters["refresh_token_reuse"] == {ROTATING: 2}
    assert counters["auth_failures"]["oauth_refresh"] == 3
    tokens = emu.admin.refresh_tokens(ROTATING)
    assert [t["spent"] for t in tokens] == [True, True, False]
    assert [t["alive"] for t in tokens] == [False, False, True]
    assert tokens[-1]["refresh_token"] == third.json()["refresh_token"] and tokens[-1]["user"] == emu.user


def test_expired_token_is_not_a_reuse(emu: EmulatorHandle, anon: httpx.Client) -> None:
    token = emu.admin.issue_oauth_tokens(ROTATING)["refresh_token"]
    emu.admin.expire_tokens("refresh")
    assert refresh(anon, ROTATING, token).status_code == 403
    counters = emu.admin.counters()
    assert counters["refresh_token_reuse"] == {} and counters["oauth_refresh_grants"] == {}


def test_tasks_created_detail_tells_the_tasks_apart(emu: EmulatorHandle, client: httpx.Client) -> None:
    ids = {}
    for version in ("Budget", "Forecast"):
        mapping = [{"entityType": "Version", "entityName": version}]
        ids[version] = start(client, "processes", "118000000001", mappingParameters=mapping)
    start(client, "exports", "116000000000")
    listed = {t["taskId"]: t for t in client.get(f"{M}/processes/118000000001/tasks").json()["tasks"]}
    counters = emu.admin.counters()
    assert counters["tasks_created"] == {"118000000001": 2, "116000000000": 1}
    detail = counters["tasks_created_detail"]
    assert [(d["task_id"], d["mapping"]) for d in detail["118000000001"]] == [
        (ids["Budget"], {"Version": "Budget"}),
        (ids["Forecast"], {"Version": "Forecast"}),
    ]
    for entry in detail["118000000001"]:
        assert entry["created_at"] == listed[entry["task_id"]]["creationTime"]
        assert entry["user_id"] == "8a868cdd7bd58ea7017c0b0ab35b04e1"
    assert detail["116000000000"][0]["mapping"] == {}
    emu.admin.reset_counters()
    assert emu.admin.counters()["tasks_created_detail"] == {}


@pytest.mark.parametrize(
    ("segment", "param", "action_id"),
    [
        ("imports", "importId", "112000000000"),
        ("exports", "exportId", "116000000000"),
        ("actions", "actionId", "117000000000"),
        ("processes", "processId", "118000000000"),
    ],
)
def test_task_list_creation_time_and_state(
    emu: EmulatorHandle,
    client: httpx.Client,
    spec: SpecValidator,
    segment: str,
    param: str,
    action_id: str,
) -> None:
    upload(client, "113000000000", PRODUCTS_CSV.encode())  # imports and processes fail at once without it
    emu.admin.configure(min_task_seconds=0.4)
    before = int(time.time() * 1000)
    created = []
    for _ in range(2):  # one model runs one task at a time: the second waits NOT_STARTED
        r = client.post(f"{M}/{segment}/{action_id}/tasks", json={"localeName": "en_US"})
        created.append(r.json()["task"])
        time.sleep(0.01)
    after = int(time.time() * 1000)
    time.sleep(0.1)
    r = client.get(f"{M}/{segment}/{action_id}/tasks")
    listed = spec.validate("bulk", "GET", f"{P}/{segment}/{{{param}}}/tasks", r)["tasks"]
    assert [t["taskId"] for t in listed] == [t["taskId"] for t in created]
    for item, made in zip(listed, created, strict=True):
        assert isinstance(item["creationTime"], int) and before <= item["creationTime"] <= after
        assert item["creationTime"] == made["creationTime"]
        one = client.get(f"{M}/{segment}/{action_id}/tasks/{item['taskId']}").json()["task"]
        assert (one["taskState"], one["creationTime"]) == (item["taskState"], item["creationTime"])
    assert [t["taskState"] for t in listed] == ["IN_PROGRESS", "NOT_STARTED"]
    client.delete(f"{M}/{segment}/{action_id}/tasks/{created[1]['taskId']}")
    wait(client, segment, action_id, created[0]["taskId"])
    wait(client, segment, action_id, created[1]["taskId"])
    listed = client.get(f"{M}/{segment}/{action_id}/tasks", params={"sort": "-creationTime"}).json()["tasks"]
    assert [(t["taskId"], t["taskState"]) for t in listed] == [
        (created[1]["taskId"], "CANCELLED"),
        (created[0]["taskId"], "COMPLETE"),
    ]


def test_task_list_can_be_faulted(emu: EmulatorHandle, client: httpx.Client) -> None:
    task_id = start(client, "imports", "112000000000")
    emu.admin.add_fault(
        method="GET", path_regex=r"/imports/112000000000/tasks$", sequence=[503, "drop", 429, "pass"]
    )
    url = f"{M}/imports/112000000000/tasks"
    assert client.get(url).status_code == 503
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.get(url)
    assert client.get(url).status_code == 429
    assert [t["taskId"] for t in client.get(url).json()["tasks"]] == [task_id]
    template = "GET /2/0/workspaces/{workspaceId}/models/{modelId}/imports/{importId}/tasks"
    statuses = emu.admin.counters()["statuses"]
    assert {k: v for k, v in statuses.items() if k.startswith(template)} == {
        f"{template} -> 503": 1,
        f"{template} -> 0": 1,
        f"{template} -> 429": 1,
        f"{template} -> 200": 1,
    }
