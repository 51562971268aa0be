"""``skip`` and ``sequence``: failures on chosen calls, counted atomically; rule validation (400)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle

from .conftest import M

LOST = (httpx.RemoteProtocolError, httpx.ReadError)


def test_skip_then_count(emu: EmulatorHandle, client: httpx.Client) -> None:
    emu.admin.add_fault(method="GET", path_regex="/users/me$", skip=2, status=503, count=2)
    assert [client.get("/2/0/users/me").status_code for _ in range(6)] == [200, 200, 503, 503, 200, 200]
    [rule] = emu.admin.faults()["rules"]
    assert (rule["skip"], rule["matched"], rule["fired"], rule["count"]) == (2, 4, 2, 0)


def test_skip_without_count_fires_forever(emu: EmulatorHandle, client: httpx.Client) -> None:
    emu.admin.add_fault(path_regex="/workspaces$", skip=1, status=500)
    assert [client.get("/2/0/workspaces").status_code for _ in range(4)] == [200, 500, 500, 500]


def outcome(call) -> str:
    try:
        return str(call().status_code)
    except LOST:
        return "lost"


def test_sequence_on_task_creation(emu: EmulatorHandle, client: httpx.Client) -> None:
    sequence = ["pass", 503, "drop", "drop-after", {"status": 503, "when": "after"}, {"hold_ms": 300}]
    rule_id = emu.admin.add_fault(
        method="POST", path_regex=r"/actions/117000000000/tasks$", sequence=sequence
    )["id"]

    def post() -> httpx.Response:
        return client.post(f"{M}/actions/117000000000/tasks", json={"localeName": "en_US"})

    results, created = [], []
    for _ in range(len(sequence) + 1):
        began = time.monotonic()
        results.append(outcome(post))
        created.append(emu.admin.counters()["tasks_created"].get("117000000000", 0))
        if len(results) == 6:
            assert time.monotonic() - began >= 0.3
    assert results == ["200", "503", "lost", "lost", "503", "200", "200"]
    assert created == [1, 1, 1, 2, 3, 4, 5]  # before-faults did not run the handler; after-faults did
    [rule] = emu.admin.faults()["rules"]
    assert rule["matched"] == 6 and rule["fired"] == 5
    assert rule["sequence"][0] == "pass" and rule["sequence"][3]["when"] == "after"
    assert emu.admin.counters()["faults"] == {f"rule {rule_id}": 5, "503": 2, "drop": 2, "hold": 1}


def test_skip_then_sequence_and_defaults(emu: EmulatorHandle, client: httpx.Client) -> None:
    emu.admin.add_fault(path_regex="/users/me$", skip=1, sequence=[429, "pass", 429], retry_after=3)
    responses = [client.get("/2/0/users/me") for _ in range(5)]
    assert [r.status_code for r in responses] == [200, 429, 200, 429, 200]
    assert responses[1].headers["Retry-After"] == "3"


def test_passed_requests_fall_through_to_later_rules(emu: EmulatorHandle, client: httpx.Client) -> None:
    emu.admin.add_fault(path_regex="/users/me$", sequence=["pass", 503])
    emu.admin.add_fault(path_regex="/users/me$", status=418, count=1)
    assert [client.get("/2/0/users/me").status_code for _ in range(3)] == [418, 503, 200]


def test_sequence_is_atomic_under_concurrency(emu: EmulatorHandle, client: httpx.Client) -> None:
    sequence = [503, "pass"] * 20
    emu.admin.add_fault(method="GET", path_regex="/workspaces$", skip=10, sequence=sequence)
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda _: client.get("/2/0/workspaces").status_code, range(80)))
    assert statuses.count(503) == 20 and statuses.count(200) == 60
    [rule] = emu.admin.faults()["rules"]
    assert rule["matched"] == 50 and rule["fired"] == 20


def test_skip_and_count_are_atomic_under_concurrency(emu: EmulatorHandle, client: httpx.Client) -> None:
    emu.admin.add_fault(method="POST", path_regex="/tasks$", skip=5, status=503, when="after", count=7)
    body = {"localeName": "en_US"}
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(
            pool.map(
                lambda _: client.post(f"{M}/exports/116000000000/tasks", json=body).status_code, range(30)
            )
        )
    assert statuses.count(503) == 7 and statuses.count(200) == 23
    assert emu.admin.counters()["tasks_created"] == {"116000000000": 30}


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"path_regex": "/x"}, "needs status, drop, hold_ms or delay_ms"),
        ({"status": 500, "when": "during"}, "when must be"),
        ({"status": 99}, "status must be an HTTP status code"),
        ({"status": True}, "status must be an HTTP status code"),
        ({"status": 500, "drop": True}, "exclusive"),
        ({"drop": "yes"}, "drop must be true or false"),
        ({"delay_ms": 10, "when": "after"}, "when='after' needs status or drop"),
        ({"hold_ms": -1}, "hold_ms must be >= 0"),
        ({"hold_ms": "1500"}, "hold_ms must be a number"),
        ({"status": 500, "skip": -1}, "skip must be an integer >= 0"),
        ({"status": 500, "skip": 1.5}, "skip must be an integer"),
        ({"status": 500, "count": 0}, "count must be an integer >= 1"),
        ({"status": 500, "rate": 1.5}, "rate must be between 0 and 1"),
        ({"status": 500, "path_regex": "("}, "not a valid regular expression"),
        ({"status": 500, "method": 5}, "method must be"),
        ({"status": 500, "hold": 100}, "unknown fault rule keys ['hold']"),
        ({"sequence": []}, "sequence must be a non-empty list"),
        ({"sequence": "503"}, "sequence must be a non-empty list"),
        ({"sequence": [503], "status": 500}, "sequence cannot be combined with ['status']"),
        ({"sequence": [503], "count": 2}, "sequence cannot be combined with ['count']"),
        ({"sequence": ["pass", "boom"]}, "sequence[1]: expected 'pass', 'drop', 'drop-after'"),
        ({"sequence": [700]}, "sequence[0]: status must be an HTTP status code"),
        ({"sequence": [{"status": 503, "when": "later"}]}, "sequence[0]: when must be"),
        ({"sequence": [{"hold_ms": 10, "count": 1}]}, "sequence[0]: unknown keys ['count']"),
        ({"sequence": [{}]}, "sequence[0]: a fault needs"),
    ],
)
def test_bad_rules_are_rejected_with_a_message(emu: EmulatorHandle, rule: dict, message: str) -> None:
    r = httpx.post(f"{emu.url}/_emulator/faults/rules", json=rule)
    assert r.status_code == 400, r.text
    assert message in r.json()["error"]
    assert emu.admin.faults()["rules"] == []


def test_bad_rate_faults_change_nothing(emu: EmulatorHandle) -> None:
    emu.admin.set_faults(latency_ms=5, error_rates={"503": 0.1})
    for bad in ({"error_rates": {"503": 2}}, {"error_rates": {"abc": 0.1}}, {"latency_ms": "slow"}):
        r = httpx.post(f"{emu.url}/_emulator/faults", json=bad)
        assert r.status_code == 400, (bad, r.text)
    faults = emu.admin.faults()
    assert faults["latency_ms"] == 5 and [r["status"] for r in faults["rules"]] == [503]


def test_rule_round_trips_through_the_admin_api(emu: EmulatorHandle) -> None:
    rule = emu.admin.add_fault(method="POST", path_regex="/tasks$", skip=1, sequence=["drop-after", 503])
    again = emu.admin.add_fault(rule)
    assert again["sequence"] == rule["sequence"] and again["id"] == rule["id"] + 1
    plain = emu.admin.add_fault(method="GET", status=429, retry_after=2, count=3, hold_ms=10)
    copy = emu.admin.add_fault(plain)
    assert {**copy, "id": 0} == {**plain, "id": 0}
