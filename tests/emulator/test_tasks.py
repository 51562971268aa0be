"""Tasks against the real in-memory model: imports, dumps, mapping parameters, processes, exports,
delete actions, queueing and cancellation."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from airflow_provider_anaplan.testing.emulator import default_fixture
from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle

from .conftest import PRODUCTS_CSV, REVENUE_CSV, M, run, start, upload, wait


def products(emu: EmulatorHandle) -> dict[str, dict]:
    return {i["name"]: i for i in emu.admin.list_items("101000000001")}


def cells(emu: EmulatorHandle) -> dict[tuple[str, str, str], float]:
    return {
        (c["Product"], c["Month"], c["Version"]): c["value"] for c in emu.admin.module_cells("102000000001")
    }


def detail_text(task: dict) -> str:
    return " | ".join(d["localMessageText"] for d in task["result"]["details"])


def test_list_import_creates_and_updates(client: httpx.Client, emu: EmulatorHandle) -> None:
    upload(client, "113000000000", PRODUCTS_CSV.encode())
    task = run(client, "imports", "112000000000")
    assert task["taskState"] == "COMPLETE" and task["result"]["successful"] is True
    assert task["result"]["failureDumpAvailable"] is False
    assert "Products: 3 (2/1) rows successful, 0 ignored" in detail_text(task)
    items = products(emu)
    assert items["P010"] == {"name": "P010", "code": "", "Category": "Garden", "Discontinued": True}
    assert items["P001"]["Category"] == "Hardware" and len(items) == 7
    r = client.get(f"{M}/imports/112000000000/tasks/{task['taskId']}/dump")
    assert r.status_code == 204


def test_bad_rows_go_to_the_dump_and_fail_the_task(client: httpx.Client, emu: EmulatorHandle) -> None:
    csv = (
        "Product,Month,Revenue\n"
        "P001,Jan 26,10\n"
        "P999,Jan 26,5\n"  # unknown list member
        "P002,Feb 26,ten\n"  # not a number
        "P003,Month 13,7\n"  # bad month
        "P004,Mar 26\n"  # missing column
        "\n"  # blank: ignored, not a failure
        "P002,Apr 26,1e3\n"
    )
    upload(client, "113000000001", csv.encode())
    task = run(client, "imports", "112000000001")
    result = task["result"]
    assert task["taskState"] == "COMPLETE"
    assert result["successful"] is False and result["failureDumpAvailable"] is True
    assert "Revenue: 2 (2/0) rows successful, 5 ignored" in detail_text(task)
    values = result["details"][0]["values"]
    assert values[values.index("failedCount") + 1] == "4"
    assert cells(emu) == {("P001", "Jan 26", "Actual"): 10.0, ("P002", "Apr 26", "Actual"): 1000.0}
    dump = client.get(f"{M}/imports/112000000001/tasks/{task['taskId']}/dump")
    assert dump.status_code == 200
    lines = dump.text.strip().splitlines()
    assert lines[0] == '"_Status_","_Line_","Product","Month","Revenue","_Error_1_"'
    assert len(lines) == 5
    assert '"3","P999","Jan 26","5"' in lines[1] and "not a member of Products" in lines[1]
    assert "'ten' is not a number" in lines[2]
    assert "'Month 13' is not a valid item of Month" in lines[3]
    assert "Missing value for column 'Revenue'" in lines[4]
    chunks = client.get(f"{M}/imports/112000000001/tasks/{task['taskId']}/dump/chunks").json()["chunks"]
    joined = "".join(
        client.get(f"{M}/imports/112000000001/tasks/{task['taskId']}/dump/chunks/{c['id']}").text
        for c in chunks
    )
    assert joined == dump.text


def test_ignored_blank_rows_still_successful(client: httpx.Client) -> None:
    upload(client, "113000000001", b"Product,Month,Revenue\nP001,Jan 26,1\n\nP002,Jan 26,\n,,\n")
    task = run(client, "imports", "112000000001")
    assert task["result"]["successful"] is True
    assert "1 (1/0) rows successful, 3 ignored" in detail_text(task)


def test_missing_header_column_fails_whole_import(client: httpx.Client, emu: EmulatorHandle) -> None:
    upload(client, "113000000001", b"Product,Period,Revenue\nP001,Jan 26,1\n")
    task = run(client, "imports", "112000000001")
    assert task["result"]["successful"] is False and task["result"]["failureDumpAvailable"] is False
    assert "Column 'Month' was not found" in detail_text(task)
    assert cells(emu) == {}


def test_import_without_uploaded_file_fails_clearly(client: httpx.Client) -> None:
    task = run(client, "imports", "112000000001")
    assert task["result"]["successful"] is False
    assert "has no content" in detail_text(task)
    client.post(f"{M}/files/113000000001", json={"chunkCount": 2})
    client.put(f"{M}/files/113000000001/chunks/0", content=b"Product,Month,Revenue\n")
    assert "incomplete" in detail_text(run(client, "imports", "112000000001"))
    client.post(f"{M}/files/113000000001", json={"chunkCount": -1})
    client.put(f"{M}/files/113000000001/chunks/0", content=b"Product,Month,Revenue\n")
    assert "not completed" in detail_text(run(client, "imports", "112000000001"))


def test_mapping_parameter_required_and_validated(client: httpx.Client, emu: EmulatorHandle) -> None:
    upload(client, "113000000001", REVENUE_CSV.encode())
    missing = run(client, "imports", "112000000002")
    assert missing["result"]["successful"] is False
    assert "Mapping parameter 'Version' is required" in detail_text(missing)
    unknown = run(
        client, "imports", "112000000002", mappingParameters=[{"entityType": "Version", "entityName": "Plan"}]
    )
    assert "Mapping parameter Version: 'Plan' is not a member of Versions" in detail_text(unknown)
    assert cells(emu) == {}
    ok = run(
        client,
        "imports",
        "112000000002",
        mappingParameters=[{"entityType": "Version", "entityName": "Budget"}],
    )
    assert ok["result"]["successful"] is False  # P010/P011 are not Products members yet
    assert cells(emu) == {("P001", "Jan 26", "Budget"): 100.0}


def test_task_body_validation(client: httpx.Client) -> None:
    url = f"{M}/imports/112000000000/tasks"
    assert client.post(url, json={}).status_code == 400
    assert client.post(url, content=b"{not json").status_code == 400
    r = client.post(url, json={"localeName": "en_US", "mappingParameters": {"Version": "Actual"}})
    assert r.status_code == 400
    r = client.post(url, json={"localeName": "en_US", "mappingParameters": [{"entityName": "x"}]})
    assert r.status_code == 400
    assert client.post(f"{M}/imports/116000000000/tasks", json={"localeName": "en_US"}).status_code == 404
    assert client.post(f"{M}/actions/112000000000/tasks", json={"localeName": "en_US"}).status_code == 404


def test_process_is_not_atomic(client: httpx.Client, emu: EmulatorHandle) -> None:
    upload(client, "113000000000", PRODUCTS_CSV.encode())
    upload(client, "113000000001", (REVENUE_CSV + "P404,Jan 26,1\n").encode())
    task = run(client, "processes", "118000000000")
    result = task["result"]
    assert result["successful"] is False and result["failureDumpAvailable"] is True
    nested = result["nestedResults"]
    assert [n["objectId"] for n in nested] == ["112000000000", "112000000001"]
    assert [n["successful"] for n in nested] == [True, False]
    assert [n["failureDumpAvailable"] for n in nested] == [False, True]
    assert "P010" in products(emu)  # step 1 applied
    assert cells(emu)[("P010", "Feb 26", "Actual")] == 250.5  # step 2 applied its good rows
    base = f"{M}/processes/118000000000/tasks/{task['taskId']}/dumps"
    dump = client.get(f"{base}/112000000001")
    assert dump.status_code == 200 and "P404" in dump.text
    assert client.get(f"{base}/112000000000").status_code == 404
    assert client.get(f"{base}/117000000000").status_code == 404
    assert client.get(f"{base}/112000000001/chunks").json()["chunks"][0]["id"] == "0"
    assert "P404" in client.get(f"{base}/112000000001/chunks/0").text


def test_process_stops_at_a_fatal_step_keeping_earlier_steps(
    client: httpx.Client, emu: EmulatorHandle
) -> None:
    upload(client, "113000000000", PRODUCTS_CSV.encode())
    upload(client, "113000000001", REVENUE_CSV.encode())
    task = run(client, "processes", "118000000001")  # no mapping parameter given for step 2
    nested = task["result"]["nestedResults"]
    assert [n["successful"] for n in nested] == [True, False]
    assert "Mapping parameter 'Version' is required" in nested[1]["details"][0]["localMessageText"]
    assert "P011" in products(emu) and cells(emu) == {}
    ok = run(
        client,
        "processes",
        "118000000001",
        mappingParameters=[{"entityType": "Version", "entityName": "Forecast"}],
    )
    assert ok["result"]["successful"] is True
    assert cells(emu)[("P011", "Mar 26", "Forecast")] == -3.0


def test_delete_action_removes_members_and_their_cells(client: httpx.Client, emu: EmulatorHandle) -> None:
    upload(client, "113000000001", b"Product,Month,Revenue\nP005,Jan 26,9\nP001,Jan 26,1\n")
    run(client, "imports", "112000000001")
    assert ("P005", "Jan 26", "Actual") in cells(emu)
    task = run(client, "actions", "117000000000")
    assert task["result"]["successful"] is True
    assert "1 items deleted" in detail_text(task)
    assert "P005" not in products(emu) and "P004" in products(emu)
    assert cells(emu) == {("P001", "Jan 26", "Actual"): 1.0}


def test_export_module_and_list_in_chunks(client: httpx.Client, emu: EmulatorHandle) -> None:
    emu.admin.configure(export_chunk_size=64)
    rows = [
        f"P00{1 + i % 4},{m} 26,{i * 10 + 0.5}"
        for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun"])
    ]
    upload(client, "113000000001", ("Product,Month,Revenue\n" + "\n".join(rows) + "\n").encode())
    run(client, "imports", "112000000001")
    run(
        client,
        "imports",
        "112000000002",
        mappingParameters=[{"entityType": "Version", "entityName": "Budget"}],
    )
    task = run(client, "exports", "116000000000")
    assert task["result"]["successful"] is True and "6 rows exported" in detail_text(task)
    chunks = client.get(f"{M}/files/116000000000/chunks").json()["chunks"]
    assert len(chunks) > 1
    data = b"".join(client.get(f"{M}/files/116000000000/chunks/{c['id']}").content for c in chunks)
    assert data == client.get(f"{M}/files/116000000000").content
    lines = data.decode().splitlines()
    assert lines[0] == "Product,Month,Revenue"
    assert sorted(lines[1:]) == sorted(rows)  # Budget rows filtered out
    listed = {f["id"]: f for f in client.get(f"{M}/files").json()["files"]}
    assert listed["116000000000"]["chunkCount"] == len(chunks)
    products_csv = client.get(f"{M}/files/116000000001")
    assert products_csv.status_code == 404  # not exported yet
    run(client, "exports", "116000000001")
    text = client.get(f"{M}/files/116000000001").text
    assert text.splitlines()[0] == "Product,Category,Discontinued"
    assert "P005,Services,true" in text.splitlines()


def test_one_task_at_a_time_then_cancel_mid_task(client: httpx.Client, emu: EmulatorHandle) -> None:
    emu.admin.configure(rows_per_second=2000, cancel_delay_seconds=0.2)
    big = "Product,Category,Discontinued\n" + "".join(f"N{i},Bulk,false\n" for i in range(4000))
    upload(client, "113000000000", big.encode())
    first = start(client, "imports", "112000000000")
    second = start(client, "exports", "116000000001")
    assert re.fullmatch(r"[0-9A-F]{32}", first) and first != second
    time.sleep(0.4)
    one = client.get(f"{M}/imports/112000000000/tasks/{first}").json()["task"]
    two = client.get(f"{M}/exports/116000000001/tasks/{second}").json()["task"]
    assert one["taskState"] == "IN_PROGRESS" and 0 < one["progress"] < 1
    assert one["currentStep"].startswith("Importing")
    assert two["taskState"] == "NOT_STARTED" and "result" not in two
    status = client.get(f"/2/0/models/{emu.model_id}/status").json()["requestStatus"]
    assert status["taskId"] == first
    r = client.delete(f"{M}/imports/112000000000/tasks/{first}")
    assert r.status_code == 200 and r.json()["task"]["taskState"] == "CANCELLING"
    cancelled = wait(client, "imports", "112000000000", first)
    assert cancelled["taskState"] == "CANCELLED" and cancelled["result"]["successful"] is False
    assert "N1" not in products(emu) and len(products(emu)) == 5  # nothing half-applied
    exported = wait(client, "exports", "116000000001", second)
    assert exported["taskState"] == "COMPLETE"
    assert "N1," not in client.get(f"{M}/files/116000000001").text


def test_cancel_a_queued_task(client: httpx.Client, emu: EmulatorHandle) -> None:
    emu.admin.configure(min_task_seconds=0.5)
    first = start(client, "actions", "117000000000")
    second = start(client, "actions", "117000000000")
    r = client.delete(f"{M}/actions/117000000000/tasks/{second}")
    assert r.json()["task"]["taskState"] == "CANCELLED"
    assert wait(client, "actions", "117000000000", first)["taskState"] == "COMPLETE"
    again = client.delete(f"{M}/actions/117000000000/tasks/{first}")
    assert again.status_code == 200 and again.json()["task"]["taskState"] == "COMPLETE"
    tasks = client.get(f"{M}/actions/117000000000/tasks").json()["tasks"]
    assert [t["taskId"] for t in tasks] == [first, second]
    newest_first = client.get(f"{M}/actions/117000000000/tasks", params={"sort": "-creationTime"}).json()[
        "tasks"
    ]
    assert {t["taskId"] for t in newest_first} == {first, second}
    assert emu.admin.counters()["tasks_created"] == {"117000000000": 2}


def test_newer_task_replaces_the_dump(client: httpx.Client) -> None:
    upload(client, "113000000001", b"Product,Month,Revenue\nP999,Jan 26,1\n")
    old = run(client, "imports", "112000000001")
    assert client.get(f"{M}/imports/112000000001/tasks/{old['taskId']}/dump").status_code == 200
    new = run(client, "imports", "112000000001")
    assert client.get(f"{M}/imports/112000000001/tasks/{old['taskId']}/dump").status_code == 404
    assert client.get(f"{M}/imports/112000000001/tasks/{new['taskId']}/dump").status_code == 200


def test_dump_expires(client: httpx.Client, emu: EmulatorHandle) -> None:
    emu.admin.configure(dump_ttl_seconds=0.1)
    upload(client, "113000000001", b"Product,Month,Revenue\nP999,Jan 26,1\n")
    task = run(client, "imports", "112000000001")
    time.sleep(0.15)
    assert client.get(f"{M}/imports/112000000001/tasks/{task['taskId']}/dump").status_code == 404


def test_unknown_task_and_empty_task_list(client: httpx.Client) -> None:
    assert client.get(f"{M}/imports/112000000000/tasks/{'A' * 32}").status_code == 404
    assert client.delete(f"{M}/imports/112000000000/tasks/{'A' * 32}").status_code == 404
    r = client.get(f"{M}/imports/112000000077/tasks")
    assert r.status_code == 200 and r.json()["tasks"] == []


@pytest.mark.parametrize(
    ("encoding", "python", "separator", "header_row"),
    [("ISO-8859-1", "latin-1", ",", 1), ("UTF-16LE", "utf-16-le", "\t", 2), ("UTF-8", "utf-8-sig", ";", 1)],
)
def test_import_encodings_and_layouts(
    client: httpx.Client, emu: EmulatorHandle, encoding: str, python: str, separator: str, header_row: int
) -> None:
    fixture = default_fixture()
    imp = fixture["models"][0]["imports"][0]
    imp["source"] = {
        "encoding": encoding,
        "separator": separator,
        "headerRow": header_row,
        "firstDataRow": header_row + 1,
    }
    emu.admin.load_fixture(fixture)
    preamble = "exported by a tool\n" if header_row == 2 else ""
    text = preamble + separator.join(["Product", "Category", "Discontinued"]) + "\n"
    text += separator.join(["Café", "Bücher ß", "yes"]) + "\n"
    upload(client, "113000000000", text.encode(python))
    listed = {f["id"]: f for f in client.get(f"{M}/files").json()["files"]}
    assert listed["113000000000"]["encoding"] == encoding and listed["113000000000"]["separator"] == separator
    task = run(client, "imports", "112000000000")
    assert task["result"]["successful"] is True, detail_text(task)
    assert products(emu)["Café"]["Category"] == "Bücher ß"
    assert products(emu)["Café"]["Discontinued"] is True


def test_undecodable_file_fails(client: httpx.Client) -> None:
    upload(client, "113000000000", "Product,Category,Discontinued\nP1,Caf\xe9,false\n".encode("latin-1"))
    task = run(client, "imports", "112000000000")
    assert task["result"]["successful"] is False and "could not be decoded as UTF-8" in detail_text(task)


def test_import_metadata_describes_source(client: httpx.Client) -> None:
    meta = client.get(f"{M}/imports/112000000001").json()["importMetadata"]
    assert meta["source"]["headerNames"] == ["Product", "Month", "Revenue"]
    assert meta["source"]["textEncoding"] == "UTF-8"
    imports = client.get(f"{M}/imports").json()["imports"]
    assert {i["id"]: i["importDataSourceId"] for i in imports} == {
        "112000000000": "113000000000",
        "112000000001": "113000000001",
        "112000000002": "113000000001",
    }
    process = client.get(f"{M}/processes/118000000001").json()["processMetadata"]
    assert [a["id"] for a in process["actions"]] == ["112000000000", "112000000002"]


def test_busy_model_answers_409(client: httpx.Client, emu: EmulatorHandle) -> None:
    emu.admin.configure(max_queued_tasks=2, min_task_seconds=0.3)
    first = start(client, "actions", "117000000000")
    start(client, "actions", "117000000000")
    r = client.post(f"{M}/actions/117000000000/tasks", json={"localeName": "en_US"})
    assert r.status_code == 409 and "busy" in r.json()["status"]["message"]
    wait(client, "actions", "117000000000", first)
    assert emu.admin.counters()["tasks_created"] == {"117000000000": 2}
