"""Transactional API of the emulator: metadata, views, view data, calendar, open/close (over real HTTP).

Every JSON body is validated against the integration spec (the model-direct or workspace form the
spec lists; a form it does not list is validated against the other one).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import jsonschema
import pytest

from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle

from .conftest import MD, M, SpecValidator

P = "/workspaces/{workspaceId}/models/{modelId}"
PM = "/models/{modelId}"
MODULE = "102000000001"
LINE_ITEM = "206000000001"
PRODUCTS = "101000000001"
VERSIONS = "101000000002"
STORES = "101000000004"
TIME = "20000000003"
SAVED = "203000000001"
BUDGET_GRID = "203000000002"


def check(spec: SpecValidator, method: str, suffix: str, response: httpx.Response) -> Any:
    """Validate against ``/models/{modelId}`` + suffix, or the workspace form when only that is listed."""
    paths = spec.docs["bulk"]["paths"]
    for template in (PM + suffix, P + suffix):
        if template in paths and method.lower() in paths[template]:
            return spec.validate("bulk", method, template, response)
    raise AssertionError(f"{method} {suffix} is not in the spec")


def error(spec: SpecValidator, response: httpx.Response, status: int) -> str:
    """Assert an error envelope (ErrorResponse) with ``status``; returns the message."""
    assert response.status_code == status, response.text
    doc = spec.docs["bulk"]
    schema = {"$ref": "#/components/schemas/ErrorResponse", "components": doc["components"]}
    body = response.json()
    jsonschema.Draft7Validator(schema).validate(body)
    assert body["status"]["code"] == status
    return str(body["status"]["message"])


METADATA = [
    ("/modules", "modules"),
    ("/lineItems", "items"),
    (f"/modules/{MODULE}/lineItems", "items"),
    (f"/modules/{MODULE}/views", "views"),
    ("/views", "views"),
    ("/lists", "lists"),
    (f"/lineItems/{LINE_ITEM}/dimensions", "dimensions"),
]


@pytest.mark.parametrize("base", [MD, M], ids=["model", "workspace"])
@pytest.mark.parametrize(("suffix", "key"), METADATA, ids=[s for s, _ in METADATA])
def test_metadata_lists(client: httpx.Client, spec: SpecValidator, base: str, suffix: str, key: str) -> None:
    r = client.get(base + suffix)
    assert r.status_code == 200, r.text
    template = suffix.replace(MODULE, "{moduleId}").replace(LINE_ITEM, "{lineItemId}")
    body = check(spec, "GET", template, r)
    assert body[key], body
    assert body["meta"]["paging"]["totalSize"] == len(body[key])


def test_modules_line_items_views(client: httpx.Client, spec: SpecValidator) -> None:
    modules = client.get(f"{MD}/modules").json()["modules"]
    assert {"id": MODULE, "name": "Revenue"} in modules
    items = client.get(f"{MD}/modules/{MODULE}/lineItems", params={"includeAll": "true"})
    item = check(spec, "GET", "/modules/{moduleId}/lineItems", items)["items"][0]
    assert item["id"] == LINE_ITEM and item["name"] == "Revenue" and item["format"] == "NUMBER"
    assert item["cellCount"] == 5 * 12 * 3
    assert {a["id"] for a in item["appliesTo"]} == {PRODUCTS, VERSIONS}
    views = client.get(f"{MD}/views").json()["views"]
    names = {v["id"]: v["name"] for v in views}
    assert names[MODULE] == "Revenue"
    assert names[SAVED] == "Revenue.Products by Version"
    module_views = client.get(f"{MD}/modules/{MODULE}/views").json()["views"]
    assert {v["id"]: v["name"] for v in module_views}[SAVED] == "Products by Version"
    dims = client.get(f"{MD}/lineItems/{LINE_ITEM}/dimensions").json()["dimensions"]
    assert dims == [
        {"id": PRODUCTS, "name": "Product"},
        {"id": TIME, "name": "Month"},
        {"id": VERSIONS, "name": "Version"},
    ]


def test_paging_of_metadata(client: httpx.Client, spec: SpecValidator) -> None:
    r = client.get(f"{MD}/lists", params={"limit": 2, "offset": 1})
    body = check(spec, "GET", "/lists", r)
    assert [x["id"] for x in body["lists"]] == [VERSIONS, "101000000003"]
    assert body["meta"]["paging"]["next"].endswith("limit=2&offset=3")


def test_line_item_dimension_items(client: httpx.Client, spec: SpecValidator) -> None:
    r = client.get(f"{MD}/lineItems/{LINE_ITEM}/dimensions/{TIME}/items")
    items = check(spec, "GET", "/lineItems/{lineItemId}/dimensions/{dimensionId}/items", r)["items"]
    assert [i["name"] for i in items][:2] == ["Jan 26", "Feb 26"] and len(items) == 12
    r = client.get(f"{M}/lineItems/{LINE_ITEM}/dimensions/{PRODUCTS}/items")
    assert [
        i["name"]
        for i in check(spec, "GET", "/lineItems/{lineItemId}/dimensions/{dimensionId}/items", r)["items"]
    ] == ["P001", "P002", "P003", "P004", "P005"]
    r = client.get(f"{MD}/lineItems/{LINE_ITEM}/dimensions/101000000009/items")
    error(spec, r, 404)
    r = client.get(f"{MD}/lineItems/206000000099/dimensions")
    assert "not found" in error(spec, r, 404).lower()


def test_view_info(client: httpx.Client, spec: SpecValidator) -> None:
    r = client.get(f"{MD}/views/{SAVED}")
    body = check(spec, "GET", "/views/{viewId}", r)
    assert body["viewId"] == SAVED and body["viewName"] == "Products by Version"
    assert [d["id"] for d in body["rows"]] == [PRODUCTS, VERSIONS]
    assert body["columns"] == [{"id": TIME, "name": "Month"}]
    assert "pages" not in body  # empty axes are omitted
    r = client.get(f"{M}/views/{MODULE}")
    body = check(spec, "GET", "/views/{viewId}", r)
    assert body["viewName"] == "Revenue" and body["pages"] == [{"id": VERSIONS, "name": "Version"}]
    # a line item id stands for its module's view
    assert client.get(f"{MD}/views/{LINE_ITEM}").json()["viewId"] == MODULE
    error(spec, client.get(f"{MD}/views/203000000099"), 404)


def test_view_dimension_items_apply_the_view_filter(client: httpx.Client, spec: SpecValidator) -> None:
    r = client.get(f"{MD}/views/{BUDGET_GRID}/dimensions/{PRODUCTS}/items")
    items = check(spec, "GET", "/views/{viewId}/dimensions/{dimensionId}/items", r)["items"]
    assert [i["name"] for i in items] == ["P001", "P002", "P003", "P004"]
    all_items = client.get(f"{MD}/dimensions/{PRODUCTS}/items").json()["items"]
    assert len(all_items) == 5
    error(spec, client.get(f"{MD}/views/{BUDGET_GRID}/dimensions/101000000004/items"), 404)


def test_dimension_items_and_lookup(client: httpx.Client, spec: SpecValidator) -> None:
    r = client.get(f"{M}/dimensions/101000000003/items")
    items = check(spec, "GET", "/dimensions/{dimensionId}/items", r)["items"]
    assert [(i["name"], i["code"]) for i in items] == [("North", "N"), ("South", "S"), ("East", "E")]
    assert all(len(i["id"]) == 12 for i in items)
    r = client.post(f"{MD}/dimensions/101000000003/items", json={"names": ["north"], "codes": ["e"]})
    found = check(spec, "POST", "/dimensions/{dimensionId}/items", r)["items"]
    assert [i["name"] for i in found] == ["North", "East"]
    r = client.post(f"{MD}/dimensions/101000000003/items", json={"names": ["Nowhere"]})
    assert check(spec, "POST", "/dimensions/{dimensionId}/items", r)["items"] == []
    assert "names" in error(spec, client.post(f"{MD}/dimensions/101000000003/items", json={}), 400)
    assert "Time" in error(spec, client.get(f"{MD}/dimensions/{TIME}/items"), 400)
    error(spec, client.get(f"{MD}/dimensions/101000000077/items"), 404)


def test_dimension_without_items_omits_the_key(client: httpx.Client, spec: SpecValidator) -> None:
    for name in ("North", "South", "East"):
        assert (
            client.post(
                f"{M}/lists/101000000003/items?action=delete", json={"items": [{"name": name}]}
            ).json()["deleted"]
            == 1
        )
    r = client.get(f"{MD}/dimensions/101000000003/items")
    assert "items" not in check(spec, "GET", "/dimensions/{dimensionId}/items", r)


def test_list_metadata(client: httpx.Client, spec: SpecValidator) -> None:
    r = client.get(f"{M}/lists/{STORES}")
    meta = check(spec, "GET", "/lists/{listId}", r)["metadata"]
    assert meta["parent"] == {"id": "101000000003", "name": "Regions"}
    assert meta["itemCount"] == 3 and meta["numberedList"] is False
    assert [(p["name"], p["format"]) for p in meta["properties"]] == [
        ("Manager", "TEXT"),
        ("Size", "NUMBER"),
        ("Open", "BOOLEAN"),
    ]
    assert [s["name"] for s in meta["subsets"]] == ["Flagship"]
    meta = check(spec, "GET", "/lists/{listId}", client.get(f"{MD}/lists/{PRODUCTS}"))["metadata"]
    assert "parent" not in meta
    error(spec, client.get(f"{MD}/lists/101000000099"), 404)


# ------------------------------------------------------------------------------------- view data
def _seed_cells(client: httpx.Client) -> None:
    cells = [
        {
            "lineItemName": "Revenue",
            "dimensions": [
                {"dimensionName": "Product", "itemName": p},
                {"dimensionName": "Month", "itemName": m},
                {"dimensionName": "Version", "itemName": v},
            ],
            "value": value,
        }
        for p, m, v, value in [
            ("P001", "Jan 26", "Actual", 10),
            ("P002", "Feb 26", "Actual", 2.5),
            ("P001", "Jan 26", "Budget", 7),
        ]
    ]
    r = client.post(f"{MD}/modules/{MODULE}/data", json=cells)
    assert r.json() == {"numberOfCellsChanged": 3, "failures": []}


def test_view_data_csv_default_view(client: httpx.Client) -> None:
    _seed_cells(client)
    r = client.get(f"{MD}/views/{MODULE}/data")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.splitlines()
    assert lines[0] == "Actual"  # the page selector line
    assert lines[1] == ",Jan 26,Feb 26,Mar 26,Apr 26,May 26,Jun 26,Jul 26,Aug 26,Sep 26,Oct 26,Nov 26,Dec 26"
    assert lines[2] == "P001,10,0,0,0,0,0,0,0,0,0,0,0"
    assert lines[3] == "P002,0,2.5,0,0,0,0,0,0,0,0,0,0"
    assert len(lines) == 2 + 5


def test_view_data_page_selection(client: httpx.Client, spec: SpecValidator) -> None:
    _seed_cells(client)
    items = client.get(f"{MD}/dimensions/{VERSIONS}/items").json()["items"]
    budget = next(i["id"] for i in items if i["name"] == "Budget")
    r = client.get(f"{MD}/views/{MODULE}/data", params={"pages": f"{VERSIONS}:{budget}"})
    assert r.text.splitlines()[0] == "Budget" and r.text.splitlines()[2].startswith("P001,7,")
    # the saved view defaults to Budget and hides P005
    lines = client.get(f"{MD}/views/{BUDGET_GRID}/data").text.splitlines()
    assert lines[0] == "Budget" and [x.split(",")[0] for x in lines[2:]] == ["P001", "P002", "P003", "P004"]
    assert "Invalid page selector [101000000001]" in error(
        spec, client.get(f"{MD}/views/{MODULE}/data", params={"pages": f"{PRODUCTS}:x"}), 400
    )
    assert "Invalid page selector" in error(
        spec, client.get(f"{MD}/views/{MODULE}/data", params={"pages": f"{VERSIONS}:999"}), 400
    )


def test_view_data_json(client: httpx.Client, spec: SpecValidator) -> None:
    _seed_cells(client)
    r = client.get(
        f"{MD}/views/{SAVED}/data", params={"format": "v1"}, headers={"Accept": "application/json"}
    )
    body = check(spec, "GET", "/views/{viewId}/data", r)
    assert body["pages"] == []
    assert body["columnCoordinates"][0] == ["Jan 26"] and len(body["columnCoordinates"]) == 12
    assert body["rows"][0] == {"rowCoordinates": ["P001", "Actual"], "cells": ["10"] + ["0"] * 11}
    assert body["rows"][1]["rowCoordinates"] == ["P001", "Budget"] and body["rows"][1]["cells"][0] == "7"
    assert len(body["rows"]) == 15
    # Accept json without format=v1 is CSV (the spec's rule)
    r = client.get(f"{MD}/views/{SAVED}/data", headers={"Accept": "application/json"})
    assert r.headers["content-type"].startswith("text/csv")
    lines = r.text.splitlines()
    assert lines[0] == ",,Jan 26,Feb 26,Mar 26,Apr 26,May 26,Jun 26,Jul 26,Aug 26,Sep 26,Oct 26,Nov 26,Dec 26"
    assert lines[1].startswith("P001,Actual,10,")


def test_view_data_escaped_csv(client: httpx.Client) -> None:
    r = client.post(f"{M}/lists/{PRODUCTS}/items?action=add", json={"items": [{"name": "Widget, large"}]})
    assert r.json()["added"] == 1
    plain = client.get(f"{MD}/views/{MODULE}/data").text.splitlines()[-1]
    escaped = client.get(f"{MD}/views/{MODULE}/data", headers={"Accept": "text/csv;escaped=true"}).text
    assert plain.startswith("Widget, large,0")
    assert escaped.splitlines()[-1].startswith('"Widget, large",0')


def test_view_data_cell_limit(client: httpx.Client, emu: EmulatorHandle, spec: SpecValidator) -> None:
    httpx.post(f"{emu.url}/_emulator/transactional", json={"max_view_read_cells": 59})
    message = error(spec, client.get(f"{MD}/views/{MODULE}/data"), 400)
    assert "60 cells" in message and "readRequests" in message
    httpx.post(f"{emu.url}/_emulator/transactional", json={"max_view_read_cells": 60})
    assert client.get(f"{MD}/views/{MODULE}/data").status_code == 200


# ------------------------------------------------------------------------------- period, calendar
@pytest.mark.parametrize("base", [MD, M], ids=["model", "workspace"])
def test_current_period(client: httpx.Client, spec: SpecValidator, base: str) -> None:
    r = client.get(f"{base}/currentPeriod")
    assert check(spec, "GET", "/currentPeriod", r)["currentPeriod"]["periodText"] == ""
    r = client.put(f"{base}/currentPeriod", params={"date": "2026-03-15"})
    period = check(spec, "PUT", "/currentPeriod", r)["currentPeriod"]
    assert period == {
        "periodText": "Mar 26",
        "lastDay": "2026-03-31",
        "calendarType": "Calendar Months/Quarters/Years",
    }
    r = client.put(f"{base}/currentPeriod", json={"date": "2027-02-01"})
    assert check(spec, "PUT", "/currentPeriod", r)["currentPeriod"]["lastDay"] == "2027-02-28"
    assert client.get(f"{base}/currentPeriod").json()["currentPeriod"]["periodText"] == "Feb 27"
    assert "Invalid ISO date format '2026-3-1'" in error(
        spec, client.put(f"{base}/currentPeriod?date=2026-3-1"), 400
    )
    assert "out of timescale range 2025-01-01 - 2027-12-31" in error(
        spec, client.put(f"{base}/currentPeriod?date=2030-01-01"), 400
    )
    assert "not both" in error(
        spec, client.put(f"{base}/currentPeriod?date=2026-01-01", json={"date": "2026-01-01"}), 400
    )
    r = client.put(f"{base}/currentPeriod?date=")
    assert check(spec, "PUT", "/currentPeriod", r)["currentPeriod"]["periodText"] == ""


def test_model_calendar_and_fiscal_year(client: httpx.Client, spec: SpecValidator) -> None:
    r = client.get(f"{M}/modelCalendar")
    cal = check(spec, "GET", "/modelCalendar", r)["modelCalendar"]
    assert cal["fiscalYear"] == {"year": "FY26", "startDate": "2026-01-01", "endDate": "2026-12-31"}
    r = client.put(f"{MD}/modelCalendar/fiscalYear", json={"year": "FY27"})
    assert check(spec, "PUT", "/modelCalendar/fiscalYear", r)["modelCalendar"]["fiscalYear"]["year"] == "FY27"
    assert (
        client.get(f"{MD}/modelCalendar").json()["modelCalendar"]["fiscalYear"]["startDate"] == "2027-01-01"
    )
    assert "out of range" in error(
        spec, client.put(f"{MD}/modelCalendar/fiscalYear", json={"year": "FY40"}), 400
    )


# ------------------------------------------------------------------------------------ open / close
def _step(emu: EmulatorHandle) -> str:
    return str(httpx.get(f"{emu.url}/_emulator/transactional").json()["openState"])


def test_close_then_open_slowly(client: httpx.Client, emu: EmulatorHandle, spec: SpecValidator) -> None:
    httpx.post(f"{emu.url}/_emulator/transactional", json={"open_seconds": 0.4})
    r = client.post(f"{MD}/close", headers={"Content-Type": "application/text"})
    assert r.status_code == 204 and r.content == b""
    assert _step(emu) == "Closed"
    # a closed model answers reads and writes with 409 and says what to do
    for response in (
        client.get(f"{MD}/modules"),
        client.get(f"{MD}/views/{MODULE}/data"),
        client.post(f"{M}/lists/{PRODUCTS}/items?action=add", json={"items": [{"name": "X"}]}),
        client.post(f"{MD}/modules/{MODULE}/data", json=[]),
        client.post(f"{M}/views/{MODULE}/readRequests"),
    ):
        assert "is closed" in error(spec, response, 409) and "/open" in response.json()["status"]["message"]
    r = client.post(f"{M}/open", headers={"Content-Type": "application/text"})
    assert r.status_code == 202 and r.content == b""
    assert _step(emu) == "Loading"
    assert "loading" in error(spec, client.get(f"{MD}/lists"), 409)
    time.sleep(0.5)
    assert _step(emu) == "Open"
    assert client.get(f"{MD}/lists").status_code == 200
    # opening an open model is a no-op 202
    assert client.post(f"{MD}/open").status_code == 202 and _step(emu) == "Open"


def test_locked_model_refuses_writes_not_reads(
    client: httpx.Client, emu: EmulatorHandle, spec: SpecValidator
) -> None:
    emu.server.emulator.state.default_model().active_state = "LOCKED"
    assert client.get(f"{MD}/modules").status_code == 200
    assert "locked" in error(spec, client.put(f"{M}/lists/{PRODUCTS}/items", json={"items": []}), 423)
    assert "locked" in error(spec, client.post(f"{MD}/modules/{MODULE}/data", json=[]), 423)


def test_model_status_reflects_open_state(client: httpx.Client, spec: SpecValidator) -> None:
    client.post(f"{MD}/close")
    body = spec.validate("bulk", "GET", "/models/{modelId}/status", client.get(f"{MD}/status"))
    assert body["requestStatus"]["currentStep"] == "Closed"
    assert body["requestStatus"]["progress"] == -1.0


def test_unknown_model_and_auth(client: httpx.Client, anon: httpx.Client, spec: SpecValidator) -> None:
    error(spec, client.get("/2/0/models/00000000000000000000000000000000/modules"), 404)
    assert anon.get(f"{MD}/modules").status_code == 401


def test_fixture_keys(client: httpx.Client, emu: EmulatorHandle) -> None:
    from airflow_provider_anaplan.testing.emulator.seed import default_fixture

    fixture = default_fixture()
    model = fixture["models"][0]
    model["transactional"] = {"openState": "Closed", "open_seconds": 0.05, "currentPeriod": "2026-05-02"}
    model["largeLists"] = [{"count": 3, "id": "101000000901", "name": "Tiny"}]
    model["largeViews"] = [{"rows": 4, "columns": 3, "pages": 2}]
    emu.admin.load_fixture(fixture)
    assert "is closed" in client.get(f"{MD}/lists").text
    client.post(f"{MD}/open")
    time.sleep(0.2)
    assert client.get(f"{MD}/currentPeriod").json()["currentPeriod"]["periodText"] == "May 26"
    assert [i["name"] for i in client.get(f"{M}/lists/101000000901/items").json()["listItems"]] == [
        "Item 0000001",
        "Item 0000002",
        "Item 0000003",
    ]
    info = client.get(f"{MD}/views/102000000900").json()
    assert [d["name"] for d in info["pages"]] == ["Page"]
    lines = client.get(f"{MD}/views/102000000900/data").text.splitlines()
    assert lines[0] == "P001" and lines[1] == ",C00001,C00002,C00003" and len(lines) == 2 + 4
    described = httpx.get(f"{emu.url}/_emulator/transactional").json()
    assert described["openState"] == "Open" and described["settings"]["open_seconds"] == 0.05
    bad = default_fixture()
    bad["models"][0]["views"] = [{"id": "203000000009", "module": "102000000001", "rows": ["Product"]}]
    r = httpx.post(f"{emu.url}/_emulator/fixture", json=bad)
    assert r.status_code == 400 and "each dimension" in r.json()["error"]
    r = httpx.post(f"{emu.url}/_emulator/transactional", json={"no_such_setting": 1})
    assert r.status_code == 400 and "no_such_setting" in r.json()["error"]
