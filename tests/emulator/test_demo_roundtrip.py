"""The round trip of ``scripts/demo.py`` (plain httpx, public API) against the fixture's emulator."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle

DEMO = Path(__file__).resolve().parents[2] / "scripts" / "demo.py"


@pytest.fixture(scope="module")
def demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("anaplan_demo", DEMO)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_round_trip(emu: EmulatorHandle, demo: ModuleType) -> None:
    lines: list[str] = []
    demo.run_demo(emu.url, say=lines.append, products=50)
    assert any("verified: the 600 exported rows" in line for line in lines)
    assert any("gzip chunks" in line and "revenue.csv" in line for line in lines)
    counters = emu.admin.counters()
    assert counters["tasks_created"] == {"118000000000": 1, "116000000000": 1}
    assert counters["authentications"] == {"basic": 1}
    cells = emu.admin.module_cells("102000000001")
    assert len(cells) == 600 and {c["Version"] for c in cells} == {"Actual"}


def test_demo_detects_a_wrong_export(emu: EmulatorHandle, demo: ModuleType) -> None:
    # a scripted 500 on the process POST: the demo must stop with a clear error, not report success
    emu.admin.add_fault(method="POST", path_regex=r"/processes/118000000000/tasks$", status=500, count=1)
    with pytest.raises(demo.DemoError, match="starting processes 118000000000 failed: 500"):
        demo.run_demo(emu.url, say=lambda _line: None, products=5)
