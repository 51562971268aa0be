"""Inputs of the client core: every interval/timeout validated, one meaning for a ``str`` source,
atomic downloads to a local path."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_anaplan.client import AnaplanAsyncClient, AnaplanClient, ClientConfig, Content
from airflow_provider_anaplan.client.transfer import resolve_destination, resolve_source
from airflow_provider_anaplan.exceptions import AnaplanConfigError, AnaplanServerError
from airflow_provider_anaplan.validation import validate_seconds

FILE = "113000000000"
IMPORT_PRODUCTS = "112000000000"
PRODUCTS = b"Product,Category,Discontinued\nP100,Tools,false\n"
MB = 1024 * 1024
NAN, INF = float("nan"), float("inf")
BAD_NUMBERS = [
    (NAN, "must be a finite number of seconds"),
    (INF, "must be a finite number of seconds"),
    (-INF, "must be a finite number of seconds"),
    (True, "must be a number of seconds, got True"),
    ("5", "must be a number of seconds, got '5'"),
    (None, "must be a number of seconds, got None"),
    ([1], "must be a number of seconds"),
]


# ------------------------------------------------------------------ intervals and timeouts


@pytest.mark.parametrize(("value", "message"), BAD_NUMBERS)
@pytest.mark.parametrize("name", ["timeout", "poll_interval", "token_refresh_lead"])
def test_client_config_rejects_odd_numbers(make_config: Callable[..., ClientConfig], name: str, value: Any, message: str) -> None:
    with pytest.raises(AnaplanConfigError) as info:
        make_config(**{name: value})
    assert str(info.value).startswith(name) and message in str(info.value), str(info.value)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("poll_interval", 0.05, "poll_interval must be >= 0.1 seconds, got 0.05"),
        ("poll_interval", 0, "poll_interval must be >= 0.1 seconds"),
        ("poll_interval", -5, "poll_interval must be >= 0.1 seconds"),
        ("timeout", 0.01, "timeout must be >= 0.1 seconds"),
        ("token_refresh_lead", -1, "token_refresh_lead must be >= 0 seconds"),
    ],
)
def test_client_config_lower_bounds(make_config: Callable[..., ClientConfig], name: str, value: float, message: str) -> None:
    with pytest.raises(AnaplanConfigError, match=message):
        make_config(**{name: value})


def test_validate_seconds_accepts_numbers_and_timedeltas() -> None:
    import datetime

    assert validate_seconds(5, "x") == 5.0
    assert validate_seconds(datetime.timedelta(minutes=2), "x") == 120.0
    assert validate_seconds(None, "x", allow_none=True) is None
    assert validate_seconds(0.1, "x", minimum=0.1, inclusive=True) == 0.1
    with pytest.raises(AnaplanConfigError, match="x must be > 0.1 seconds"):
        validate_seconds(0.1, "x", minimum=0.1)
    with pytest.raises(AnaplanConfigError, match="x must be a finite number"):
        validate_seconds(math.inf, "x")
    with pytest.raises(AnaplanConfigError, match=r"x must be > 0 and <= 10 seconds, got 11"):
        validate_seconds(11, "x", maximum=10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": NAN}, "timeout must be a finite number of seconds, got nan"),
        ({"timeout": INF}, "timeout must be a finite number of seconds"),
        ({"timeout": 0}, "timeout must be > 0 seconds"),
        ({"timeout": True}, "timeout must be a number of seconds"),
        ({"timeout": "60"}, "timeout must be a number of seconds"),
        ({"poll_interval": NAN}, "poll_interval must be a finite number of seconds"),
        ({"poll_interval": 0.01}, "poll_interval must be >= 0.1 seconds"),
        ({"poll_interval": False}, "poll_interval must be a number of seconds"),
    ],
)
async def test_wait_for_task_validates_before_polling(
    make_config: Callable[..., ClientConfig], anaplan_emulator: Any, kwargs: dict[str, Any], message: str
) -> None:
    anaplan_emulator.admin.reset_counters()
    async with AnaplanAsyncClient(make_config()) as client:
        with pytest.raises(AnaplanConfigError, match=message):
            await client.wait_for_task(IMPORT_PRODUCTS, "ABCDEF", **kwargs)
    assert not anaplan_emulator.admin.counters()["requests"]  # rejected before any request


@pytest.mark.parametrize("timeout", [NAN, INF, -1, "soon"])
def test_run_action_rejects_a_bad_timeout_before_starting_a_task(
    make_config: Callable[..., ClientConfig], anaplan_emulator: Any, timeout: Any
) -> None:
    with AnaplanClient(make_config()) as client:
        client.upload_file(FILE, PRODUCTS)
        with pytest.raises(AnaplanConfigError, match="timeout must be"):
            client.run_action(IMPORT_PRODUCTS, timeout=timeout)
    assert not anaplan_emulator.admin.counters()["tasks_created"]


# ------------------------------------------------------------------ a str is a path


def test_str_source_is_a_path_and_its_content_is_uploaded(
    make_config: Callable[..., ClientConfig], anaplan_emulator: Any, tmp_path: Path
) -> None:
    source = tmp_path / "products.csv"
    source.write_bytes(PRODUCTS)
    with AnaplanClient(make_config()) as client:
        assert client.upload_file(FILE, str(source)) == len(PRODUCTS)
        assert anaplan_emulator.admin.file_content(FILE) == PRODUCTS  # the file, not its path
        assert client.upload_file(FILE, f"file://{source}") == len(PRODUCTS)
        assert client.upload_file(FILE, Content("Product,Category,Discontinued\nP200,Tools,false\n")) > 0
        assert anaplan_emulator.admin.file_content(FILE).endswith(b"P200,Tools,false\n")
        status = client.upload_and_import(FILE, str(source), IMPORT_PRODUCTS)
        assert status.is_success


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("/data/x.csv", "Upload source file /data/x.csv does not exist (a str source is a path; pass bytes or Content"),
        ("Product,Category\nP1,Tools\n", "is not a file path (a str source is a path"),
        ("x" * 5000, "is not a usable path"),
        ("s3://bucket/products.csv", "is an object-storage URI: pass an Airflow ObjectStoragePath"),
        ("", "Upload source path must not be empty"),
    ],
)
def test_bad_str_sources_fail_before_any_request(
    make_config: Callable[..., ClientConfig], anaplan_emulator: Any, source: str, message: str
) -> None:
    anaplan_emulator.admin.reset_counters()
    with AnaplanClient(make_config()) as client:
        with pytest.raises(AnaplanConfigError) as info:
            client.upload_file(FILE, source)
        assert message in str(info.value), str(info.value)
        assert len(str(info.value)) < 400  # never the whole "content" echoed back
        with pytest.raises(AnaplanConfigError):
            client.upload_file_stream(FILE, source)
    assert not anaplan_emulator.admin.counters()["requests"]


def test_resolution_rule(tmp_path: Path) -> None:
    source = tmp_path / "a.csv"
    source.write_bytes(b"x")
    assert resolve_source(str(source)) == source
    assert resolve_source(f"file://{source}") == source
    assert resolve_source(b"x") == b"x" and resolve_source(source) is source
    opened: list[str] = []
    assert resolve_source("s3://b/k.csv", uri=lambda u: opened.append(u) or "OPENED") == "OPENED"
    assert opened == ["s3://b/k.csv"]
    assert resolve_destination(str(tmp_path / "new.csv")) == tmp_path / "new.csv"  # need not exist
    assert resolve_destination("file:///tmp/x.csv") == Path("/tmp/x.csv")
    with pytest.raises(AnaplanConfigError, match="object-storage URI"):
        resolve_destination("gs://bucket/x.csv")
    with pytest.raises(AnaplanConfigError, match="is a directory"):
        resolve_source(str(tmp_path))
    assert "characters" in repr(Content("abc")) and "bytes" in repr(Content(b"abc"))


# ------------------------------------------------------------------ atomic local downloads


@pytest.mark.parametrize("as_uri", [False, True], ids=["path", "file-uri"])
def test_failed_download_leaves_previous_file_untouched(
    make_config: Callable[..., ClientConfig], anaplan_emulator: Any, tmp_path: Path, as_uri: bool
) -> None:
    target = tmp_path / "out.csv"
    target.write_bytes(b"previous content")
    destination: Any = f"file://{target}" if as_uri else str(target)
    with AnaplanClient(make_config(chunk_size_mb=1, max_concurrency=1)) as client:
        client.upload_file(FILE, b"y" * (3 * MB))
        anaplan_emulator.admin.add_fault(method="GET", path_regex=r"/files/\d+/chunks/2$", status=500)
        with pytest.raises(AnaplanServerError):
            client.download_file(FILE, destination)
        assert target.read_bytes() == b"previous content"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]  # no partial/temporary file
        anaplan_emulator.admin.clear_faults()
        assert client.download_file(FILE, destination) == 3 * MB
    assert target.read_bytes() == b"y" * (3 * MB)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]
