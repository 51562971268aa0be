"""List items over the transactional API: read (JSON/CSV), add, update, delete, resetIndex, limits."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle

from .conftest import MD, M, SpecValidator
from .test_transactional import check, error

ITEMS = "/lists/{listId}/items"
PRODUCTS = "101000000001"
REGIONS = "101000000003"
STORES = "101000000004"


def items_of(client: httpx.Client, list_id: str, full: bool = True) -> dict[str, dict]:
    r = client.get(f"{M}/lists/{list_id}/items", params={"includeAll": str(full).lower()})
    return {i["name"]: i for i in r.json()["listItems"]}


@pytest.mark.parametrize("base", [M, MD], ids=["workspace", "model"])
def test_get_items_json(client: httpx.Client, spec: SpecValidator, base: str) -> None:
    r = client.get(f"{base}/lists/{STORES}/items")
    body = check(spec, "GET", ITEMS, r)
    london = body["listItems"][0]
    assert london == {
        "id": "204000000001",
        "name": "London",
        "code": "ST01",
        "parent": "North",
        "parentId": items_of(client, REGIONS)["North"]["id"],
        "listId": REGIONS,
        "listName": "Regions",
    }
    r = client.get(f"{base}/lists/{STORES}/items", params={"includeAll": "true"})
    london = check(spec, "GET", ITEMS, r)["listItems"][0]
    assert london["properties"] == {"Manager": "Ann", "Size": "120", "Open": "true"}
    assert london["subsets"] == {"Flagship": True}
    # items without a code or parent carry neither key
    assert set(check(spec, "GET", ITEMS, client.get(f"{base}/lists/{PRODUCTS}/items"))["listItems"][0]) == {
        "id",
        "name",
    }


def test_get_items_paging(client: httpx.Client, spec: SpecValidator) -> None:
    r = client.get(f"{M}/lists/{PRODUCTS}/items", params={"limit": 2, "offset": 2})
    body = check(spec, "GET", ITEMS, r)
    assert [i["name"] for i in body["listItems"]] == ["P003", "P004"]
    assert body["meta"]["paging"] == {
        "currentPageSize": 2,
        "totalSize": 5,
        "offset": 2,
        "next": body["meta"]["paging"]["next"],
        "previous": body["meta"]["paging"]["previous"],
    }
    assert "offset=4" in body["meta"]["paging"]["next"]


def test_get_items_csv(client: httpx.Client) -> None:
    r = client.get(f"{M}/lists/{STORES}/items", params={"includeAll": "true"}, headers={"Accept": "text/csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == [
        "id",
        "name",
        "code",
        "parent",
        "parentId",
        "listId",
        "listName",
        "Manager",
        "Size",
        "Open",
        "Flagship",
    ]
    assert rows[2]["name"] == "Bristol" and rows[2]["parent"] == "South" and rows[2]["Open"] == "false"
    plain = client.get(f"{M}/lists/{STORES}/items", headers={"Accept": "text/csv"}).text.splitlines()[0]
    assert plain == "id,name,code,parent,parentId,listId,listName"


def test_add_items_with_failures(client: httpx.Client, spec: SpecValidator) -> None:
    body = {
        "items": [
            {
                "name": "York",
                "code": "ST04",
                "parent": "North",
                "properties": {"Size": "42", "Open": "true"},
                "subsets": {"Flagship": True},
            },
            {"name": "London", "code": "ST99"},  # duplicate name
            {"name": "Derby", "code": "ST01"},  # duplicate code
            {"code": "ST05"},  # no name
            {"name": "Hull", "properties": {"Size": "big"}},  # wrong number
            {"name": "Bath", "parent": "Nowhere"},  # unknown parent
            {"name": "Kent", "properties": {"Colour": "red"}},  # unknown property
            {"name": "York"},  # duplicate of an item added by this very call
        ]
    }
    r = client.post(f"{M}/lists/{STORES}/items", params={"action": "add"}, json=body)
    result = check(spec, "POST", ITEMS, r)
    assert (result["added"], result["ignored"], result["total"]) == (1, 7, 8)
    failures = {f["requestIndex"]: f for f in result["failures"]}
    assert sorted(failures) == [1, 2, 3, 4, 5, 6, 7]
    assert failures[4]["failureType"] == "INCORRECT_FORMAT"
    assert failures[4]["failureMessageDetails"] == "incorrect format -- column name:Size, value:big"
    assert failures[3]["failureType"] == "INCOMPLETE_DATA"
    assert "Nowhere" in failures[5]["failureMessageDetails"]
    york = items_of(client, STORES)["York"]
    assert york["code"] == "ST04" and york["parent"] == "North"
    assert (
        york["properties"] == {"Manager": "", "Size": "42", "Open": "true"}
        and york["subsets"]["Flagship"] is True
    )


def test_add_all_good_omits_failures(client: httpx.Client, spec: SpecValidator) -> None:
    r = client.post(
        f"{MD}/lists/{PRODUCTS}/items?action=add", json={"items": [{"name": "P100"}, {"name": "P101"}]}
    )
    result = check(spec, "POST", ITEMS, r)
    assert result["added"] == 2 and result["ignored"] == 0 and "failures" not in result
    assert "P101" in items_of(client, PRODUCTS)


def test_update_items_by_id_code_and_name(client: httpx.Client, spec: SpecValidator) -> None:
    london_id = items_of(client, STORES)["London"]["id"]
    body = {
        "items": [
            {"id": london_id, "name": "London City", "properties": {"Size": 150}},  # rename by id
            {"code": "ST02", "parent": "South", "subsets": {"Flagship": True}},  # by code
            {"name": "Bristol", "properties": {"Open": "true"}},  # has a code: name alone is refused
            {"id": london_id, "code": ""},  # removing a code
            {"id": "299999999999"},  # unknown id
            {"code": "ST03", "name": "Leeds"},  # rename onto an existing name
        ]
    }
    r = client.put(f"{M}/lists/{STORES}/items", json=body)
    result = check(spec, "PUT", ITEMS, r)
    assert (result["updated"], result["ignored"], result["total"]) == (2, 4, 6)
    assert {f["requestIndex"]: f["failureType"] for f in result["failures"]} == {
        2: "INCOMPLETE_DATA",
        3: "INCOMPLETE_DATA",
        4: "INCOMPLETE_DATA",
        5: "INCOMPLETE_DATA",
    }
    items = items_of(client, STORES)
    assert "London" not in items and items["London City"]["id"] == london_id
    assert items["London City"]["properties"]["Size"] == "150" and items["London City"]["subsets"]["Flagship"]
    assert items["Leeds"]["parent"] == "South" and items["Leeds"]["subsets"]["Flagship"] is True
    assert items["Bristol"]["properties"]["Open"] == "false"


def test_update_by_name_without_code_and_assign_code(client: httpx.Client) -> None:
    r = client.put(
        f"{M}/lists/{PRODUCTS}/items",
        json={
            "items": [
                {"name": "P001", "properties": {"Category": "Tools"}},
                {"name": "P002", "code": "SKU2"},
            ]
        },
    )
    assert r.json()["updated"] == 2, r.text
    items = items_of(client, PRODUCTS)
    assert items["P001"]["properties"]["Category"] == "Tools" and items["P002"]["code"] == "SKU2"


def test_rename_moves_cells(client: httpx.Client) -> None:
    cell = {
        "lineItemName": "Revenue",
        "value": 5,
        "dimensions": [
            {"dimensionName": "Product", "itemName": "P001"},
            {"dimensionName": "Month", "itemName": "Jan 26"},
            {"dimensionName": "Version", "itemName": "Actual"},
        ],
    }
    assert client.post(f"{MD}/modules/102000000001/data", json=[cell]).json()["numberOfCellsChanged"] == 1
    pid = items_of(client, PRODUCTS)["P001"]["id"]
    assert (
        client.put(f"{M}/lists/{PRODUCTS}/items", json={"items": [{"id": pid, "name": "P001-new"}]}).json()[
            "updated"
        ]
        == 1
    )
    lines = client.get(f"{MD}/views/102000000001/data").text.splitlines()
    assert lines[-1] == "P001-new,5,0,0,0,0,0,0,0,0,0,0,0"  # a renamed item moves to the end of the list
    assert not any(line.startswith("P001,") for line in lines)


def test_delete_items(client: httpx.Client, spec: SpecValidator, emu: EmulatorHandle) -> None:
    leeds = items_of(client, STORES)["Leeds"]["id"]
    body = {"items": [{"id": leeds}, {"code": "ST03"}, {"name": "London"}, {"name": "Nowhere"}]}
    r = client.post(f"{M}/lists/{STORES}/items?action=delete", json=body)
    result = check(spec, "POST", ITEMS, r)
    assert (result["deleted"], result["total"]) == (3, 4)
    assert [f["requestIndex"] for f in result["failures"]] == [3]
    assert items_of(client, STORES) == {}
    # deleting a parent clears the children's parent
    client.post(f"{M}/lists/{STORES}/items?action=add", json={"items": [{"name": "Ely", "parent": "East"}]})
    client.post(f"{M}/lists/{REGIONS}/items?action=delete", json={"items": [{"code": "E"}]})
    assert "parent" not in items_of(client, STORES)["Ely"]


def test_bad_requests(client: httpx.Client, spec: SpecValidator) -> None:
    assert "action" in error(spec, client.post(f"{M}/lists/{PRODUCTS}/items", json={"items": []}), 400)
    assert "action" in error(
        spec, client.post(f"{M}/lists/{PRODUCTS}/items?action=upsert", json={"items": []}), 400
    )
    assert "items" in error(
        spec, client.post(f"{M}/lists/{PRODUCTS}/items?action=add", json=[{"name": "x"}]), 400
    )
    assert "JSON" in error(spec, client.put(f"{M}/lists/{PRODUCTS}/items", content=b"{nope"), 400)
    error(spec, client.post(f"{M}/lists/101000000099/items?action=add", json={"items": []}), 404)


@pytest.mark.parametrize("method", ["add", "update", "delete"])
def test_item_limit_per_call(
    client: httpx.Client, emu: EmulatorHandle, spec: SpecValidator, method: str
) -> None:
    httpx.post(f"{emu.url}/_emulator/transactional", json={"max_list_items_per_call": 3})
    items = [{"name": f"N{i}"} for i in range(4)]
    url = f"{M}/lists/{PRODUCTS}/items"
    send = {
        "add": lambda body: client.post(url, params={"action": "add"}, json=body),
        "update": lambda body: client.put(url, json=body),
        "delete": lambda body: client.post(url, params={"action": "delete"}, json=body),
    }[method]
    message = error(spec, send({"items": items}), 400)
    assert "call: 4;" in message and "maximum is 3 items per call" in message
    assert len(items_of(client, PRODUCTS)) == 5  # nothing applied
    assert send({"items": items[:3]}).status_code == 200


def test_default_item_limit_is_anaplans(client: httpx.Client, spec: SpecValidator) -> None:
    items = [{"name": f"N{i}"} for i in range(100_001)]
    message = error(spec, client.post(f"{M}/lists/{PRODUCTS}/items?action=add", json={"items": items}), 400)
    assert "100,001" in message and "100,000" in message


def test_reset_index(client: httpx.Client, spec: SpecValidator) -> None:
    message = error(spec, client.post(f"{M}/lists/{STORES}/resetIndex"), 400)
    assert message.startswith("We can't reset the list item index of a list that contains data")
    client.post(
        f"{M}/lists/{STORES}/items?action=delete",
        json={"items": [{"code": c} for c in ("ST01", "ST02", "ST03")]},
    )
    r = client.post(f"{M}/lists/{STORES}/resetIndex")
    assert r.status_code == 200 and r.content == b""
    added = client.post(f"{M}/lists/{STORES}/items?action=add", json={"items": [{"name": "New"}]})
    assert added.json()["added"] == 1
    assert items_of(client, STORES)["New"]["id"] == "204000000001"


def test_numbered_list(client: httpx.Client, emu: EmulatorHandle) -> None:
    fixture = httpx.get(f"{emu.url}/_emulator/health").json()  # the server is up
    assert fixture["status"] == "ok"
    state = emu.server.emulator.state
    extras = state.default_model().transactional.list_extras(PRODUCTS)
    extras.numbered = True
    r = client.post(
        f"{M}/lists/{PRODUCTS}/items?action=add", json={"items": [{"code": "X1"}, {"name": "named"}]}
    )
    result = r.json()
    assert result["added"] == 1 and result["failures"][0]["requestIndex"] == 1
    assert any(n.startswith("#") for n in items_of(client, PRODUCTS))


def test_lookup_follows_adds_code_changes_renames_and_deletes(client: httpx.Client) -> None:
    """The case-insensitive lookup index is kept current by every kind of list write."""

    def lookup(**body: list[str]) -> list[tuple[str, str | None]]:
        r = client.post(f"{MD}/dimensions/{STORES}/items", json=body)
        assert r.status_code == 200, r.text
        return [(i["name"], i.get("code")) for i in r.json().get("items", [])]

    assert lookup(codes=["st01"]) == [("London", "ST01")]  # builds the index
    added = client.post(f"{M}/lists/{STORES}/items?action=add", json={"items": [{"name": "Fold Test", "code": "FT1"}]})
    assert added.json()["added"] == 1
    assert lookup(codes=["ft1"], names=["LONDON"]) == [("London", "ST01"), ("Fold Test", "FT1")]  # list order
    item_id = items_of(client, STORES)["Fold Test"]["id"]
    assert client.put(f"{M}/lists/{STORES}/items", json={"items": [{"id": item_id, "code": "FT2"}]}).json()["updated"] == 1
    assert lookup(codes=["FT1"]) == [] and lookup(codes=["ft2"]) == [("Fold Test", "FT2")]
    assert client.put(f"{M}/lists/{STORES}/items", json={"items": [{"id": item_id, "name": "Fold Renamed"}]}).json()["updated"] == 1
    assert lookup(names=["fold test"]) == [] and lookup(names=["FOLD RENAMED"]) == [("Fold Renamed", "FT2")]
    assert client.post(f"{M}/lists/{STORES}/items?action=delete", json={"items": [{"code": "FT2"}]}).json()["deleted"] == 1
    assert lookup(codes=["ft2"], names=["fold renamed"]) == []
