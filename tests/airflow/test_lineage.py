"""Lineage: Airflow's hook lineage collector gets the uploads' and downloads' inputs and outputs (hooks,
operators, a real ``dag.test()``), and the operators give OpenLineage datasets when the OpenLineage
provider is installed (and nothing breaks when it is not)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_anaplan.hooks.anaplan import AnaplanAsyncHook, AnaplanHook
from airflow_provider_anaplan.hooks.lineage import lineage_module

WS = "8a868cd985f53e7701860542f59e276e"
MODEL = "75A40874E6B64FA3AE0B4E5D5B4B9A0B"
FILE_PRODUCTS, IMPORT_PRODUCTS, EXPORT_PRODUCTS = "113000000000", "112000000000", "116000000001"
PRODUCTS = b"Product,Category,Discontinued\nP900,Tools,false\n"


def anaplan(kind: str | None = None, object_id: str | None = None) -> str:
    return f"anaplan://{WS}/{MODEL}" + (f"/{kind}/{object_id}" if kind else "")


class Collected:
    """The hook lineage collector the code under test sees (a real one: no reader plugin is needed)."""

    def __init__(self, collector: Any) -> None:
        self.collector = collector

    def _uris(self, infos: list[Any], hooks_only: bool) -> list[str]:
        from airflow.sdk import BaseHook

        return [i.asset.uri for i in infos if not hooks_only or isinstance(i.context, BaseHook)]

    def inputs(self, hooks_only: bool = True) -> list[str]:
        """Input URIs (by default those reported by a hook, not by ObjectStoragePath itself)."""
        return self._uris(self.collector.collected_assets.inputs, hooks_only)

    def outputs(self, hooks_only: bool = True) -> list[str]:
        return self._uris(self.collector.collected_assets.outputs, hooks_only)

    def contexts(self) -> set[type]:
        lineage = self.collector.collected_assets
        return {type(i.context) for i in [*lineage.inputs, *lineage.outputs]}


@pytest.fixture
def collected(monkeypatch: pytest.MonkeyPatch) -> Collected:
    lineage = lineage_module()  # airflow.sdk.lineage, or airflow.lineage.hook on Airflow 3.1
    collector = lineage.HookLineageCollector()
    monkeypatch.setattr(lineage, "get_hook_lineage_collector", lambda: collector)
    return Collected(collector)


@pytest.fixture(autouse=True)
def _metadata_db(airflow_db: str) -> None:
    """Hooks keep coordination state in Airflow Variables."""


# ------------------------------------------------------------------------------------------ hooks


def test_hook_upload_and_download_of_local_files(emulator: Any, collected: Collected, tmp_path: Path) -> None:
    source = tmp_path / "in" / "products.csv"
    source.parent.mkdir()
    source.write_bytes(PRODUCTS)
    with AnaplanHook() as hook:
        hook.upload_file(FILE_PRODUCTS, str(source))
        hook.download_file(FILE_PRODUCTS, str(tmp_path / "out.csv"))
    assert collected.inputs() == [source.as_uri(), anaplan("files", FILE_PRODUCTS)]
    assert collected.outputs() == [anaplan("files", FILE_PRODUCTS), (tmp_path / "out.csv").as_uri()]
    assert collected.contexts() == {AnaplanHook}


@pytest.fixture
def memory_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """``memory://`` as an object store for ObjectStoragePath (fsspec's in-memory file system)."""
    from airflow.sdk.io import fs
    from fsspec.implementations.memory import MemoryFileSystem

    def memory(conn_id: str | None, storage_options: Any) -> MemoryFileSystem:
        return MemoryFileSystem(**storage_options)

    monkeypatch.setitem(fs._register_filesystems(), "memory", memory)


def test_hook_transfers_with_object_storage(emulator: Any, collected: Collected, memory_store: None) -> None:
    from airflow.sdk import ObjectStoragePath

    src = ObjectStoragePath("memory://lineage-bucket/in/products.csv")
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_bytes(PRODUCTS)
    with AnaplanHook() as hook:
        hook.upload_and_import(FILE_PRODUCTS, "memory://lineage-bucket/in/products.csv", IMPORT_PRODUCTS)
        hook.export_and_download(EXPORT_PRODUCTS, "memory://lineage-bucket/out/products.csv")
    assert collected.inputs() == ["memory://lineage-bucket/in/products.csv", anaplan("files", EXPORT_PRODUCTS)]
    assert collected.outputs() == [
        anaplan("files", FILE_PRODUCTS),
        anaplan(),  # the import changed the model
        "memory://lineage-bucket/out/products.csv",
    ]


def test_in_memory_content_has_no_location(emulator: Any, collected: Collected) -> None:
    from airflow_provider_anaplan.client import Content

    with AnaplanHook() as hook:
        hook.upload_file(FILE_PRODUCTS, Content(PRODUCTS))
        hook.upload_file_stream(FILE_PRODUCTS, iter([PRODUCTS]))
        assert hook.get_file(FILE_PRODUCTS) == PRODUCTS
    assert collected.inputs() == [anaplan("files", FILE_PRODUCTS)]  # get_file read it
    assert collected.outputs() == [anaplan("files", FILE_PRODUCTS)]
    assert collected.collector.collected_assets.outputs[0].count == 2


def test_async_hook_reports_the_same(emulator: Any, collected: Collected, tmp_path: Path) -> None:
    source = tmp_path / "products.csv"
    source.write_bytes(PRODUCTS)

    async def main() -> None:
        hook = AnaplanAsyncHook()
        try:
            await hook.upload_file(FILE_PRODUCTS, str(source))
            await hook.download_file(FILE_PRODUCTS, str(tmp_path / "out.csv"))
        finally:
            await hook.aclose()

    asyncio.run(main())
    assert collected.inputs() == [source.as_uri(), anaplan("files", FILE_PRODUCTS)]
    assert collected.outputs() == [anaplan("files", FILE_PRODUCTS), (tmp_path / "out.csv").as_uri()]
    assert collected.contexts() == {AnaplanAsyncHook}


def test_a_failed_upload_reports_nothing(emulator: Any, collected: Collected, tmp_path: Path) -> None:
    from airflow_provider_anaplan.exceptions import AnaplanNotFoundError

    source = tmp_path / "products.csv"
    source.write_bytes(PRODUCTS)
    with AnaplanHook() as hook, pytest.raises(AnaplanNotFoundError):
        hook.upload_file("113999999999", str(source))
    assert not collected.collector.has_collected


def test_lineage_never_fails_a_transfer(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    lineage = lineage_module()

    def broken() -> Any:
        raise RuntimeError("collector unavailable")

    monkeypatch.setattr(lineage, "get_hook_lineage_collector", broken)
    with AnaplanHook() as hook:
        assert hook.upload_file(FILE_PRODUCTS, PRODUCTS) == len(PRODUCTS)


# -------------------------------------------------------------------------------------- operators

DAG_FILE = '''
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_anaplan.operators.download import AnaplanDownloadFileOperator
from airflow_provider_anaplan.operators.upload import AnaplanUploadFileOperator

with DAG(dag_id="lineage_upload_download", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         default_args={{"workspace_id": "{ws}", "model_id": "{model}"}}) as dag:
    upload = AnaplanUploadFileOperator(task_id="upload", file_id="{file_id}", source="{source}")
    download = AnaplanDownloadFileOperator(task_id="download", file_id="{file_id}", destination="{dest}")
    upload >> download
'''


def test_dag_test_run_reports_upload_and_download(
    dag_runner: Any, emulator: Any, collected: Collected, tmp_path: Path
) -> None:
    source, dest = tmp_path / "products.csv", tmp_path / "out" / "products.csv"
    source.write_bytes(PRODUCTS)
    dag_file = tmp_path / "lineage_dag.py"
    dag_file.write_text(
        textwrap.dedent(
            DAG_FILE.format(ws=WS, model=MODEL, file_id=FILE_PRODUCTS, source=source, dest=f"file://{dest}")
        )
    )
    dr = dag_runner.run(dag_file)
    assert set(dag_runner.states(dr).values()) == {"success"}
    assert dest.read_bytes() == PRODUCTS
    assert collected.inputs() == [source.as_uri(), anaplan("files", FILE_PRODUCTS)]
    assert collected.outputs() == [anaplan("files", FILE_PRODUCTS), dest.as_uri()]


def test_export_operator_reports_export_file_to_object_storage(
    emulator: Any, collected: Collected, make_context: Any, memory_store: None
) -> None:
    from airflow_provider_anaplan.operators.export import AnaplanExportOperator

    op = AnaplanExportOperator(
        task_id="export", export_id=EXPORT_PRODUCTS, destination="memory://lineage-bucket/export/p.csv",
        poll_interval=0.1,
    )
    op.execute(make_context())
    assert collected.inputs() == [anaplan("files", EXPORT_PRODUCTS)]
    assert collected.outputs() == ["memory://lineage-bucket/export/p.csv"]


# ------------------------------------------------------------------------------------ OpenLineage


def datasets(lineage: Any) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    return (
        [(d.namespace, d.name) for d in lineage.inputs],
        [(d.namespace, d.name) for d in lineage.outputs],
    )


def test_openlineage_facets_of_each_operator(emulator: Any, tmp_path: Path) -> None:
    pytest.importorskip("airflow.providers.openlineage", reason="apache-airflow-providers-openlineage not installed")
    from airflow_provider_anaplan.operators.action import AnaplanRunActionOperator
    from airflow_provider_anaplan.operators.download import AnaplanDownloadFileOperator
    from airflow_provider_anaplan.operators.export import AnaplanExportOperator
    from airflow_provider_anaplan.operators.imports import AnaplanImportOperator
    from airflow_provider_anaplan.operators.upload import AnaplanUploadFileOperator

    source = tmp_path / "products.csv"
    source.write_bytes(PRODUCTS)
    ns = f"anaplan://{WS}"
    file_ds = (ns, f"{MODEL}/files/{FILE_PRODUCTS}")

    upload = AnaplanUploadFileOperator(task_id="u", file_id=FILE_PRODUCTS, source=str(source))
    assert datasets(upload.get_openlineage_facets_on_complete(None)) == ([("file", str(source))], [file_ds])

    download = AnaplanDownloadFileOperator(task_id="d", file_id=FILE_PRODUCTS, destination="s3://bucket/a/p.csv")
    assert datasets(download.get_openlineage_facets_on_complete(None)) == ([file_ds], [("s3://bucket", "a/p.csv")])

    export = AnaplanExportOperator(task_id="e", export_id=EXPORT_PRODUCTS, destination=str(tmp_path / "e.csv"))
    assert datasets(export.get_openlineage_facets_on_complete(None)) == (
        [(ns, f"{MODEL}/files/{EXPORT_PRODUCTS}")],
        [("file", str(tmp_path / "e.csv"))],
    )

    imp = AnaplanImportOperator(
        task_id="i", import_id=IMPORT_PRODUCTS, uploads={FILE_PRODUCTS: str(source), "113000000001": b"bytes"},
        workspace_id=WS.upper(), model_id=MODEL.lower(),  # overrides, normalized
    )
    assert datasets(imp.get_openlineage_facets_on_complete(None)) == (
        [("file", str(source))],
        [file_ds, (ns, f"{MODEL}/files/113000000001"), (ns, MODEL)],
    )

    action = AnaplanRunActionOperator(task_id="a", action_id="117000000000")
    assert datasets(action.get_openlineage_facets_on_complete(None)) == ([], [])


def test_openlineage_converts_the_hooks_assets(emulator: Any) -> None:
    """The OpenLineage provider turns the hooks' ``anaplan://`` assets into datasets through the converter
    registered in ``get_provider_info()`` (``asset-uris``), with the same names as the operators'."""
    pytest.importorskip("airflow.providers.openlineage", reason="apache-airflow-providers-openlineage not installed")
    from airflow.providers.openlineage.utils.utils import translate_airflow_asset
    from airflow.sdk import Asset

    collector_class = lineage_module().HookLineageCollector

    converted = translate_airflow_asset(Asset(uri=anaplan("files", FILE_PRODUCTS)), AnaplanHook())
    assert converted is not None
    assert (converted.namespace, converted.name) == (f"anaplan://{WS}", f"{MODEL}/files/{FILE_PRODUCTS}")
    # the scheme's asset factory
    asset = collector_class().create_asset(
        scheme="anaplan", asset_kwargs={"workspace_id": WS, "model_id": MODEL, "kind": "files", "object_id": FILE_PRODUCTS}
    )
    assert asset is not None and asset.uri == anaplan("files", FILE_PRODUCTS)


def test_without_openlineage_the_operators_return_none(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_anaplan.operators.upload import AnaplanUploadFileOperator

    for name in ("airflow.providers.openlineage", "airflow.providers.openlineage.extractors"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if not installed
    op = AnaplanUploadFileOperator(task_id="u", file_id=FILE_PRODUCTS, source=b"x")
    assert op.get_openlineage_facets_on_complete(None) is None


def test_parsing_a_dag_imports_no_lineage_machinery() -> None:
    """Neither the OpenLineage client nor its provider's extractors, nor the operators' lineage module,
    are imported at DAG-parse time (Airflow's own provider discovery may read the provider's metadata)."""
    repo = Path(__file__).resolve().parents[2]
    code = (
        "import sys, runpy; runpy.run_path(sys.argv[1]);"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'openlineage'"
        " or (m.startswith('airflow.providers.openlineage.') and not m.endswith('.get_provider_info'))"
        " or m == 'airflow_provider_anaplan.operators.lineage'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(repo / "example_dags" / "example_anaplan_end_to_end.py")],
        capture_output=True, text=True, check=True,
    ).stdout.strip().splitlines()[-1]
    assert out == "[]", out
