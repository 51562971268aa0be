"""Fault injection: 429 + Retry-After, 500/503, dropped connections (before/after), latency,
bandwidth, token TTL, scripted count/rate rules, admin never faulted; request counters."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle

from .conftest import M, login

FILES = "GET /2/0/workspaces/{workspaceId}/models/{modelId}/files"


def test_429_with_retry_after_then_recovers(emu: EmulatorHandle, client: httpx.Client) -> None:
    emu.admin.add_fault(method="GET", path_regex=r"/files$", status=429, retry_after=7, count=2)
    for _ in range(2):
        r = client.get(f"{M}/files")
        assert r.status_code == 429
        assert r.headers["Retry-After"] == "7"
        assert r.json()["status"]["code"] == 429
    assert client.get(f"{M}/files").status_code == 200
    counters = emu.admin.counters()
    assert counters["requests"][FILES] == 3
    assert counters["statuses"][f"{FILES} -> 429"] == 2
    assert counters["statuses"][f"{FILES} -> 200"] == 1
    assert counters["faults"]["429"] == 2


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors(emu: EmulatorHandle, client: httpx.Client, status: int) -> None:
    emu.admin.add_fault(path_regex="/users/me", status=status, count=1)
    r = client.get("/2/0/users/me")
    assert r.status_code == status and r.json()["status"]["code"] == status
    assert "Retry-After" not in r.headers
    assert client.get("/2/0/users/me").status_code == 200


def test_error_rates_are_probabilistic_and_filtered(emu: EmulatorHandle, client: httpx.Client) -> None:
    emu.admin.set_faults(error_rates={"503": 0.5}, methods=["GET"], path_regex="/files$", seed=1234)
    statuses = [client.get(f"{M}/files").status_code for _ in range(60)]
    assert 10 < statuses.count(503) < 50
    assert set(statuses) == {200, 503}
    assert all(client.get(f"{M}/imports").status_code == 200 for _ in range(10))  # path filter
    assert client.post(f"{M}/files/113000000000", json={"chunkCount": 1}).status_code == 200  # method filter
    emu.admin.clear_faults()
    assert all(client.get(f"{M}/files").status_code == 200 for _ in range(10))


def test_drop_before_closes_the_connection(emu: EmulatorHandle, client: httpx.Client) -> None:
    emu.admin.add_fault(method="GET", path_regex="/users/me", drop=True, count=1)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.get("/2/0/users/me")
    assert client.get("/2/0/users/me").status_code == 200
    assert emu.admin.counters()["faults"]["drop"] == 1


def test_drop_after_task_creation_is_ambiguous(emu: EmulatorHandle, client: httpx.Client) -> None:
    emu.admin.add_fault(
        method="POST", path_regex=r"/imports/112000000000/tasks$", drop=True, when="after", count=1
    )
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.post(f"{M}/imports/112000000000/tasks", json={"localeName": "en_US"})
    tasks = client.get(f"{M}/imports/112000000000/tasks").json()["tasks"]
    assert len(tasks) == 1, "the task was created although the client saw no response"
    assert emu.admin.counters()["tasks_created"] == {"112000000000": 1}


def test_status_after_handler_ran(emu: EmulatorHandle, client: httpx.Client) -> None:
    emu.admin.add_fault(method="POST", path_regex=r"/tasks$", status=500, when="after", count=1)
    r = client.post(f"{M}/actions/117000000000/tasks", json={"localeName": "en_US"})
    assert r.status_code == 500
    assert len(client.get(f"{M}/actions/117000000000/tasks").json()["tasks"]) == 1


def test_latency(emu: EmulatorHandle, client: httpx.Client) -> None:
    emu.admin.set_faults(latency_ms=300)
    began = time.monotonic()
    assert client.get("/2/0/users/me").status_code == 200
    assert time.monotonic() - began >= 0.3
    began = time.monotonic()
    emu.admin.counters()  # admin is never slowed down
    assert time.monotonic() - began < 0.25


def test_rule_delay(emu: EmulatorHandle, client: httpx.Client) -> None:
    emu.admin.add_fault(path_regex="/workspaces$", delay_ms=250, count=1)
    began = time.monotonic()
    assert client.get("/2/0/workspaces").status_code == 200
    assert time.monotonic() - began >= 0.25


def test_shared_bandwidth_cap(emu: EmulatorHandle, client: httpx.Client) -> None:
    emu.admin.set_faults(bandwidth_bytes_per_second=400_000)
    client.post(f"{M}/files/113000000000", json={"chunkCount": 2})
    payload = b"x" * 200_000
    errors: list[int] = []

    def put(index: int) -> None:
        r = client.put(f"{M}/files/113000000000/chunks/{index}", content=payload)
        errors.append(r.status_code)

    began = time.monotonic()
    threads = [threading.Thread(target=put, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    assert errors == [204, 204]
    assert elapsed >= 0.9, f"400 kB at 400 kB/s shared took only {elapsed:.2f}s"
    began = time.monotonic()
    assert len(client.get(f"{M}/files/113000000000").content) == 400_000
    assert time.monotonic() - began >= 0.9


def test_token_ttl_fault(emu: EmulatorHandle) -> None:
    emu.admin.set_faults(token_ttl_seconds=0.3)
    token = login(emu.url)
    headers = {"Authorization": f"AnaplanAuthToken {token}"}
    assert httpx.get(f"{emu.url}/2/0/users/me", headers=headers).status_code == 200
    time.sleep(0.35)
    assert httpx.get(f"{emu.url}/2/0/users/me", headers=headers).status_code == 401


def test_admin_never_faulted(emu: EmulatorHandle) -> None:
    emu.admin.set_faults(error_rates={"500": 1.0}, drop_rate=0)
    emu.admin.add_fault(drop=True)
    assert emu.admin.health() and emu.admin.counters()["requests"] == {}
    rules = emu.admin.faults()["rules"]
    assert [(r["status"], r["drop"], r["fired"]) for r in rules] == [(500, False, 0), (None, True, 0)]


def test_rules_fire_in_order_and_clear(emu: EmulatorHandle, client: httpx.Client) -> None:
    emu.admin.add_fault(path_regex="/users/me", status=503, count=1)
    emu.admin.add_fault(path_regex="/users/me", status=429, count=1)
    assert [client.get("/2/0/users/me").status_code for _ in range(3)] == [503, 429, 200]
    fired = [r["fired"] for r in emu.admin.faults()["rules"]]
    assert fired == [1, 1]
    emu.admin.add_fault(path_regex="/users/me", status=500)
    emu.admin.clear_faults()
    assert client.get("/2/0/users/me").status_code == 200


def test_bad_fault_rules_rejected(emu: EmulatorHandle) -> None:
    with pytest.raises(RuntimeError, match="400"):
        emu.admin.add_fault(path_regex="/x")
    with pytest.raises(RuntimeError, match="400"):
        emu.admin.add_fault(status=500, when="during")
    with pytest.raises(RuntimeError, match="400"):
        emu.admin.set_faults(bogus=1)


def test_counters_count_route_templates_per_form(emu: EmulatorHandle, client: httpx.Client) -> None:
    client.put(f"{M}/files/113000000000/chunks/0", content=b"a")
    client.get(f"/2/0/models/{emu.model_id}/files")
    requests = emu.admin.counters()["requests"]
    assert requests["PUT /2/0/workspaces/{workspaceId}/models/{modelId}/files/{fileId}/chunks/{chunkId}"] == 1
    assert requests["GET /2/0/models/{modelId}/files"] == 1
    assert requests["POST /token/authenticate"] == 1
    emu.admin.reset_counters()
    assert emu.admin.counters()["requests"] == {}
