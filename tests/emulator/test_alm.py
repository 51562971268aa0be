"""ALM API of the emulator over real HTTP: revisions, sync, reports, online status; bodies spec-valid."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from airflow_provider_anaplan.testing.emulator.seed import PRODUCTION_MODEL_ID
from airflow_provider_anaplan.testing.emulator.state.alm import SEED_REVISION_ID

from .conftest import MODEL, WS, SpecValidator

DEV = MODEL
PROD = PRODUCTION_MODEL_ID
A = "/models/{modelId}/alm"
REVENUE = "102000000001"


def alm(model: str) -> str:
    return f"/2/0/models/{model}/alm"


def add_line_item(
    client: httpx.Client, name: str = "Margin", kind: str = "number", model: str = DEV
) -> dict[str, Any]:
    r = client.post(
        f"/_emulator/alm/structure?model={model}",
        json={"lineItem": {"module": REVENUE, "name": name, "dataType": kind}},
    )
    assert r.status_code == 200, r.text
    return r.json()


def create_revision(client: httpx.Client, spec: SpecValidator, name: str = "Add margin") -> dict[str, Any]:
    r = client.post(f"{alm(DEV)}/revisions", json={"name": name, "description": "release 2"})
    assert r.status_code == 201, r.text
    body = spec.validate("alm", "POST", f"{A}/revisions", r)
    assert body["revisions"][0] == body["revision"]
    return body["revisions"][0]


def wait_task(client: httpx.Client, spec: SpecValidator, url: str, template: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        r = client.get(url)
        task = spec.validate("alm", "GET", template, r)["task"]
        if task["taskState"] == "COMPLETE":
            return task
        assert time.monotonic() < deadline, task
        time.sleep(0.02)


def sync(
    client: httpx.Client, spec: SpecValidator, revision_id: str, target_revision: str = SEED_REVISION_ID
) -> dict[str, Any]:
    body = {"sourceModelId": DEV, "sourceRevisionId": revision_id, "targetRevisionId": target_revision}
    r = client.post(f"{alm(PROD)}/syncTasks", json=body)
    assert r.status_code == 201, r.text
    task = spec.validate("alm", "POST", f"{A}/syncTasks", r)["task"]
    assert task["taskState"] == "IN_PROGRESS"
    return wait_task(client, spec, f"{alm(PROD)}/syncTasks/{task['taskId']}", f"{A}/syncTasks/{{syncTaskId}}")


def error(r: httpx.Response, status: int, text: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["status"]["code"] == status and text.lower() in body["status"]["message"].lower(), body


def test_seed_revision_shared_by_both_models(client: httpx.Client, spec: SpecValidator) -> None:
    for model in (DEV, PROD):
        r = client.get(f"{alm(model)}/latestRevision")
        revisions = spec.validate("alm", "GET", f"{A}/latestRevision", r)["revisions"]
        assert [x["id"] for x in revisions] == [SEED_REVISION_ID]
    r = client.get(f"{alm(PROD)}/revisions/{SEED_REVISION_ID}/appliedToModels")
    applied = spec.validate("alm", "GET", f"{A}/revisions/{{revisionId}}/appliedToModels", r)[
        "appliedToModels"
    ]
    assert [a["modelId"] for a in applied] == [DEV, PROD]  # the source model first
    r = client.get(f"{alm(PROD)}/revisions", params={"limit": 10, "offset": 0})
    body = spec.validate("alm", "GET", f"{A}/revisions", r)
    assert body["meta"]["paging"]["totalSize"] == 1


def test_nothing_syncable_until_a_revision_exists(client: httpx.Client, spec: SpecValidator) -> None:
    r = client.get(f"{alm(PROD)}/syncableRevisions", params={"sourceModelId": DEV})
    body = spec.validate("alm", "GET", f"{A}/syncableRevisions", r)
    assert "revisions" not in body  # omitted when empty, as latestRevision and syncTasks
    r = client.post(f"{alm(DEV)}/revisions", json={"name": "nothing changed"})
    error(r, 400, "no structural changes")
    r = client.post(
        f"{alm(PROD)}/syncTasks",
        json={
            "sourceModelId": DEV,
            "sourceRevisionId": SEED_REVISION_ID,
            "targetRevisionId": SEED_REVISION_ID,
        },
    )
    error(r, 400, "cannot be synced")
    r = client.get(f"{alm(PROD)}/syncTasks")
    assert "tasks" not in spec.validate("alm", "GET", f"{A}/syncTasks", r)


def test_sync_carries_a_new_line_item_and_list_to_production(
    client: httpx.Client, spec: SpecValidator
) -> None:
    add_line_item(client, "Margin")
    r = client.post(
        f"/_emulator/alm/structure?model={DEV}", json={"list": {"id": "101000000009", "name": "Regions"}}
    )
    assert r.status_code == 200
    before = client.get(f"/_emulator/alm/structure?model={PROD}").json()
    assert f"{REVENUE}/Margin" not in before["lineItems"] and "101000000009" not in before["lists"]
    revision = create_revision(client, spec)
    r = client.get(f"{alm(PROD)}/syncableRevisions", params={"sourceModelId": DEV})
    assert [x["id"] for x in spec.validate("alm", "GET", f"{A}/syncableRevisions", r)["revisions"]] == [
        revision["id"]
    ]

    task = sync(client, spec, revision["id"])
    assert task["result"]["successful"] is True
    after = client.get(f"/_emulator/alm/structure?model={PROD}").json()
    assert after["lineItems"][f"{REVENUE}/Margin"]["dataType"] == "number"
    assert after["lists"]["101000000009"]["name"] == "Regions"
    # ... and the transactional API of production sees the line item
    r = client.get(f"/2/0/workspaces/{WS}/models/{PROD}/modules/{REVENUE}/lineItems")
    assert r.status_code == 200, r.text
    assert "Margin" in [i["name"] for i in r.json()["items"]]
    # production's data is kept; its latest revision is now the synced one
    assert client.get(f"/_emulator/lists/101000000001?model={PROD}").json()
    r = client.get(f"{alm(PROD)}/latestRevision")
    assert spec.validate("alm", "GET", f"{A}/latestRevision", r)["revisions"][0]["id"] == revision["id"]
    r = client.get(f"{alm(DEV)}/revisions/{revision['id']}/appliedToModels")
    applied = spec.validate("alm", "GET", f"{A}/revisions/{{revisionId}}/appliedToModels", r)[
        "appliedToModels"
    ]
    assert [a["modelId"] for a in applied] == [DEV, PROD] and applied[1]["appliedMethod"] == "Sync"
    r = client.get(f"{alm(PROD)}/syncTasks")
    assert spec.validate("alm", "GET", f"{A}/syncTasks", r)["tasks"][0]["taskId"] == task["taskId"]
    # nothing left to sync
    r = client.get(f"{alm(PROD)}/syncableRevisions", params={"sourceModelId": DEV})
    assert "revisions" not in r.json()


def test_sync_takes_time_and_rejects_a_second_one(client: httpx.Client, spec: SpecValidator) -> None:
    client.post("/_emulator/alm/config", json={"sync_seconds": 1.5})
    add_line_item(client)
    revision = create_revision(client, spec)
    body = {"sourceModelId": DEV, "sourceRevisionId": revision["id"], "targetRevisionId": SEED_REVISION_ID}
    first = client.post(f"{alm(PROD)}/syncTasks", json=body)
    assert first.status_code == 201
    assert f"{REVENUE}/Margin" not in client.get(f"/_emulator/alm/structure?model={PROD}").json()["lineItems"]
    error(client.post(f"{alm(PROD)}/syncTasks", json=body), 409, "already running")
    task_id = first.json()["task"]["taskId"]
    r = client.get(f"{alm(PROD)}/syncTasks/{task_id}")
    assert (
        spec.validate("alm", "GET", f"{A}/syncTasks/{{syncTaskId}}", r)["task"]["taskState"] == "IN_PROGRESS"
    )
    deadline = time.monotonic() + 10  # the timer applies it even when nobody polls the task
    while f"{REVENUE}/Margin" not in client.get(f"/_emulator/alm/structure?model={PROD}").json()["lineItems"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        ({"sourceModelId": DEV, "sourceRevisionId": SEED_REVISION_ID}, 400, "Expected mandatory fields"),
        (
            {"sourceModelId": DEV, "sourceRevisionId": "F" * 32, "targetRevisionId": SEED_REVISION_ID},
            404,
            "Revision",
        ),
        (
            {
                "sourceModelId": "E" * 32,
                "sourceRevisionId": SEED_REVISION_ID,
                "targetRevisionId": SEED_REVISION_ID,
            },
            404,
            "Source model",
        ),
        (
            {"sourceModelId": DEV, "sourceRevisionId": SEED_REVISION_ID, "targetRevisionId": "F" * 32},
            400,
            "not the latest revision",
        ),
    ],
    ids=["missing-field", "unknown-revision", "unknown-source", "stale-target-revision"],
)
def test_sync_task_refusals(client: httpx.Client, body: dict[str, str], status: int, text: str) -> None:
    error(client.post(f"{alm(PROD)}/syncTasks", json=body), status, text)


def test_sync_to_a_locked_model_is_423_and_an_offline_one_syncs(
    client: httpx.Client, spec: SpecValidator
) -> None:
    add_line_item(client)
    revision = create_revision(client, spec)
    emulator_model = client.get(f"/2/0/models/{PROD}").json()["model"]
    assert emulator_model["activeState"] == "PRODUCTION"
    fixture_body = {
        "sourceModelId": DEV,
        "sourceRevisionId": revision["id"],
        "targetRevisionId": SEED_REVISION_ID,
    }
    # offline (Anaplan's usual ALM routine: offline, sync, online) is allowed
    r = client.put(f"/2/0/models/{PROD}/onlineStatus", json={"status": "offline"})
    assert r.status_code == 204 and r.content == b""
    assert client.get(f"/2/0/models/{PROD}").json()["model"]["activeState"] == "PRODUCTION_MAINTENANCE"
    task = sync(client, spec, revision["id"])
    assert task["result"]["successful"] is True
    r = client.post(f"/2/0/models/{PROD}/onlineStatus", json={"status": "online"})
    assert r.status_code == 204
    assert client.get(f"/2/0/models/{PROD}").json()["model"]["activeState"] == "PRODUCTION"
    # locked: 423
    add_line_item(client, "Cost")
    second = create_revision(client, spec, "Add cost")
    _lock(client, PROD)
    fixture_body.update(sourceRevisionId=second["id"], targetRevisionId=revision["id"])
    error(client.post(f"{alm(PROD)}/syncTasks", json=fixture_body), 423, "locked")
    error(client.put(f"/2/0/models/{PROD}/onlineStatus", json={"status": "offline"}), 400, "locked")


def _lock(client: httpx.Client, model_id: str) -> None:
    r = client.post(f"/_emulator/alm/models/{model_id}/state", json={"activeState": "LOCKED"})
    assert r.status_code == 200 and r.json()["activeState"] == "LOCKED", r.text


def test_offline_model_blocks_bulk_tasks(client: httpx.Client) -> None:
    r = client.put(f"/2/0/models/{DEV}/onlineStatus", json={"status": "offline"})
    assert r.status_code == 204
    r = client.post(f"/2/0/models/{DEV}/imports/112000000000/tasks", json={"localeName": "en_US"})
    assert r.status_code == 423 and "MAINTENANCE" in r.json()["status"]["message"]
    error(client.post(f"/2/0/models/{DEV}/onlineStatus", json={"status": "sideways"}), 400, "invalid status")
    assert client.post(f"/2/0/models/{DEV}/onlineStatus", json={"status": "online"}).status_code == 204
    r = client.post(f"/2/0/models/{DEV}/imports/112000000000/tasks", json={"localeName": "en_US"})
    assert r.status_code == 200


def test_revision_rules(client: httpx.Client, spec: SpecValidator) -> None:
    error(client.post(f"{alm(DEV)}/revisions", json={"name": "x" * 61}), 400, "60")
    error(client.post(f"{alm(DEV)}/revisions", json={"name": "ok", "description": "d" * 251}), 400, "250")
    error(client.post(f"{alm(DEV)}/revisions", json={}), 400, "name")
    add_line_item(client, model=PROD)
    error(client.post(f"{alm(PROD)}/revisions", json={"name": "prod change"}), 400, "deployed")
    error(client.get(f"{alm(DEV)}/revisions/{'F' * 32}/appliedToModels"), 404, "not found")
    error(client.get(f"{alm(PROD)}/syncableRevisions"), 400, "sourceModelId")
    error(client.get(f"/2/0/models/{'0' * 32}/alm/latestRevision"), 404, "not found")
    add_line_item(client)
    first = create_revision(client, spec, "first")
    add_line_item(client, "Units")
    second = create_revision(client, spec, "second")
    r = client.get(f"{alm(PROD)}/syncableRevisions", params={"sourceModelId": DEV})
    ids = [x["id"] for x in spec.validate("alm", "GET", f"{A}/syncableRevisions", r)["revisions"]]
    assert ids == [second["id"], first["id"]]  # newest first
    r = client.get(f"{alm(DEV)}/revisions", params={"sort": "-createdOn", "limit": 2})
    body = spec.validate("alm", "GET", f"{A}/revisions", r)
    assert [x["name"] for x in body["revisions"]] == ["second", "first"]
    assert body["meta"]["paging"]["totalSize"] == 3
    r = client.post(f"/_emulator/alm/models/{PROD}/state", json={"activeState": "ARCHIVED"})
    assert r.status_code == 200
    error(client.put(f"/2/0/models/{PROD}/onlineStatus", json={"status": "online"}), 422, "archived")
    error(client.get(f"{alm(PROD)}/latestRevision"), 422, "archived")


def test_comparison_and_summary_reports_count_real_differences(
    client: httpx.Client, spec: SpecValidator
) -> None:
    add_line_item(client, "Margin")
    add_line_item(client, "Notes", "text")
    client.post(
        f"/_emulator/alm/structure?model={DEV}", json={"list": {"id": "101000000009", "name": "Regions"}}
    )
    revision = create_revision(client, spec)
    body = {"sourceModelId": DEV, "sourceRevisionId": revision["id"], "targetRevisionId": SEED_REVISION_ID}
    error(client.post(f"{alm(PROD)}/summaryReportTasks", json={"sourceModelId": DEV}), 400, "mandatory")

    r = client.post(f"{alm(PROD)}/summaryReportTasks", json=body)
    task = spec.validate("alm", "POST", f"{A}/summaryReportTasks", r)["task"]
    done = wait_task(
        client, spec, f"{alm(PROD)}/summaryReportTasks/{task['taskId']}", f"{A}/summaryReportTasks/{{taskId}}"
    )
    assert done["result"]["successful"] is True and done["result"]["reportFileUrl"]
    # the two report kinds do not share task ids
    assert client.get(f"{alm(PROD)}/comparisonReportTasks/{task['taskId']}").status_code == 404
    r = client.get(f"{alm(PROD)}/summaryReports/{SEED_REVISION_ID}/{revision['id']}")
    report = spec.validate("alm", "GET", f"{A}/summaryReports/{{targetRevisionId}}/{{sourceRevisionId}}", r)
    summary = report["summaryReport"]
    assert summary["totals"] == {"created": 3, "modified": 0, "deleted": 0}
    assert summary["differences"] == {"lists": {"created": 1}, "lineItems": {"created": 2}}

    r = client.post(f"{alm(PROD)}/comparisonReportTasks", json=body)
    task = spec.validate("alm", "POST", f"{A}/comparisonReportTasks", r)["task"]
    wait_task(
        client,
        spec,
        f"{alm(PROD)}/comparisonReportTasks/{task['taskId']}",
        f"{A}/comparisonReportTasks/{{taskId}}",
    )
    url = f"{alm(PROD)}/comparisonReports/{SEED_REVISION_ID}/{revision['id']}"
    r = client.get(url, headers={"Accept": "application/octet-stream"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    text = r.text
    assert "Lists Added\nList\tId\nRegions\t101000000009" in text
    assert "Revenue\tMargin\tnumber" in text and "Revenue\tNotes\ttext" in text
    assert client.get(url, headers={"Accept": "application/json"}).status_code == 406
    error(client.get(f"{alm(PROD)}/summaryReports/{SEED_REVISION_ID}/{'F' * 32}"), 404, "report")
