"""CloudWorks API of the emulator over real HTTP: connections, integrations, runs, flows; bodies spec-valid."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_anaplan.testing.emulator.seed import PRODUCTION_MODEL_ID
from airflow_provider_anaplan.testing.emulator.state.cloudworks import (
    BUCKET,
    CONNECTION_ID,
    EXPORT_REVENUE_ID,
    FLOW_ID,
    IMPORT_PARTIAL_ID,
    IMPORT_PRODUCTS_ID,
    IMPORT_REVENUE_ID,
    PROCESS_LOAD_ALL_ID,
)

from .conftest import WS, SpecValidator

CW = "/cloudworks/2/0"
PROD = PRODUCTION_MODEL_ID


@pytest.fixture
def store(client: httpx.Client, tmp_path: Path) -> Path:
    """A fresh object-store directory (the seed objects are written into it)."""
    r = client.post("/_emulator/objectstore", json={"root": str(tmp_path)})
    assert r.status_code == 200 and BUCKET in r.json()["buckets"], r.text
    return tmp_path / BUCKET


def run(client: httpx.Client, spec: SpecValidator, integration_id: str) -> str:
    r = client.post(f"{CW}/integrations/{integration_id}/run")
    return str(spec.validate("cloudworks", "POST", "/integrations/{integrationId}/run", r)["run"]["id"])


def wait_run(client: httpx.Client, spec: SpecValidator, run_id: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"{CW}/integrations/run/{run_id}")
        status = spec.validate("cloudworks", "GET", "/integrations/run/{runId}", r)["run"]
        if "endDate" in status:
            return dict(status)
        assert time.monotonic() < deadline, status
        time.sleep(0.02)


def members(client: httpx.Client, list_id: str = "101000000001") -> set[str]:
    r = client.get(f"/_emulator/lists/{list_id}", params={"model": PROD})
    assert r.status_code == 200, r.text
    body = r.json()
    items = body["items"] if isinstance(body, dict) else body
    return {i["name"] for i in items}


def cells(client: httpx.Client) -> list[dict[str, Any]]:
    r = client.get("/_emulator/modules/102000000001", params={"model": PROD})
    assert r.status_code == 200, r.text
    body = r.json()
    return list(body["cells"] if isinstance(body, dict) else body)


def test_connections(client: httpx.Client, spec: SpecValidator, store: Path) -> None:
    r = client.get(f"{CW}/integrations/connections")
    body = spec.validate("cloudworks", "GET", "/integrations/connections", r)
    assert [c["connectionId"] for c in body["connections"]] == [CONNECTION_ID]
    assert body["connections"][0]["body"]["bucketName"] == BUCKET
    assert "secretAccessKey" not in body["connections"][0]["body"]
    new = {"name": "second", "accessKeyId": "AK", "secretAccessKey": "s3cr3t", "bucketName": "other-bucket"}
    r = client.post(f"{CW}/integrations/connections", json={"type": "AmazonS3", "body": new})
    connection_id = spec.validate("cloudworks", "POST", "/integrations/connections", r)["connectionId"]
    assert (store.parent / "other-bucket").is_dir()
    r = client.post(
        f"{CW}/integrations/connections",
        json={"type": "AmazonS3", "body": {**new, "name": "x", "secretAccessKey": "invalid"}},
    )
    assert (
        spec.validate("cloudworks", "POST", "/integrations/connections", r)["status"]["message"]
        == "Credentials are invalid"
    )
    r = client.post(f"{CW}/integrations/connections", json={"type": "AmazonS3", "body": {"name": "y"}})
    assert r.status_code == 400
    r = client.delete(f"{CW}/integrations/connections/{CONNECTION_ID}")
    assert (
        spec.validate("cloudworks", "DELETE", "/integrations/connections/{connectionId}", r)["status"]["code"]
        == 409
    )
    r = client.delete(f"{CW}/integrations/connections/{connection_id}")
    assert (
        spec.validate("cloudworks", "DELETE", "/integrations/connections/{connectionId}", r)["status"]["code"]
        == 200
    )


def test_integrations_listed_on_both_base_urls(
    client: httpx.Client, spec: SpecValidator, store: Path
) -> None:
    r = client.get(f"{CW}/integrations", params={"offset": 0, "limit": 10})
    body = spec.validate("cloudworks", "GET", "/integrations", r)
    ids = [i["integrationId"] for i in body["integrations"]]
    assert ids == [
        IMPORT_PRODUCTS_ID,
        IMPORT_REVENUE_ID,
        EXPORT_REVENUE_ID,
        PROCESS_LOAD_ALL_ID,
        IMPORT_PARTIAL_ID,
    ]
    assert {i["modelId"] for i in body["integrations"]} == {PROD}
    assert body["meta"]["tenantCurrentCount"] == 6 and body["meta"]["paging"]["totalSize"] == 5
    assert client.get("/2/0/integrations").json()["integrations"] == body["integrations"]
    types = {}
    for integration_id in ids:
        r = client.get(f"{CW}/integrations/{integration_id}")
        detail = spec.validate("cloudworks", "GET", "/integrations/{integrationId}", r)["integration"]
        types[integration_id] = detail["integrationType"]
        assert detail["jobs"] and detail["version"] == "2.0"
    assert types[PROCESS_LOAD_ALL_ID] == "Process" and types[EXPORT_REVENUE_ID] == "Export"
    r = client.get(f"{CW}/integrations/{'0' * 32}")
    assert spec.validate("cloudworks", "GET", "/integrations/{integrationId}", r)["status"]["code"] == 404


def test_import_run_loads_the_object_into_the_model(
    client: httpx.Client, spec: SpecValidator, store: Path
) -> None:
    assert "P006" not in members(client)
    (store / "inbound" / "products.csv").write_text(
        "Product,Category,Discontinued\nP006,Garden,false\nP008,Garden,true\n"
    )
    run_id = run(client, spec, IMPORT_PRODUCTS_ID)
    status = wait_run(client, spec, run_id)
    assert (
        status["success"] is True and status["message"] == "Success" and status["executionErrorCode"] is None
    )
    assert status["integrationId"] == IMPORT_PRODUCTS_ID and status["flowGroupId"] is None
    assert {"P006", "P008"} <= members(client)
    r = client.get(f"{CW}/integrations/runs/{IMPORT_PRODUCTS_ID}", params={"offset": 0, "limit": 5})
    history = spec.validate("cloudworks", "GET", "/integrations/runs/{integrationId}", r)["history_of_runs"]
    assert [x["id"] for x in history["runs"]] == [run_id] and history["totalRuns"] == 1
    assert history["runs"][0]["lastRun"] >= int(time.time()) - 60
    r = client.get(f"{CW}/integrations/runerror/{run_id}")
    assert spec.validate("cloudworks", "GET", "/integrations/runerror/{runId}", r)["runs"] == []
    r = client.get(f"{CW}/integrations/run/{run_id}/dumps")
    body = spec.validate("cloudworks", "GET", "/integrations/run/{runId}/dumps", r)
    assert (
        r.status_code == 404
        and body["status"]["message"] == "Your integration run was successful / no errors"
    )
    r = client.get(f"{CW}/integrations")
    latest = next(i for i in r.json()["integrations"] if i["integrationId"] == IMPORT_PRODUCTS_ID)[
        "latestRun"
    ]
    assert latest["success"] is True and latest["triggerSource"] == "manual"


def test_second_run_is_409_and_cancel(client: httpx.Client, spec: SpecValidator, store: Path) -> None:
    client.post("/_emulator/cloudworks/config", json={"run_seconds": 2.0})
    run_id = run(client, spec, IMPORT_PRODUCTS_ID)
    r = client.get(f"{CW}/integrations/run/{run_id}")
    status = spec.validate("cloudworks", "GET", "/integrations/run/{runId}", r)["run"]
    assert "endDate" not in status and status["message"] in ("Queued", "Running")
    r = client.post(f"{CW}/integrations/{IMPORT_PRODUCTS_ID}/run")
    body = spec.validate("cloudworks", "POST", "/integrations/{integrationId}/run", r)
    assert r.status_code == 409 and "already running" in body["status"]["message"]
    r = client.post(f"{CW}/integrations/{IMPORT_PRODUCTS_ID}/cancel")
    assert (
        spec.validate("cloudworks", "POST", "/integrations/{integrationId}/cancel", r)["status"]["code"]
        == 200
    )
    status = wait_run(client, spec, run_id)
    assert status["success"] is False and status["message"] == "Cancelled"
    assert "P006" not in members(client)  # nothing was loaded
    r = client.post(f"{CW}/integrations/{IMPORT_PRODUCTS_ID}/cancel")
    body = spec.validate("cloudworks", "POST", "/integrations/{integrationId}/cancel", r)
    assert r.status_code == 409 and "not in running state" in body["status"]["message"]


def test_cancel_during_the_anaplan_task(client: httpx.Client, spec: SpecValidator, store: Path) -> None:
    client.post("/_emulator/config", json={"min_task_seconds": 2.0})
    client.post("/_emulator/cloudworks/config", json={"run_seconds": 0.0})
    run_id = run(client, spec, IMPORT_PRODUCTS_ID)
    deadline = time.monotonic() + 5
    while not client.get("/_emulator/cloudworks/runs").json()["runs"][-1]["taskIds"]:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert client.post(f"{CW}/integrations/{IMPORT_PRODUCTS_ID}/cancel").status_code == 200
    status = wait_run(client, spec, run_id)
    assert status["message"] == "Cancelled"
    task_id = client.get("/_emulator/cloudworks/runs").json()["runs"][-1]["taskIds"][0]
    tasks = client.get("/_emulator/tasks", params={"model": PROD}).json()["112000000000"]
    assert next(t for t in tasks if t["taskId"] == task_id)["taskState"] == "CANCELLED"


def test_partial_success_and_dumps(client: httpx.Client, spec: SpecValidator, store: Path) -> None:
    run_id = run(client, spec, IMPORT_PARTIAL_ID)
    status = wait_run(client, spec, run_id)
    assert status["success"] is True and status["executionErrorCode"] == 38, status
    assert "1 rows loaded, 2 rows failed" in status["message"]
    assert any(
        c.get("Product") == "P001" and c.get("Month") == "Mar 26" and c.get("value") == 10
        for c in cells(client)
    )
    r = client.get(f"{CW}/integrations/runerror/{run_id}")
    errors = spec.validate("cloudworks", "GET", "/integrations/runerror/{runId}", r)["runs"]
    assert errors[0]["errorMessages"][0]["actionId"] == "112000000001"
    assert errors[0]["errorMessages"][0]["failureDumpGenerated"] is True
    r = client.get(f"{CW}/integrations/run/{run_id}/dumps")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "P999" in r.text and "abc" in r.text and "P001" not in r.text.split("\n", 1)[1]


def test_export_writes_the_object(client: httpx.Client, spec: SpecValidator, store: Path) -> None:
    status = wait_run(client, spec, run(client, spec, IMPORT_REVENUE_ID))
    assert status["success"] is True and status["executionErrorCode"] is None, status
    status = wait_run(client, spec, run(client, spec, EXPORT_REVENUE_ID))
    assert status["success"] is True, status
    text = (store / "outbound" / "revenue.csv").read_text()
    assert "P001,Jan 26,1200" in text and "P003,Feb 26,450.5" in text
    r = client.get(f"/_emulator/objectstore/{BUCKET}/outbound/revenue.csv")
    assert r.status_code == 200 and r.text == text


def test_process_integration_and_its_dumps(client: httpx.Client, spec: SpecValidator, store: Path) -> None:
    (store / "inbound" / "revenue.csv").write_text("Product,Month,Revenue\nP006,Apr 26,5\nP006,Apr 26,oops\n")
    status = wait_run(client, spec, run(client, spec, PROCESS_LOAD_ALL_ID))
    assert status["success"] is True and status["executionErrorCode"] == 38, status
    assert "P006" in members(client)
    run_id = status["id"]
    r = client.get(f"{CW}/integrations/run/{run_id}/process/import/112000000001/dumps")
    assert r.status_code == 200 and "oops" in r.text
    r = client.get(f"{CW}/integrations/run/{run_id}/process/import/112000000000/dumps")
    assert (
        spec.validate("cloudworks", "GET", "/integrations/run/{runId}/process/import/{actionId}/dumps", r)[
            "status"
        ]["code"]
        == 404
    )


def test_failed_runs(client: httpx.Client, spec: SpecValidator, store: Path) -> None:
    (store / "inbound" / "products.csv").unlink()
    status = wait_run(client, spec, run(client, spec, IMPORT_PRODUCTS_ID))
    assert status["success"] is False and "not found in bucket" in status["message"]
    (store / "inbound" / "products.csv").write_text("Product,Category,Discontinued\nP009,Tools,false\n")
    assert client.put(f"/2/0/models/{PROD}/onlineStatus", json={"status": "offline"}).status_code == 204
    status = wait_run(client, spec, run(client, spec, IMPORT_PRODUCTS_ID))
    assert status["success"] is False and "PRODUCTION_MAINTENANCE" in status["message"]
    assert client.put(f"/2/0/models/{PROD}/onlineStatus", json={"status": "online"}).status_code == 204
    status = wait_run(client, spec, run(client, spec, IMPORT_PRODUCTS_ID))
    assert status["success"] is True and "P009" in members(client)
    r = client.post(f"{CW}/integrations/{'0' * 32}/run")
    assert (
        spec.validate("cloudworks", "POST", "/integrations/{integrationId}/run", r)["status"]["code"] == 404
    )
    r = client.get(f"{CW}/integrations/run/{'0' * 32}")
    assert spec.validate("cloudworks", "GET", "/integrations/run/{runId}", r)["status"]["code"] == 404


def test_create_an_import_integration_and_run_it(
    client: httpx.Client, spec: SpecValidator, store: Path
) -> None:
    (store / "drops").mkdir()
    (store / "drops" / "more.csv").write_text("Product,Category,Discontinued\nP020,Books,false\n")
    job = {
        "type": "AmazonS3ToAnaplan",
        "sources": [{"type": "AmazonS3", "connectionId": CONNECTION_ID, "file": "drops/more.csv"}],
        "targets": [{"type": "Anaplan", "actionId": "112000000000", "fileId": "113000000000"}],
    }
    body = {"name": "More products", "version": "2.0", "workspaceId": WS, "modelId": PROD, "jobs": [job]}
    r = client.post(f"{CW}/integrations", json=body)
    integration_id = spec.validate("cloudworks", "POST", "/integrations", r)["integration"]["integrationId"]
    assert wait_run(client, spec, run(client, spec, integration_id))["success"] is True
    assert "P020" in members(client)
    bad = {**body, "jobs": [{**job, "targets": [{"type": "Anaplan", "actionId": "112000000099"}]}]}
    r = client.post(f"{CW}/integrations", json=bad)
    assert spec.validate("cloudworks", "POST", "/integrations", r)["status"]["code"] == 400
    r = client.delete(f"{CW}/integrations/{integration_id}")
    assert spec.validate("cloudworks", "DELETE", "/integrations/{integrationId}", r)["status"]["code"] == 200


def test_flow_runs_its_steps(client: httpx.Client, spec: SpecValidator, store: Path) -> None:
    r = client.get(f"{CW}/integrationflows")
    flows = spec.validate("cloudworks", "GET", "/integrationflows", r)["integrationFlows"]
    assert [f["id"] for f in flows] == [FLOW_ID] and flows[0]["stepsCount"] == 3
    r = client.post(f"{CW}/integrationflows/{FLOW_ID}/run")
    run_id = spec.validate("cloudworks", "POST", "/integrationflows/{integrationFlowId}/run", r)["run"]["id"]
    r = client.post(f"{CW}/integrationflows/{FLOW_ID}/run")
    assert (
        spec.validate("cloudworks", "POST", "/integrationflows/{integrationFlowId}/run", r)["status"]["code"]
        == 409
    )
    status = wait_run(client, spec, run_id, timeout=30)
    assert status["success"] is True and status["integrationId"] == FLOW_ID, status
    assert (store / "outbound" / "revenue.csv").read_text().count("\n") >= 3
    assert {"P006", "P007"} <= members(client)
    steps = next(x for x in client.get("/_emulator/cloudworks/runs").json()["runs"] if x["id"] == run_id)[
        "stepRuns"
    ]
    assert len(steps) == 3
    for step_run in steps:
        assert wait_run(client, spec, step_run)["flowGroupId"] == FLOW_ID
    r = client.get(f"{CW}/integrationflows/{FLOW_ID}")
    detail = spec.validate("cloudworks", "GET", "/integrationflows/{integrationFlowId}", r)["integrationFlow"]
    assert [s["referrer"] for s in detail["steps"]] == [
        IMPORT_PRODUCTS_ID,
        IMPORT_REVENUE_ID,
        EXPORT_REVENUE_ID,
    ]
    assert detail["latestRun"]["success"] is True and all(s["latestRun"]["success"] for s in detail["steps"])
    r = client.get(f"{CW}/integrations/runs/{FLOW_ID}")
    assert (
        spec.validate("cloudworks", "GET", "/integrations/runs/{integrationId}", r)["history_of_runs"][
            "totalRuns"
        ]
        == 1
    )


def test_flow_selected_steps_and_refusals(client: httpx.Client, spec: SpecValidator, store: Path) -> None:
    r = client.post(f"{CW}/integrationflows/{FLOW_ID}/run", json={"stepsToRun": [IMPORT_PRODUCTS_ID]})
    run_id = spec.validate("cloudworks", "POST", "/integrationflows/{integrationFlowId}/run", r)["run"]["id"]
    assert wait_run(client, spec, run_id)["success"] is True
    record = next(x for x in client.get("/_emulator/cloudworks/runs").json()["runs"] if x["id"] == run_id)
    assert len(record["stepRuns"]) == 1
    assert not (store / "outbound" / "revenue.csv").exists()
    r = client.post(f"{CW}/integrationflows/{FLOW_ID}/run", json={"stepsToRun": ["nope"]})
    assert (
        spec.validate("cloudworks", "POST", "/integrationflows/{integrationFlowId}/run", r)["status"]["code"]
        == 400
    )
    step = {"type": "Integration", "isSkipped": False, "exceptionBehavior": []}
    body = {"name": "two", "version": "2.0", "type": "IntegrationFlow"}
    r = client.post(
        f"{CW}/integrationflows", json={**body, "steps": [{**step, "referrer": IMPORT_PRODUCTS_ID}]}
    )
    assert spec.validate("cloudworks", "POST", "/integrationflows", r)["status"]["code"] == 400
    steps = [
        {**step, "referrer": IMPORT_PARTIAL_ID},
        {**step, "referrer": EXPORT_REVENUE_ID, "dependsOn": [IMPORT_PARTIAL_ID]},
    ]
    r = client.post(f"{CW}/integrationflows", json={**body, "steps": steps})
    flow_id = spec.validate("cloudworks", "POST", "/integrationflows", r)["integrationFlow"][
        "integrationFlowId"
    ]
    status = wait_run(client, spec, client.post(f"{CW}/integrationflows/{flow_id}/run").json()["run"]["id"])
    assert status["success"] is True and status["executionErrorCode"] == 38  # partial continues by default
    assert (store / "outbound" / "revenue.csv").exists()
    r = client.delete(f"{CW}/integrationflows/{flow_id}")
    assert (
        spec.validate("cloudworks", "DELETE", "/integrationflows/{integrationFlowId}", r)["status"]["code"]
        == 200
    )


def test_object_store_root_sources_and_key_safety(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_anaplan.testing.emulator.__main__ import build_parser
    from airflow_provider_anaplan.testing.emulator.objectstore import ENV_VAR, ObjectStore

    assert build_parser().parse_args(["--object-store", str(tmp_path)]).object_store == str(tmp_path)
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "from-env"))
    store = ObjectStore()
    assert store.root == (tmp_path / "from-env").resolve() and store.root.is_dir()
    store.write("b", "dir/x.csv", b"a,b\n")
    assert store.read("b", "dir/x.csv") == b"a,b\n"
    assert store.list_objects("b") == [{"key": "dir/x.csv", "size": 4}]
    for bad in ("../escape.csv", "/abs.csv", "a/../../b", "a//b"):
        with pytest.raises(ValueError):
            store.path("b", bad)
    with pytest.raises(ValueError):
        store.path("../b")
    with pytest.raises(FileNotFoundError):
        store.read("b", "missing.csv")


def test_object_store_admin_api(client: httpx.Client, store: Path) -> None:
    r = client.put(f"/_emulator/objectstore/{BUCKET}/drops/a.csv", content=b"x,y\n")
    assert r.status_code == 200 and (store / "drops" / "a.csv").read_bytes() == b"x,y\n"
    keys = [o["key"] for o in client.get(f"/_emulator/objectstore/{BUCKET}").json()["objects"]]
    assert "drops/a.csv" in keys and "inbound/products.csv" in keys
    assert client.delete(f"/_emulator/objectstore/{BUCKET}/drops/a.csv").status_code == 204
    assert client.get(f"/_emulator/objectstore/{BUCKET}/drops/a.csv").status_code == 404
    assert client.get("/_emulator/objectstore/bad%20bucket").status_code == 400


def test_flow_stops_at_a_failed_step(client: httpx.Client, spec: SpecValidator, store: Path) -> None:
    (store / "inbound" / "products.csv").unlink()
    r = client.post(f"{CW}/integrationflows/{FLOW_ID}/run")
    run_id = spec.validate("cloudworks", "POST", "/integrationflows/{integrationFlowId}/run", r)["run"]["id"]
    status = wait_run(client, spec, run_id)
    assert status["success"] is False and "not found in bucket" in status["message"], status
    record = next(x for x in client.get("/_emulator/cloudworks/runs").json()["runs"] if x["id"] == run_id)
    assert len(record["stepRuns"]) == 1  # failure: stop (the default) ends the flow at step 1
    assert not (store / "outbound" / "revenue.csv").exists()
    r = client.get(f"{CW}/integrationflows")
    latest = spec.validate("cloudworks", "GET", "/integrationflows", r)["integrationFlows"][0]["latestRun"]
    assert latest["success"] is False


def test_cancel_a_flow(client: httpx.Client, spec: SpecValidator, store: Path) -> None:
    client.post("/_emulator/cloudworks/config", json={"run_seconds": 1.0})
    run_id = client.post(f"{CW}/integrationflows/{FLOW_ID}/run").json()["run"]["id"]
    deadline = time.monotonic() + 10
    while not next(x for x in client.get("/_emulator/cloudworks/runs").json()["runs"] if x["id"] == run_id)[
        "stepRuns"
    ]:
        assert time.monotonic() < deadline  # wait until step 1 is going
        time.sleep(0.02)
    r = client.post(f"{CW}/integrations/{FLOW_ID}/cancel")
    assert (
        spec.validate("cloudworks", "POST", "/integrations/{integrationId}/cancel", r)["status"]["code"]
        == 200
    )
    assert wait_run(client, spec, run_id)["message"] == "Cancelled"
    steps = next(x for x in client.get("/_emulator/cloudworks/runs").json()["runs"] if x["id"] == run_id)[
        "stepRuns"
    ]
    assert len(steps) == 1 and wait_run(client, spec, steps[0])["message"] == "Cancelled"
