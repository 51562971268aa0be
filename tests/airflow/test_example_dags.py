"""Every example DAG runs under a real dag.test() against the emulator, with assertions on the results."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_anaplan.compat import AIRFLOW_VERSION
from airflow_provider_anaplan.triggers.task import AnaplanTaskTrigger

EXAMPLES = Path(__file__).resolve().parents[2] / "example_dags"
PRODUCTS_LIST, REVENUE_MODULE = "101000000001", "102000000001"


def products(emulator: Any) -> dict[str, dict[str, Any]]:
    return {i["name"]: i for i in emulator.admin.list_items(PRODUCTS_LIST)}


def cell(emulator: Any, product: str, month: str, version: str) -> Any:
    for c in emulator.admin.module_cells(REVENUE_MODULE):
        if (c.get("Product"), c.get("Month"), c.get("Version")) == (product, month, version):
            return c["value"]
    return None


def test_examples_parse_without_network_and_use_every_operator() -> None:
    text = "".join(p.read_text() for p in EXAMPLES.glob("example_*.py"))
    for name in (
        "AnaplanUploadFileOperator", "AnaplanImportOperator", "AnaplanExportOperator", "AnaplanProcessOperator",
        "AnaplanRunActionOperator", "AnaplanDownloadFileOperator", "AnaplanTaskSensor",
    ):
        assert name in text, name
    for path in EXAMPLES.glob("example_*.py"):
        ast.parse(path.read_text())


def test_list_and_module_through_one_process(dag_runner: Any, emulator: Any) -> None:
    dr = dag_runner.run(dag_runner.load_example("example_anaplan_list_and_module"))
    assert set(dag_runner.states(dr).values()) == {"success"}
    items = products(emulator)
    assert {"P101", "P102"} <= set(items) and "P103" not in items  # P103 discontinued -> deleted
    assert items["P101"]["Category"] == "Hardware"
    assert cell(emulator, "P102", "Feb 26", "Actual") == 201
    result = dag_runner.xcom(dr, "load_all")
    assert [s["object_id"] for s in result["steps"]] == ["112000000000", "112000000001"]


def test_process_with_mapping_parameters(dag_runner: Any, emulator: Any) -> None:
    dr = dag_runner.run(dag_runner.load_example("example_anaplan_process_mapping"), run_conf={"version": "Forecast"})
    assert dag_runner.states(dr)["load_by_version"] == "success"
    assert cell(emulator, "P201", "Feb 26", "Forecast") == 20
    assert cell(emulator, "P201", "Feb 26", "Budget") is None


def test_export_local_and_object_storage(
    dag_runner: Any, emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANAPLAN_EXAMPLE_OUT", str(tmp_path))
    dr = dag_runner.run(dag_runner.load_example("example_anaplan_export"))
    assert set(dag_runner.states(dr).values()) == {"success"}
    local = next(tmp_path.glob("*/products.csv"))
    assert local.read_text().splitlines()[0] == "Product,Category,Discontinued"
    assert "P005" in local.read_text()
    revenue = tmp_path / "object_storage" / "revenue.csv"
    assert revenue.read_text().startswith("Product,Month,Revenue")
    assert (tmp_path / "download" / "products.csv").read_bytes() == local.read_bytes()
    assert dag_runner.xcom(dr, "export_products_local")["bytes"] == local.stat().st_size
    assert not list(tmp_path.rglob("*.tmp*"))  # temp files renamed away


def test_long_deferrable_import_and_sensor(
    dag_runner: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # long enough that the sensor still finds the task running: dag.test() starts a task in ~3.5 s on 3.1
    emulator.admin.configure(min_task_seconds=1.5 if AIRFLOW_VERSION >= (3, 2) else 8)
    monkeypatch.setenv("ANAPLAN_EXAMPLE_POLL_INTERVAL", "0.2")
    polled: list[str] = []
    original = AnaplanTaskTrigger._poll

    async def spy(self: AnaplanTaskTrigger) -> dict[str, Any]:
        polled.append(self.action_id)
        return await original(self)

    monkeypatch.setattr(AnaplanTaskTrigger, "_poll", spy)
    dr = dag_runner.run(dag_runner.load_example("example_anaplan_deferrable_import"))
    assert set(dag_runner.states(dr).values()) == {"success"}
    assert polled == ["112000000000", "112000000001"]  # both waited in the (inline) triggerer
    assert {"P301", "P302"} <= set(products(emulator))
    assert cell(emulator, "P001", "Jan 26", "Actual") == 5


def test_dynamic_mapping_over_files(dag_runner: Any, emulator: Any) -> None:
    dr = dag_runner.run(dag_runner.load_example("example_anaplan_dynamic_mapping"))
    states = dag_runner.states(dr)
    assert [states[f"import_revenue[{i}]"] for i in range(3)] == ["success"] * 3
    assert [cell(emulator, "P002", "Jan 26", v) for v in ("Actual", "Budget", "Forecast")] == [200, 220, 240]
    assert emulator.admin.counters()["tasks_created"] == {"112000000002": 3}


def test_failure_dump_handling(
    dag_runner: Any, emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANAPLAN_EXAMPLE_DUMPS", str(tmp_path))
    dr = dag_runner.run(dag_runner.load_example("example_anaplan_failure_dumps"))
    assert set(dag_runner.states(dr).values()) == {"success"}
    report = dag_runner.xcom(dr, "report")
    assert report["loaded"] == 2
    assert sorted(r["Product"] for r in report["rejected"]) == ["P402", "P404"]
    load = dag_runner.xcom(dr, "load_products")
    assert load["accepted_partial"] is True and load["successful"] is False
    assert all(Path(p).is_file() and str(tmp_path) in p for p in load["dumps"])
    assert {"P401", "P403"} <= set(products(emulator)) and "P402" not in products(emulator)


def test_headline_end_to_end(
    dag_runner: Any, emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The DAG `make demo` runs: upload -> process (deferred) -> export -> download, two rows rejected."""
    monkeypatch.setenv("ANAPLAN_EXAMPLE_OUT", str(tmp_path))
    dr = dag_runner.run(dag_runner.load_example("example_anaplan_end_to_end"))
    assert set(dag_runner.states(dr).values()) == {"success"}
    load = dag_runner.xcom(dr, "load_all")
    assert load["accepted_partial"] is True
    assert [s["object_id"] for s in load["steps"]] == ["112000000000", "112000000001"]
    assert load["dumps"] and all(Path(p).is_file() and str(tmp_path) in p for p in load["dumps"])
    dump_text = "".join(Path(p).read_text() for p in load["dumps"])
    assert "SKU-999" in dump_text and "n/a" in dump_text
    assert {f"SKU-{i:03d}" for i in range(50)} <= set(products(emulator))
    exported = (tmp_path / "revenue_export.csv").read_text().splitlines()
    uploaded = (tmp_path / "input" / "revenue.csv").read_text().splitlines()
    assert exported[0] == uploaded[0] == "Product,Month,Revenue"
    # Every accepted row came back from Anaplan; the two rejected ones did not.
    assert sorted(exported[1:]) == sorted(uploaded[1:-2])
    assert dag_runner.xcom(dr, "download_revenue")["bytes"] == (tmp_path / "revenue_export.csv").stat().st_size


def test_parsing_a_dag_does_not_load_the_client_core() -> None:
    """DAG-parse cost: the operators import the client core only when a task runs (~0.2 s saved per file)."""
    import subprocess
    import sys

    code = (
        "import sys, runpy; runpy.run_path(sys.argv[1]);"
        "loaded = sorted(m for m in sys.modules if m.startswith('airflow_provider_anaplan.client'));"
        "print(loaded)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(EXAMPLES / "example_anaplan_end_to_end.py")],
        capture_output=True, text=True, check=True,
    ).stdout.strip().splitlines()[-1]
    assert out == "[]", out


def test_transactional_upsert_cells_and_large_view_read(
    dag_runner: Any, emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """example_anaplan_transactional: upsert from object storage, cell writes, a deferred large-volume read."""
    monkeypatch.setenv("ANAPLAN_EXAMPLE_OUT", str(tmp_path))
    dr = dag_runner.run(dag_runner.load_example("example_anaplan_transactional"))
    assert set(dag_runner.states(dr).values()) == {"success"}
    stores = {i["name"]: i for i in emulator.admin.list_items("101000000004")}
    assert {"Cardiff", "Glasgow"} <= set(stores) and stores["London"]["Size"] == 125
    assert dag_runner.xcom(dr, "upsert_stores")["added"] == 2
    assert cell(emulator, "P001", "Feb 26", "Budget") == 1250
    read = dag_runner.xcom(dr, "read_revenue_by_version")
    assert read["mode"] == "large" and read["pages"] >= 1
    text = next(tmp_path.glob("*/revenue_by_version.csv")).read_text().splitlines()
    assert text[0].startswith("Product,Version,Jan 26") and "P001,Budget,1200,1250" in "\n".join(text)
    assert emulator.admin._call("GET", "/transactional")["readRequests"] == []  # deleted after the read


def test_alm_sync_then_cloudworks_integration_and_flow(
    dag_runner: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """example_anaplan_alm_cloudworks: revision in dev -> sync to prod -> CloudWorks import -> flow."""
    prod = "D3A1B5C7E9F24680ACE13579BDF02468"
    monkeypatch.setenv("ANAPLAN_EXAMPLE_POLL_INTERVAL", "0.2")
    emulator.admin._call("POST", "/alm/config", {"sync_seconds": 0.5})
    emulator.admin._call("POST", "/cloudworks/config", {"run_seconds": 0.3})
    change = {"lineItem": {"module": REVENUE_MODULE, "name": "Margin", "dataType": "number"}}
    emulator.admin._call("POST", "/alm/structure", change)  # a structural change in development
    from airflow_provider_anaplan.testing.emulator.state.cloudworks import SEED_OBJECTS

    objects = {**{k: v.encode() for k, v in SEED_OBJECTS.items()}, "inbound/products.csv": b"Product,Category,Discontinued\nP901,Hardware,false\n"}
    for key, content in objects.items():  # the object store outlives an emulator reset: set what the run reads
        emulator.admin._http.put(f"/objectstore/emulator-bucket/{key}", content=content).raise_for_status()
    dr = dag_runner.run(dag_runner.load_example("example_anaplan_alm_cloudworks"))
    assert set(dag_runner.states(dr).values()) == {"success"}
    revision = dag_runner.xcom(dr, "create_revision")
    assert revision["created"] is True
    assert dag_runner.xcom(dr, "sync_to_production")["revision_id"] == revision["revision_id"]
    assert "Margin" in str(emulator.admin._call("GET", "/alm/structure", params={"model": prod}))
    assert dag_runner.xcom(dr, "load_products")["success"] is True
    assert "P901" in {i["name"] for i in emulator.admin.list_items(PRODUCTS_LIST, prod)}
    assert dag_runner.xcom(dr, "load_and_publish")["success"] is True
    published = emulator.admin._http.get("/objectstore/emulator-bucket/outbound/revenue.csv")
    assert published.status_code == 200 and published.content.startswith(b"Product,Month,Revenue")
