"""Large-volume read requests of views and lists: lifecycle, pages (CSV), delete, 404 after delete."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import httpx
import jsonschema
import pytest

from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle

from .conftest import MD, M, SpecValidator
from .test_transactional import check, error

VIEW_RR = "/views/{viewId}/readRequests"
LIST_RR = "/lists/{listId}/readRequests"
MODULE = "102000000001"
STORES = "101000000004"


def settings(emu: EmulatorHandle, **values: Any) -> None:
    r = httpx.post(f"{emu.url}/_emulator/transactional", json=values)
    assert r.status_code == 200, r.text


def validate_list_request(spec: SpecValidator, response: httpx.Response) -> dict[str, Any]:
    """The body of a list read request status/delete, against the spec's POST response schema."""
    assert response.status_code == 200, response.text
    schema = spec.schema("bulk", "POST", "/workspaces/{workspaceId}/models/{modelId}" + LIST_RR, 200)
    assert schema is not None
    root = {**schema, "components": spec.docs["bulk"]["components"]}
    body: dict[str, Any] = response.json()
    jsonschema.Draft7Validator(root).validate(body)
    assert set(body) == {"meta", "status", "listReadRequest"}
    return body


def wait_complete(client: httpx.Client, url: str, key: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(url).json()[key]
        if body["requestState"] == "COMPLETE":
            return body  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, body
        time.sleep(0.02)


def test_view_read_request_lifecycle(client: httpx.Client, spec: SpecValidator, emu: EmulatorHandle) -> None:
    settings(
        emu, read_request_start_seconds=0.2, read_request_pages_per_second=10, read_request_page_cells=24
    )
    client.post(
        f"{MD}/modules/{MODULE}/data",
        json=[
            {
                "lineItemName": "Revenue",
                "value": 42,
                "dimensions": [
                    {"dimensionName": "Product", "itemName": "P002"},
                    {"dimensionName": "Month", "itemName": "Feb 26"},
                    {"dimensionName": "Version", "itemName": "Budget"},
                ],
            }
        ],
    )
    r = client.post(f"{M}/views/{MODULE}/readRequests")
    created = check(spec, "POST", VIEW_RR, r)["viewReadRequest"]
    request_id = created["requestId"]
    assert len(request_id) == 32 and created["requestState"] == "NOT_STARTED"
    url = f"{M}/views/{MODULE}/readRequests/{request_id}"
    assert created["url"].endswith(url)
    status = check(spec, "GET", VIEW_RR + "/{requestId}", client.get(url))["viewReadRequest"]
    assert status["viewId"] == int(MODULE) and status["availablePages"] == 0 and status["successful"] is False
    # a page not produced yet is a 404
    assert "not available yet" in error(spec, client.get(f"{url}/pages/0"), 404)
    # 5 products x 3 versions = 15 lines of 12 columns; 24 cells a page -> 2 lines a page -> 8 pages
    seen_in_progress = False
    deadline = time.monotonic() + 10
    while True:
        status = client.get(url).json()["viewReadRequest"]
        if status["requestState"] == "IN_PROGRESS":
            seen_in_progress = True
            assert 0 <= status["availablePages"] < 8 and status["successful"] is False
        if status["requestState"] == "COMPLETE":
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert seen_in_progress
    assert status["availablePages"] == 8 and status["successful"] is True
    pages = []
    for page in range(8):
        r = client.get(f"{url}/pages/{page}", headers={"Accept-Encoding": "csv"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        pages.append(r.text)
    assert "not found" in error(spec, client.get(f"{url}/pages/8"), 404)
    rows = list(csv.reader(io.StringIO("".join(pages))))
    assert rows[0][:2] == ["Version", "Product"] and rows[0][2:5] == ["Jan 26", "Feb 26", "Mar 26"]
    assert len(rows) == 1 + 15  # the header is on page 0 only
    assert rows[1][:2] == ["Actual", "P001"]
    assert ["Budget", "P002", "0", "42"] == rows[7][:4]
    assert pages[1].splitlines()[0].startswith("Actual,P003,")
    r = client.delete(url)
    assert (
        check(spec, "DELETE", VIEW_RR + "/{requestId}", r)["viewReadRequest"]["requestState"] == "CANCELLED"
    )
    error(spec, client.get(url), 404)
    error(spec, client.get(f"{url}/pages/0"), 404)
    error(spec, client.delete(url), 404)


def test_single_column_layout_and_model_form(client: httpx.Client, emu: EmulatorHandle) -> None:
    settings(emu, read_request_start_seconds=0, read_request_page_cells=7)
    r = client.post(f"{MD}/views/203000000001/readRequests", json={"exportType": "TABULAR_SINGLE_COLUMN"})
    request_id = r.json()["viewReadRequest"]["requestId"]
    url = f"{MD}/views/203000000001/readRequests/{request_id}"
    status = wait_complete(client, url, "viewReadRequest")
    assert status["availablePages"] == 180 // 7 + 1
    text = "".join(client.get(f"{url}/pages/{n}").text for n in range(status["availablePages"]))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Product", "Version", "Month", "Value"]
    assert rows[1] == ["P001", "Actual", "Jan 26", "0"] and rows[12] == ["P001", "Actual", "Dec 26", "0"]
    assert rows[13][:3] == ["P001", "Budget", "Jan 26"] and len(rows) == 1 + 5 * 3 * 12
    assert (
        "exportType" in client.post(f"{MD}/views/203000000001/readRequests", json={"exportType": "XML"}).text
    )


def test_list_read_request(client: httpx.Client, spec: SpecValidator, emu: EmulatorHandle) -> None:
    settings(emu, read_request_start_seconds=0, read_request_page_items=2)
    r = client.post(f"{M}/lists/{STORES}/readRequests")
    created = check(spec, "POST", LIST_RR, r)["listReadRequest"]
    url = f"{M}/lists/{STORES}/readRequests/{created['requestId']}"
    status = wait_complete(client, url, "listReadRequest")
    assert status["listId"] == STORES and status["availablePages"] == 2 and status["successful"] is True
    # the read covers the list as it was when the request was made
    client.post(f"{M}/lists/{STORES}/items?action=add", json={"items": [{"name": "Late"}]})
    text = client.get(f"{url}/pages/0").text + client.get(f"{url}/pages/1").text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["name"] for r in rows] == ["London", "Leeds", "Bristol"]
    assert rows[0]["code"] == "ST01" and rows[0]["parent"] == "North" and rows[0]["Size"] == "120"
    assert rows[0]["Flagship"] == "true" and rows[1]["Flagship"] == "false"
    # the spec lists only the POST for lists: validate status and delete against its ListReadRequest
    status_body = validate_list_request(spec, client.get(url))
    assert status_body["listReadRequest"]["requestState"] == "COMPLETE"
    deleted = validate_list_request(spec, client.delete(url))["listReadRequest"]
    assert deleted["requestState"] == "CANCELLED"
    assert client.get(url).status_code == 404 and client.get(f"{url}/pages/0").status_code == 404


def test_read_requests_are_scoped_and_listed(client: httpx.Client, emu: EmulatorHandle) -> None:
    r = client.post(f"{M}/views/{MODULE}/readRequests").json()["viewReadRequest"]
    assert client.get(f"{M}/views/203000000001/readRequests/{r['requestId']}").status_code == 404
    assert client.get(f"{M}/lists/{STORES}/readRequests/{r['requestId']}").status_code == 404
    listed = httpx.get(f"{emu.url}/_emulator/transactional").json()["readRequests"]
    assert [x["requestId"] for x in listed] == [r["requestId"]]
    client.delete(f"{M}/views/{MODULE}/readRequests/{r['requestId']}")
    assert httpx.get(f"{emu.url}/_emulator/transactional").json()["readRequests"] == []
    assert client.post(f"{M}/views/203000000099/readRequests").status_code == 404
    assert client.post(f"{M}/lists/101000000099/readRequests").status_code == 404


def test_large_list_pages(client: httpx.Client, emu: EmulatorHandle) -> None:
    r = httpx.post(f"{emu.url}/_emulator/transactional/large_list", json={"count": 250_000})
    assert r.json()["itemCount"] == 250_000
    settings(emu, read_request_start_seconds=0, read_request_pages_per_second=1000)
    rr = client.post(f"{M}/lists/101000000900/readRequests").json()["listReadRequest"]
    url = f"{M}/lists/101000000900/readRequests/{rr['requestId']}"
    status = wait_complete(client, url, "listReadRequest")
    assert status["availablePages"] == 3  # 100,000 items a page by default
    last = client.get(f"{url}/pages/2").text.splitlines()
    assert len(last) == 50_000 and last[-1].split(",")[1:3] == ["Item 0250000", "C250000"]
    items = client.get(f"{M}/lists/101000000900/items", params={"limit": 2, "offset": 249_998}).json()
    assert [i["name"] for i in items["listItems"]] == ["Item 0249999", "Item 0250000"]


@pytest.mark.timeout(120)
def test_large_view_streams_pages(client: httpx.Client, emu: EmulatorHandle) -> None:
    """A 2,000,000-cell synthetic view: plain reads refuse it, a read request pages through it."""
    r = httpx.post(f"{emu.url}/_emulator/transactional/large_view", json={"rows": 20_000, "columns": 100})
    view = r.json()
    assert view["cells"] == 2_000_000
    assert client.get(f"{MD}/views/{view['viewId']}/data").status_code == 400
    settings(emu, read_request_start_seconds=0, read_request_pages_per_second=1000)
    rr = client.post(f"{M}/views/{view['viewId']}/readRequests").json()["viewReadRequest"]
    url = f"{M}/views/{view['viewId']}/readRequests/{rr['requestId']}"
    status = wait_complete(client, url, "viewReadRequest")
    assert status["availablePages"] == 4  # 500,000 cells a page = 5,000 rows of 100
    total = 0
    first = ""
    for page in range(4):
        with client.stream("GET", f"{url}/pages/{page}") as response:
            data = b"".join(response.iter_bytes())
        lines = data.decode().splitlines()
        first = first or lines[1]
        total += len(lines)
    assert total == 1 + 20_000
    fields = first.split(",")
    assert fields[0] == "R0000001" and len(fields) == 101 and all(f.isdigit() for f in fields[1:])
    # a written cell overrides the computed value
    client.post(
        f"{MD}/modules/{view['moduleId']}/data",
        json=[
            {
                "lineItemName": "Amount",
                "value": -1,
                "dimensions": [
                    {"dimensionName": "Row", "itemName": "R0000001"},
                    {"dimensionName": "Column", "itemName": "C00001"},
                ],
            }
        ],
    )
    again = client.get(f"{url}/pages/0").text.splitlines()[1]
    assert again.split(",")[1] == "-1" and again.split(",")[2:] == fields[2:]


@pytest.mark.parametrize("kind", ["view", "list"])
def test_failed_read_request(
    client: httpx.Client, spec: SpecValidator, emu: EmulatorHandle, kind: str
) -> None:
    """``read_request_fail_after_pages``: COMPLETE with successful false after N pages; delete still works."""
    settings(
        emu,
        read_request_start_seconds=0,
        read_request_fail_after_pages=1,
        read_request_page_cells=12,
        read_request_page_items=1,
    )
    base = f"{M}/views/{MODULE}" if kind == "view" else f"{M}/lists/{STORES}"
    key = f"{kind}ReadRequest"
    created = client.post(f"{base}/readRequests").json()[key]
    url = f"{base}/readRequests/{created['requestId']}"
    status = wait_complete(client, url, key)
    assert status["successful"] is False and status["availablePages"] == 1
    if kind == "view":
        check(spec, "GET", VIEW_RR + "/{requestId}", client.get(url))
    assert client.get(f"{url}/pages/0").status_code == 200
    assert "failed" in error(spec, client.get(f"{url}/pages/1"), 404)
    assert client.delete(url).json()[key]["requestState"] == "CANCELLED"
    assert client.get(url).status_code == 404


def test_prepared_pages_quote_and_repeat(client: httpx.Client, emu: EmulatorHandle) -> None:
    """Pages are prepared while the request runs; a page fetched again is rendered again, byte for byte,
    and a field with a comma or a quote is quoted (the fast line join falls back to the CSV writer)."""
    added = client.post(
        f"{M}/lists/{STORES}/items?action=add",
        json={"items": [{"name": 'Hull, "Old" Town', "code": "ST09"}]},
    )
    assert added.json()["added"] == 1, added.text
    settings(emu, read_request_start_seconds=0, read_request_page_items=2)
    created = client.post(f"{M}/lists/{STORES}/readRequests").json()["listReadRequest"]
    url = f"{M}/lists/{STORES}/readRequests/{created['requestId']}"
    status = wait_complete(client, url, "listReadRequest")
    assert status["availablePages"] == 2 and status["successful"] is True
    first = [client.get(f"{url}/pages/{n}").content for n in range(2)]
    again = [client.get(f"{url}/pages/{n}").content for n in range(2)]
    assert first == again
    rows = list(csv.DictReader(io.StringIO(b"".join(first).decode())))
    assert [r["name"] for r in rows] == ["London", "Leeds", "Bristol", 'Hull, "Old" Town']
    assert b'"Hull, ""Old"" Town"' in first[1]
    assert client.delete(url).status_code == 200
    assert client.get(f"{url}/pages/0").status_code == 404


def test_available_pages_follow_preparation(client: httpx.Client, emu: EmulatorHandle) -> None:
    """``availablePages`` only grows, never past the pages prepared, and every page it announces is served."""
    r = httpx.post(f"{emu.url}/_emulator/transactional/large_view", json={"rows": 20_000, "columns": 100})
    view = r.json()["viewId"]
    settings(emu, read_request_start_seconds=0, read_request_pages_per_second=1000, read_request_page_cells=100_000)
    created = client.post(f"{M}/views/{view}/readRequests").json()["viewReadRequest"]
    url = f"{M}/views/{view}/readRequests/{created['requestId']}"
    seen: list[int] = []
    fetched = 0
    lines = 0
    deadline = time.monotonic() + 60
    while True:
        body = client.get(url).json()["viewReadRequest"]
        seen.append(body["availablePages"])
        while fetched < body["availablePages"]:
            page = client.get(f"{url}/pages/{fetched}")
            assert page.status_code == 200, page.text
            lines += page.text.count("\n")
            fetched += 1
        if body["requestState"] == "COMPLETE":
            break
        assert body["requestState"] in ("NOT_STARTED", "IN_PROGRESS") and time.monotonic() < deadline
    assert seen == sorted(seen) and seen[-1] == 20 and lines == 1 + 20_000
    assert client.get(f"{url}/pages/20").status_code == 404
    client.delete(url)
