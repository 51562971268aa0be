"""``when="after"``: the handler runs, its reply is lost (status or drop), on every route.

Covers each non-admin route of the app, then the two that matter most for exactly-once: the OAuth
refresh grant of a rotatable client (old token spent, the undelivered new one live) and task creation.
"""

from __future__ import annotations

import re

import httpx
import pytest

from airflow_provider_anaplan.testing.emulator.app import routes
from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle

from .conftest import M, login, start

ROTATING = "emulator-rotating-client"
PARAMS = {
    "workspaceId": "8a868cd985f53e7701860542f59e276e",
    "modelId": "75A40874E6B64FA3AE0B4E5D5B4B9A0B",
    "fileId": "113000000000",
    "importId": "112000000000",
    "exportId": "116000000000",
    "actionId": "117000000000",
    "processId": "118000000000",
    "objectId": "112000000000",
    "chunkId": "0",
    # ALM and CloudWorks (any value reaches the handler; a 404 reply is lost like any other)
    "revisionId": "0A1A0000000000000000000000000001",
    "syncTaskId": "0" * 32,
    "taskId": "0" * 32,
    "targetRevisionId": "0A1A0000000000000000000000000001",
    "sourceRevisionId": "0A1A0000000000000000000000000001",
    "connectionId": "0" * 32,
    "integrationId": "0" * 32,
    "runId": "0" * 32,
    "integrationFlowId": "0" * 32,
    # transactional API
    "moduleId": "102000000001",
    "lineItemId": "206000000001",
    "dimensionId": "101000000001",
    "viewId": "102000000001",
    "listId": "101000000001",
    "requestId": "0" * 32,
    "pageNo": "0",
}
KIND_OF = {"importId": "imports", "exportId": "exports", "actionId": "actions", "processId": "processes"}
LOST = (httpx.RemoteProtocolError, httpx.ReadError)


def api_routes() -> list[tuple[str, str]]:
    """(method, template) of every route except the admin API."""
    found = []
    for route in routes():
        if route.path.startswith("/_emulator"):
            continue
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                found.append((method, route.path))
    return found


def request_for(method: str, template: str, tasks: dict[str, str], spare_token: str) -> dict:
    """Keyword arguments for ``httpx.Client.request`` that let the handler do its real work."""
    values = dict(PARAMS)
    kind = next((KIND_OF[p] for p in KIND_OF if f"{{{p}}}" in template), None)
    if kind:
        values["taskId"] = tasks[kind]
    url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)
    kwargs: dict = {"method": method, "url": url}
    if template == "/token/authenticate":
        kwargs["auth"] = ("demo@example.com", "emulator-demo-pw")
    elif template in ("/token/refresh", "/token/logout"):
        kwargs["headers"] = {"Authorization": f"AnaplanAuthToken {spare_token}"}
    elif template == "/oauth/device/code":
        kwargs["json"] = {"client_id": "emulator-device-client"}
    elif template == "/oauth/token":
        kwargs["data"] = {"grant_type": "refresh_token", "client_id": ROTATING, "refresh_token": "x"}
    elif method == "POST" and template.endswith("/tasks"):
        kwargs["json"] = {"localeName": "en_US"}
    elif method == "POST" and template.endswith("{fileId}"):
        kwargs["json"] = {"chunkCount": 1}
    elif method == "PUT":
        kwargs["content"] = b"Product,Category,Discontinued\nP9,X,false\n"
    return kwargs


@pytest.mark.parametrize("fault", [{"status": 503}, {"drop": True}], ids=["status", "drop"])
def test_every_route_runs_its_handler_then_loses_the_reply(
    emu: EmulatorHandle, client: httpx.Client, fault: dict
) -> None:
    tasks = {kind: start(client, kind, PARAMS[param]) for param, kind in KIND_OF.items()}
    spare = login(emu.url)
    seen = []
    for method, template in api_routes():
        kwargs = request_for(method, template, tasks, spare)
        emu.admin.add_fault(
            method=method, path_regex=f"^{re.escape(kwargs['url'])}$", when="after", count=1, **fault
        )
        if fault.get("drop"):
            with pytest.raises(LOST):
                client.request(**kwargs)
        else:
            r = client.request(**kwargs)
            assert r.status_code == 503, (method, template, r.text)
            assert "injected by the emulator" in r.json()["status"]["message"]
        lost = emu.admin.counters()["lost_replies"]
        assert any(k.startswith(f"{method} {template} -> ") for k in lost), (method, template, lost)
        seen.append((method, template))
    assert len(seen) == len(api_routes()) > 80
    assert not [r for r in emu.admin.faults()["rules"] if r["fired"] != 1]


@pytest.mark.parametrize("fault", [{"status": 503}, {"drop": True}], ids=["status", "drop"])
def test_oauth_refresh_reply_lost_after_rotation(
    emu: EmulatorHandle, anon: httpx.Client, fault: dict
) -> None:
    first = emu.admin.issue_oauth_tokens(ROTATING)
    emu.admin.add_fault(method="POST", path_regex="^/oauth/token$", when="after", count=1, **fault)
    body = {"grant_type": "refresh_token", "client_id": ROTATING, "refresh_token": first["refresh_token"]}
    if fault.get("drop"):
        with pytest.raises(LOST):
            anon.post("/oauth/token", data=body)
    else:
        assert anon.post("/oauth/token", data=body).status_code == 503
    tokens = emu.admin.refresh_tokens(ROTATING)
    assert [(t["refresh_token"] == first["refresh_token"], t["alive"], t["spent"]) for t in tokens] == [
        (True, False, True),  # the old one was spent by the faulted call
        (False, True, False),  # its successor, never delivered, is live
    ]
    counters = emu.admin.counters()
    assert counters["oauth_refresh_grants"] == {ROTATING: 1}
    assert counters["lost_replies"] == {"POST /oauth/token -> 200": 1}
    retry = anon.post("/oauth/token", data=body)  # the client retries with the token it has
    assert retry.status_code == 403 and retry.json()["error"] == "invalid_grant"
    undelivered = tokens[1]["refresh_token"]
    again = anon.post("/oauth/token", data={**body, "refresh_token": undelivered})
    assert again.status_code == 200, "the reuse attempt must not revoke the newer token"
    assert emu.admin.counters()["refresh_token_reuse"] == {ROTATING: 1}


@pytest.mark.parametrize("fault", [{"status": 503}, {"drop": True}], ids=["status", "drop"])
def test_task_creation_reply_lost(emu: EmulatorHandle, client: httpx.Client, fault: dict) -> None:
    emu.admin.add_fault(
        method="POST", path_regex=r"/imports/112000000002/tasks$", when="after", count=1, **fault
    )
    mapping = [{"entityType": "Version", "entityName": "Budget"}]
    body = {"localeName": "en_US", "mappingParameters": mapping}
    if fault.get("drop"):
        with pytest.raises(LOST):
            client.post(f"{M}/imports/112000000002/tasks", json=body)
    else:
        assert client.post(f"{M}/imports/112000000002/tasks", json=body).status_code == 503
    listed = client.get(f"{M}/imports/112000000002/tasks").json()["tasks"]
    counters = emu.admin.counters()
    assert counters["tasks_created"] == {"112000000002": 1}
    [detail] = counters["tasks_created_detail"]["112000000002"]
    assert detail["task_id"] == listed[0]["taskId"] and detail["mapping"] == {"Version": "Budget"}
    assert detail["created_at"] == listed[0]["creationTime"]
    template = "POST /2/0/workspaces/{workspaceId}/models/{modelId}/imports/{importId}/tasks"
    assert counters["lost_replies"] == {f"{template} -> 200": 1}
