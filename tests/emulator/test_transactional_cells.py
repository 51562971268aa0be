"""Cell writes (``POST .../modules/{moduleId}/data``): by id, name and code, failures and limits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle

from .conftest import MD, M, SpecValidator
from .test_transactional import check, error

MODULE = "102000000001"
DATA = "/modules/{moduleId}/data"


def cell(product: str, month: str, version: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {
        "lineItemName": "Revenue",
        "dimensions": [
            {"dimensionName": "Product", "itemName": product},
            {"dimensionName": "Month", "itemName": month},
            {"dimensionName": "Version", "itemName": version},
        ],
        "value": value,
        **extra,
    }


def cells_of(emu: EmulatorHandle) -> dict[tuple[str, ...], Any]:
    return {(c["Product"], c["Month"], c["Version"]): c["value"] for c in emu.admin.module_cells(MODULE)}


@pytest.mark.parametrize("base", [MD, M], ids=["model", "workspace"])
def test_write_by_ids(client: httpx.Client, spec: SpecValidator, emu: EmulatorHandle, base: str) -> None:
    products = {i["name"]: i["id"] for i in client.get(f"{MD}/dimensions/101000000001/items").json()["items"]}
    months = {
        i["name"]: i["id"]
        for i in client.get(f"{MD}/lineItems/206000000001/dimensions/20000000003/items").json()["items"]
    }
    versions = {i["name"]: i["id"] for i in client.get(f"{MD}/dimensions/101000000002/items").json()["items"]}
    body = [
        {
            "lineItemId": "206000000001",
            "dimensions": [
                {"dimensionId": "101000000001", "itemId": products["P003"]},
                {"dimensionId": "20000000003", "itemId": months["Mar 26"]},
                {"dimensionId": "101000000002", "itemId": versions["Forecast"]},
            ],
            "value": 1111,
        }
    ]
    r = client.post(f"{base}/modules/{MODULE}/data", json=body)
    assert check(spec, "POST", DATA, r) == {"numberOfCellsChanged": 1, "failures": []}
    assert cells_of(emu)[("P003", "Mar 26", "Forecast")] == 1111


def test_write_by_name_and_code(client: httpx.Client, emu: EmulatorHandle) -> None:
    client.put(f"{M}/lists/101000000001/items", json={"items": [{"name": "P001", "code": "SKU1"}]})
    by_code = cell("P001", "Jan 26", "Actual", "12.5")
    by_code["dimensions"][0] = {"dimensionName": "Product", "itemCode": "SKU1"}
    r = client.post(f"{MD}/modules/{MODULE}/data", json=[by_code, cell("P002", "Feb 26", "Budget", -3)])
    assert r.json() == {"numberOfCellsChanged": 2, "failures": []}
    assert cells_of(emu) == {("P001", "Jan 26", "Actual"): 12.5, ("P002", "Feb 26", "Budget"): -3}


def test_failures_each_reported_rest_applied(
    client: httpx.Client, spec: SpecValidator, emu: EmulatorHandle
) -> None:
    no_month = cell("P001", "Jan 26", "Actual", 1)
    no_month["dimensions"] = no_month["dimensions"][:1] + no_month["dimensions"][2:]
    bad_dim = cell("P001", "Jan 26", "Actual", 1)
    bad_dim["dimensions"][2] = {"dimensionName": "Region", "itemName": "UK"}
    body = [
        cell("P001", "Jan 26", "Actual", 5),  # ok
        cell("P999", "Jan 26", "Actual", 5),  # unknown item
        {**cell("P001", "Jan 26", "Actual", 5), "lineItemName": "Cost"},  # unknown line item
        cell("P001", "Jan 26", "Actual", "abc"),  # not a number
        cell("P001", "Jan 26", "Actual", None),  # null
        no_month,  # missing dimension
        bad_dim,  # unknown dimension
        cell("P002", "Dec 26", "Forecast", True),  # a boolean is not a number
        cell("P002", "Dec 26", "Forecast", 9),  # ok
    ]
    r = client.post(f"{MD}/modules/{MODULE}/data", json=body)
    result = check(spec, "POST", DATA, r)
    assert result["numberOfCellsChanged"] == 2
    kinds = {f["requestIndex"]: f["failureType"] for f in result["failures"]}
    assert kinds == {
        1: "INVALID_ITEM",
        2: "INVALID_LINE_ITEM",
        3: "INVALID_VALUE",
        4: "INVALID_VALUE",
        5: "MISSING_DIMENSION",
        6: "INVALID_DIMENSION",
        7: "INVALID_VALUE",
    }
    details = {f["requestIndex"]: f["failureMessageDetails"] for f in result["failures"]}
    assert "Month" in details[5] and "P999" in details[1] and "Cost" in details[2]
    assert cells_of(emu) == {("P001", "Jan 26", "Actual"): 5, ("P002", "Dec 26", "Forecast"): 9}


def test_cell_count_limit(client: httpx.Client, spec: SpecValidator, emu: EmulatorHandle) -> None:
    httpx.post(f"{emu.url}/_emulator/transactional", json={"max_cells_per_call": 2})
    body = [cell("P001", m, "Actual", 1) for m in ("Jan 26", "Feb 26", "Mar 26")]
    message = error(spec, client.post(f"{MD}/modules/{MODULE}/data", json=body), 400)
    assert "3" in message and "maximum is 2 cells per call" in message
    assert cells_of(emu) == {}
    assert client.post(f"{MD}/modules/{MODULE}/data", json=body[:2]).json()["numberOfCellsChanged"] == 2


def test_default_cell_limit_is_anaplans(client: httpx.Client, spec: SpecValidator) -> None:
    body = [{"lineItemId": "206000000001", "value": 1}] * 100_001
    message = error(spec, client.post(f"{MD}/modules/{MODULE}/data", json=body), 400)
    assert "100,001" in message and "100,000 cells per call" in message


def test_byte_limit(client: httpx.Client, spec: SpecValidator, emu: EmulatorHandle) -> None:
    httpx.post(f"{emu.url}/_emulator/transactional", json={"max_cell_bytes_per_call": 1000})
    body = [cell("P001", "Jan 26", "Actual", "x" * 2000)]
    message = error(spec, client.post(f"{MD}/modules/{MODULE}/data", json=body), 400)
    assert "1,000" in message and "bytes" in message
    default = 15 * 1024 * 1024
    assert (
        httpx.get(f"{emu.url}/_emulator/transactional").json()["settings"]["max_cell_bytes_per_call"] == 1000
    )
    httpx.post(f"{emu.url}/_emulator/transactional", json={"max_cell_bytes_per_call": default})
    assert client.post(f"{MD}/modules/{MODULE}/data", json=body).status_code == 200


def test_bad_bodies(client: httpx.Client, spec: SpecValidator) -> None:
    assert "array" in error(spec, client.post(f"{MD}/modules/{MODULE}/data", json={"cells": []}), 400)
    assert "JSON" in error(spec, client.post(f"{MD}/modules/{MODULE}/data", content=b"[{"), 400)
    error(spec, client.post(f"{MD}/modules/102000000099/data", json=[]), 404)
