"""Packaging: one version, SPDX license, classifiers, URLs, provider info, and what the sdist and wheel hold."""

from __future__ import annotations

import email
import importlib.metadata
import importlib.util
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

import airflow_provider_anaplan
from airflow_provider_anaplan.get_provider_info import get_provider_info

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]


def test_the_version_has_one_source() -> None:
    version = airflow_provider_anaplan.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]|rc)?\d*", version)
    assert "version" not in PROJECT and "version" in PROJECT["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "airflow_provider_anaplan.__version__"}
    assert get_provider_info()["versions"] == [version]
    assert importlib.metadata.version("airflow-provider-anaplan") == version
    source = (REPO / "airflow_provider_anaplan" / "get_provider_info.py").read_text(encoding="utf-8")
    assert version not in source and version not in (REPO / "pyproject.toml").read_text(encoding="utf-8")


def test_license_classifiers_urls_and_extras() -> None:
    assert PROJECT["license"] == "Apache-2.0" and PROJECT["license-files"] == ["LICENSE"]
    license_text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text
    requires = PYPROJECT["build-system"]["requires"]
    assert any(re.fullmatch(r"setuptools>=(\d+)", r) and int(r.split(">=")[1]) >= 77 for r in requires)
    classifiers = PROJECT["classifiers"]
    assert not [c for c in classifiers if c.startswith("License ::")]  # the SPDX expression says it
    for wanted in (
        "Framework :: Apache Airflow",
        "Framework :: Apache Airflow :: Provider",
        "Programming Language :: Python :: 3.11",
        "Typing :: Typed",
    ):
        assert wanted in classifiers
    assert set(PROJECT["urls"]) == {"Homepage", "Documentation", "Source", "Issues"}
    assert PROJECT["optional-dependencies"]["testing"] == ["pytest>=8"]
    assert "airflow-provider-anaplan[testing]" in PROJECT["optional-dependencies"]["test"]
    assert not [d for d in PROJECT["dependencies"] if d.lower().startswith("pytest")]
    assert (REPO / "airflow_provider_anaplan" / "py.typed").is_file()


def test_provider_info_is_complete() -> None:
    info = get_provider_info()
    assert info["documentation-url"] == PROJECT["urls"]["Documentation"]
    [integration] = info["integrations"]
    assert integration["logo"].startswith("/docs/integration-logos/")
    assert integration["how-to-guide"]
    for path in [integration["logo"], *integration["how-to-guide"]]:
        assert (REPO / path.lstrip("/")).is_file(), path
    # Airflow takes documentation-url from the installed distribution's Documentation project URL
    from airflow.providers_manager import ProvidersManager

    installed = ProvidersManager().providers["airflow-provider-anaplan"]
    assert installed.version == airflow_provider_anaplan.__version__
    assert installed.data["documentation-url"] == PROJECT["urls"]["Documentation"]


def _build(tmp_path: Path) -> tuple[Path, Path]:
    if importlib.util.find_spec("uv") is None:  # pragma: no cover - `make venv` installs uv
        pytest.skip("uv is not installed")
    source = tmp_path / "src"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "__pycache__", "*.pyc", "*.egg-info", "build", "dist", ".pytest_cache", ".ruff_cache"
        ),
    )
    out = tmp_path / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "uv", "build", "--quiet", "--out-dir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [sdist] = out.glob("*.tar.gz")
    [wheel] = out.glob("*.whl")
    return sdist, wheel


def test_sdist_and_wheel_contents(tmp_path: Path) -> None:
    sdist, wheel = _build(tmp_path)
    version = airflow_provider_anaplan.__version__
    prefix = f"airflow_provider_anaplan-{version}/"
    with tarfile.open(sdist) as tar:
        in_sdist = {name.removeprefix(prefix) for name in tar.getnames()}
    for path in (
        "LICENSE",
        "README.md",
        "pyproject.toml",
        "Makefile",
        "airflow_provider_anaplan/py.typed",
        "airflow_provider_anaplan/testing/pytest_plugin.py",
        "docs/airflow.md",
        "docs/emulator.md",
        "example_dags/example_anaplan_list_and_module.py",
        "tests/conftest.py",
        "tests/airflow/conftest.py",
        "tests/testing/test_packaging.py",
        "scripts/demo_airflow.py",
        "benchmarks/soak.py",
    ):
        assert path in in_sdist, path
    integration = get_provider_info()["integrations"][0]
    for path in [integration["logo"], *integration["how-to-guide"]]:
        assert path.lstrip("/") in in_sdist, path
    assert not [n for n in in_sdist if "__pycache__" in n or n.endswith(".pyc") or n.startswith(".venv")]

    with zipfile.ZipFile(wheel) as whl:
        in_wheel = set(whl.namelist())
        info = f"airflow_provider_anaplan-{version}.dist-info"
        metadata = email.message_from_bytes(whl.read(f"{info}/METADATA"))
        entry_points = whl.read(f"{info}/entry_points.txt").decode()
    assert {name.split("/")[0] for name in in_wheel} == {"airflow_provider_anaplan", info}
    assert "airflow_provider_anaplan/py.typed" in in_wheel and f"{info}/licenses/LICENSE" in in_wheel
    assert "airflow_provider_anaplan/testing/emulator/server.py" in in_wheel
    assert metadata["Version"] == version and metadata["License-Expression"] == "Apache-2.0"
    assert "Framework :: Apache Airflow :: Provider" in metadata.get_all("Classifier")
    assert f"Documentation, {PROJECT['urls']['Documentation']}" in metadata.get_all("Project-URL")
    assert 'pytest>=8; extra == "testing"' in metadata.get_all("Requires-Dist")
    assert not [r for r in metadata.get_all("Requires-Dist") if r.startswith("pytest") and "extra" not in r]
    assert "provider_info = airflow_provider_anaplan.get_provider_info:get_provider_info" in entry_points
