"""Hooks and operators: one meaning for a ``str`` source, atomic downloads to ObjectStoragePath,
validated intervals and timeouts on the operators and the sensor."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_anaplan.client import Content, RetryPolicy
from airflow_provider_anaplan.exceptions import AnaplanConfigError, AnaplanServerError
from airflow_provider_anaplan.hooks.anaplan import AnaplanAsyncHook, AnaplanHook

FILE_PRODUCTS = "113000000000"
IMPORT_PRODUCTS = "112000000000"
PRODUCTS = b"Product,Category,Discontinued\nP700,Tools,false\n"
MB = 1024 * 1024


FAST_RETRY = RetryPolicy(max_attempts=3, backoff_initial=0.02, backoff_max=0.1, retry_after_max=0.2)


@pytest.fixture(autouse=True)
def _metadata_db(airflow_db: str) -> None:
    """Hooks may keep coordination state in the metadata database (Variables)."""


@pytest.fixture
def conn(emulator_conn: Any) -> str:
    """``anaplan_default`` with 1 MB chunks, one chunk in flight."""
    return emulator_conn(chunk_size_mb=1, max_concurrency=1)


# ------------------------------------------------------------------ a str is a path, at every layer


def test_hook_upload_of_a_missing_str_path_is_a_config_error(emulator: Any, conn: str) -> None:
    emulator.admin.reset_counters()
    with AnaplanHook() as hook, pytest.raises(AnaplanConfigError, match="Upload source file /data/x.csv does not exist"):
        hook.upload_file(FILE_PRODUCTS, "/data/x.csv")
    assert not emulator.admin.counters()["requests"]  # nothing sent, the path text never uploaded


def test_hook_uploads_the_file_a_str_names(emulator: Any, conn: str, tmp_path: Path) -> None:
    source = tmp_path / "products.csv"
    source.write_bytes(PRODUCTS)
    with AnaplanHook() as hook:
        hook.upload_file(FILE_PRODUCTS, str(source))
        assert emulator.admin.file_content(FILE_PRODUCTS) == PRODUCTS
        hook.upload_file(FILE_PRODUCTS, source=f"file://{source}")  # keyword, URI form
        assert emulator.admin.file_content(FILE_PRODUCTS) == PRODUCTS
        hook.upload_file(FILE_PRODUCTS, Content("Product,Category,Discontinued\nP701,Tools,false\n"))
        assert b"P701" in emulator.admin.file_content(FILE_PRODUCTS)
        status = hook.upload_and_import(FILE_PRODUCTS, str(source), IMPORT_PRODUCTS)
        assert status.is_success


def test_async_hook_applies_the_same_rule(emulator: Any, conn: str, tmp_path: Path) -> None:
    source = tmp_path / "products.csv"
    source.write_bytes(PRODUCTS)

    async def main() -> None:
        hook = AnaplanAsyncHook()
        try:
            await hook.upload_file(FILE_PRODUCTS, str(source))
            with pytest.raises(AnaplanConfigError, match="does not exist"):
                await hook.upload_file(FILE_PRODUCTS, str(tmp_path / "missing.csv"))
        finally:
            await hook.aclose()

    asyncio.run(main())
    assert emulator.admin.file_content(FILE_PRODUCTS) == PRODUCTS


def test_operators_and_hook_agree_on_a_str(emulator: Any, conn: str, tmp_path: Path, make_context: Any) -> None:
    from airflow_provider_anaplan.operators.upload import AnaplanUploadFileOperator

    missing = str(tmp_path / "missing.csv")
    with pytest.raises(AnaplanConfigError, match="does not exist"):
        AnaplanUploadFileOperator(task_id="up", file_id=FILE_PRODUCTS, source=missing).execute(make_context())
    with AnaplanHook() as hook, pytest.raises(AnaplanConfigError, match="does not exist"):
        hook.upload_file(FILE_PRODUCTS, missing)


# ------------------------------------------------------------------ atomic downloads to object storage


@pytest.mark.parametrize("form", ["ObjectStoragePath", "file-uri-str", "path-str"])
def test_failed_download_leaves_nothing_truncated(emulator: Any, conn: str, tmp_path: Path, form: str) -> None:
    from airflow.sdk import ObjectStoragePath

    target = tmp_path / "export.csv"
    target.write_bytes(b"previous export")
    destination: Any = {
        "ObjectStoragePath": ObjectStoragePath(f"file://{target}"),
        "file-uri-str": f"file://{target}",
        "path-str": str(target),
    }[form]
    with AnaplanHook(retry=FAST_RETRY) as hook:
        hook.upload_file(FILE_PRODUCTS, b"z" * (3 * MB))
        emulator.admin.add_fault(method="GET", path_regex=r"/files/\d+/chunks/2$", status=503)
        with pytest.raises(AnaplanServerError):
            hook.download_file(FILE_PRODUCTS, destination)
        assert target.read_bytes() == b"previous export"  # untouched, not truncated
        assert sorted(p.name for p in tmp_path.iterdir()) == ["export.csv"]  # no temporary left behind
        emulator.admin.clear_faults()
        assert hook.download_file(FILE_PRODUCTS, destination) == 3 * MB
    assert target.read_bytes() == b"z" * (3 * MB)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.csv"]


def test_download_operator_to_object_storage_failing_midway(
    emulator: Any, conn: str, tmp_path: Path, make_context: Any
) -> None:
    from airflow_provider_anaplan.operators.download import AnaplanDownloadFileOperator

    target = tmp_path / "dl" / "p.csv"
    target.parent.mkdir()
    target.write_bytes(b"yesterday")
    with AnaplanHook() as hook:
        hook.upload_file(FILE_PRODUCTS, b"q" * (2 * MB + 10))
    emulator.admin.add_fault(method="GET", path_regex=r"/files/\d+/chunks/1$", status=503)
    op = AnaplanDownloadFileOperator(task_id="dl", file_id=FILE_PRODUCTS, destination=f"file://{target}")
    with pytest.raises(AnaplanServerError):
        op.execute(make_context())
    assert target.read_bytes() == b"yesterday"
    assert [p.name for p in target.parent.iterdir()] == ["p.csv"]


# ------------------------------------------------------------------ operator and sensor arguments

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": NAN}, "load: timeout must be a finite number of seconds, got nan"),
        ({"timeout": INF}, "load: timeout must be a finite number of seconds"),
        ({"timeout": 0}, "load: timeout must be > 0 seconds"),
        ({"timeout": True}, "load: timeout must be a number of seconds"),
        ({"timeout": "3600"}, "load: timeout must be a number of seconds"),
        ({"poll_interval": NAN}, "load: poll_interval must be a finite number of seconds"),
        ({"poll_interval": 0.01}, "load: poll_interval must be >= 0.1 seconds"),
        ({"poll_interval": False}, "load: poll_interval must be a number of seconds"),
        ({"fail_on_partial": "no"}, "load: fail_on_partial must be True or False"),
    ],
)
@pytest.mark.parametrize("operator", ["imports.AnaplanImportOperator", "export.AnaplanExportOperator"])
def test_operator_arguments_are_validated_at_construction(operator: str, kwargs: dict[str, Any], message: str) -> None:
    import importlib

    module, name = operator.rsplit(".", 1)
    cls = getattr(importlib.import_module(f"airflow_provider_anaplan.operators.{module}"), name)
    ident = {"import_id": IMPORT_PRODUCTS} if "Import" in name else {"export_id": "116000000001"}
    with pytest.raises(AnaplanConfigError) as info:
        cls(task_id="load", **ident, **kwargs)
    assert message in str(info.value), str(info.value)


def test_operator_accepts_a_timedelta_budget() -> None:
    from airflow_provider_anaplan.operators.imports import AnaplanImportOperator

    op = AnaplanImportOperator(task_id="load", import_id=IMPORT_PRODUCTS, timeout=datetime.timedelta(hours=2))
    assert op.timeout == 7200.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"poke_interval": NAN}, "watch: poke_interval must be a finite number of seconds"),
        ({"poke_interval": INF}, "watch: poke_interval must be a finite number of seconds"),
        ({"poke_interval": 0.01}, "watch: poke_interval must be >= 0.1 seconds"),
        ({"poke_interval": True}, "watch: poke_interval must be a number of seconds"),
        ({"timeout": NAN}, "watch: timeout must be a finite number of seconds"),
        ({"timeout": INF}, "watch: timeout must be a finite number of seconds"),
        ({"timeout": 0}, "watch: timeout must be > 0 seconds"),
        ({"timeout": "1h"}, "watch: timeout must be a number of seconds"),
    ],
)
@pytest.mark.parametrize("deferrable", [False, True])
def test_sensor_arguments_are_validated_at_construction(kwargs: dict[str, Any], message: str, deferrable: bool) -> None:
    from airflow_provider_anaplan.sensors.task import AnaplanTaskSensor

    with pytest.raises(AnaplanConfigError) as info:
        AnaplanTaskSensor(task_id="watch", action_id=IMPORT_PRODUCTS, task_id_to_watch="T", deferrable=deferrable, **kwargs)
    assert message in str(info.value), str(info.value)


def test_sensor_accepts_timedeltas() -> None:
    from airflow_provider_anaplan.sensors.task import AnaplanTaskSensor

    sensor = AnaplanTaskSensor(
        task_id="watch",
        action_id=IMPORT_PRODUCTS,
        task_id_to_watch="T",
        poke_interval=datetime.timedelta(seconds=30),
        timeout=datetime.timedelta(hours=1),
    )
    assert (sensor.poke_interval, sensor.timeout) == (30.0, 3600.0)
