"""Every emulator endpoint's response body validated against the OpenAPI specs' response schemas."""

from __future__ import annotations

import httpx
import pytest

from .conftest import MD, MODEL, PRODUCTS_CSV, WS, M, SpecValidator, start, upload, wait

P = "/workspaces/{workspaceId}/models/{modelId}"
PM = "/models/{modelId}"

SIMPLE_GETS = [
    ("/users/me", "/2/0/users/me"),
    ("/workspaces", "/2/0/workspaces"),
    ("/workspaces/{workspaceId}", f"/2/0/workspaces/{WS}"),
    ("/workspaces/{workspaceId}/models", f"/2/0/workspaces/{WS}/models"),
    ("/models", "/2/0/models"),
    ("/models/{modelId}", MD),
    ("/models/{modelId}/status", f"{MD}/status"),
    (f"{P}/files", f"{M}/files"),
    (f"{PM}/files", f"{MD}/files"),
    (f"{P}/imports/", f"{M}/imports/"),
    (f"{PM}/imports", f"{MD}/imports"),
    (f"{P}/imports/{{importId}}", f"{M}/imports/112000000000"),
    (f"{PM}/imports/{{importId}}", f"{MD}/imports/112000000001"),
    (f"{P}/exports", f"{M}/exports"),
    (f"{PM}/exports", f"{MD}/exports"),
    (f"{P}/exports/{{exportId}}", f"{M}/exports/116000000000"),
    (f"{PM}/exports/{{exportId}}", f"{MD}/exports/116000000001"),
    (f"{P}/actions", f"{M}/actions"),
    (f"{PM}/actions", f"{MD}/actions"),
    (f"{P}/processes", f"{M}/processes"),
    (f"{PM}/processes", f"{MD}/processes"),
    (f"{P}/processes/{{processId}}", f"{M}/processes/118000000000"),
    (f"{PM}/processes/{{processId}}", f"{MD}/processes/118000000001"),
]


@pytest.mark.parametrize(("template", "path"), SIMPLE_GETS, ids=[t for t, _ in SIMPLE_GETS])
def test_metadata_get(client: httpx.Client, spec: SpecValidator, template: str, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200, r.text
    body = spec.validate("bulk", "GET", template, r)
    assert body  # non-empty


NOT_FOUND = [
    (f"{P}/files", f"/2/0/workspaces/{WS}/models/{MODEL.lower()}/files"),
    (f"{PM}/files", "/2/0/models/00000000000000000000000000000000/files"),
    (f"{P}/imports/{{importId}}", f"{M}/imports/112000000099"),
    (f"{P}/exports/{{exportId}}", f"{M}/exports/116000000099"),
    (f"{P}/processes/{{processId}}", f"{M}/processes/118000000099"),
    (f"{P}/imports/{{importId}}/tasks/{{taskId}}", f"{M}/imports/112000000000/tasks/{'0' * 32}"),
    ("/models/{modelId}/status", "/2/0/models/00000000000000000000000000000000/status"),
]


@pytest.mark.parametrize(("template", "path"), NOT_FOUND, ids=[p for _, p in NOT_FOUND])
def test_not_found_envelope(client: httpx.Client, spec: SpecValidator, template: str, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    body = spec.validate("bulk", "GET", template, r)
    assert "not found" in body["status"]["message"].lower()
    assert body["status"]["code"] == 404


def test_file_endpoints(client: httpx.Client, spec: SpecValidator) -> None:
    r = client.post(f"{M}/files/113000000000", json={"chunkCount": -1})
    assert spec.validate("bulk", "POST", f"{P}/files/{{fileId}}", r)["file"]["id"] == "113000000000"
    r = client.put(f"{M}/files/113000000000/chunks/0", content=PRODUCTS_CSV.encode())
    assert r.status_code == 204 and r.content == b""
    r = client.post(f"{M}/files/113000000000/complete")
    assert spec.validate("bulk", "POST", f"{P}/files/{{fileId}}/complete", r)["file"]["chunkCount"] == 1
    r = client.get(f"{M}/files/113000000000/chunks")
    assert spec.validate("bulk", "GET", f"{P}/files/{{fileId}}/chunks", r)["chunks"] == [
        {"id": "0", "name": "Chunk 0"}
    ]
    r = client.get(f"{MD}/files/113000000000/chunks")
    assert (
        spec.validate("bulk", "GET", f"{PM}/files/{{fileId}}/chunks", r)["meta"]["paging"]["totalSize"] == 1
    )
    r = client.post(f"{M}/files/113000000099", json={"chunkCount": 1})
    assert r.status_code == 404
    spec.validate("bulk", "POST", f"{P}/files/{{fileId}}", r)


@pytest.mark.parametrize(
    ("segment", "param", "action_id", "body"),
    [
        ("imports", "importId", "112000000000", {}),
        ("exports", "exportId", "116000000001", {}),
        ("actions", "actionId", "117000000000", {}),
        (
            "processes",
            "processId",
            "118000000001",
            {"mappingParameters": [{"entityType": "Version", "entityName": "Budget"}]},
        ),
    ],
)
def test_task_endpoints(
    client: httpx.Client, spec: SpecValidator, segment: str, param: str, action_id: str, body: dict
) -> None:
    upload(client, "113000000000", PRODUCTS_CSV.encode())
    base = f"{P}/{segment}/{{{param}}}/tasks"
    r = client.post(f"{M}/{segment}/{action_id}/tasks", json={"localeName": "en_US", **body})
    created = spec.validate("bulk", "POST", base, r)
    task_id = created["task"]["taskId"]
    assert len(task_id) == 32 and task_id == task_id.upper()
    task = wait(client, segment, action_id, task_id)
    r = client.get(f"{M}/{segment}/{action_id}/tasks/{task_id}")
    status = spec.validate("bulk", "GET", f"{base}/{{taskId}}", r)
    assert status["task"]["taskState"] == "COMPLETE" == task["taskState"]
    assert "result" in status["task"]
    r = client.get(f"{M}/{segment}/{action_id}/tasks")
    listed = spec.validate("bulk", "GET", base, r)
    assert [t["taskId"] for t in listed["tasks"]] == [task_id]
    r = client.post(f"{M}/{segment}/{action_id[:-2]}99/tasks", json={"localeName": "en_US"})
    assert r.status_code == 404
    spec.validate("bulk", "POST", base, r)


def test_import_dump_endpoints(client: httpx.Client, spec: SpecValidator) -> None:
    upload(client, "113000000000", (PRODUCTS_CSV + "P012,Garden,maybe\n").encode())
    task_id = start(client, "imports", "112000000000")
    assert wait(client, "imports", "112000000000", task_id)["result"]["failureDumpAvailable"] is True
    base = f"{P}/imports/{{importId}}/tasks/{{taskId}}/dump"
    r = client.get(f"{M}/imports/112000000000/tasks/{task_id}/dump/chunks")
    assert spec.validate("bulk", "GET", f"{base}/chunks", r)["chunks"][0]["id"] == "0"
    r = client.get(f"{M}/imports/112000000000/tasks/{task_id}/dump/chunks/0")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert "P012" in r.text


def test_auth_api_shapes(emu, anon: httpx.Client, spec: SpecValidator) -> None:
    r = anon.post("/token/authenticate", auth=("demo@example.com", "emulator-demo-pw"))
    body = spec.validate("auth", "POST", "/token/authenticate", r)
    token = body["tokenInfo"]["tokenValue"]
    r = anon.post("/token/authenticate", auth=("demo@example.com", "wrong"))
    assert spec.validate("auth", "POST", "/token/authenticate", r)["status"] == "FAILURE_BAD_CREDENTIAL"
    headers = {"Authorization": f"AnaplanAuthToken {token}"}
    spec.validate("auth", "GET", "/token/validate", anon.get("/token/validate", headers=headers))
    spec.validate("auth", "POST", "/token/refresh", anon.post("/token/refresh", headers=headers))
    bad = {"Authorization": f"Bearer {token}"}
    r = anon.post("/token/refresh", headers=bad)
    assert r.status_code == 400
    spec.validate("auth", "POST", "/token/refresh", r)
    r = anon.get("/token/validate", headers=bad)
    assert r.status_code == 400
    spec.validate("auth", "GET", "/token/validate", r)
    assert anon.post("/token/logout", headers=headers).status_code == 204
    r = anon.post("/token/logout", headers=headers)
    assert r.status_code == 401
    spec.validate("auth", "POST", "/token/logout", r)
    r = anon.post("/token/refresh", headers=headers)
    assert r.status_code == 401
    spec.validate("auth", "POST", "/token/refresh", r)
    r = anon.get("/token/validate", headers=headers)
    assert r.status_code == 401
    spec.validate("auth", "GET", "/token/validate", r)


def test_oauth_shapes(emu, anon: httpx.Client, spec: SpecValidator) -> None:
    emu.admin.configure(device_poll_interval=0)
    r = anon.post("/oauth/device/code", json={"client_id": "emulator-device-client", "scope": "openid"})
    code = spec.validate("oauth", "POST", "/oauth/device/code", r)
    r = anon.post("/oauth/device/code", json={"client_id": "nobody"})
    assert r.status_code == 403
    spec.validate("oauth", "POST", "/oauth/device/code", r)
    grant = {
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "device_code": code["device_code"],
        "client_id": "emulator-device-client",
    }
    r = anon.post("/oauth/token", json=grant)
    assert spec.validate("oauth", "POST", "/oauth/token", r)["error"] == "authorization_pending"
    emu.admin.approve_device_code(code["user_code"])
    r = anon.post("/oauth/token", json=grant)
    tokens = spec.validate("oauth", "POST", "/oauth/token", r)
    r = anon.post(
        "/oauth/token",
        json={"grant_type": "refresh_token", "client_id": "emulator-device-client", "refresh_token": "nope"},
    )
    assert r.status_code == 403
    spec.validate("oauth", "POST", "/oauth/token", r)
    assert tokens["token_type"] == "Bearer"
