"""Shared helpers of the reliability tests: a throw-away AIRFLOW_HOME and benchmark loading."""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]

if "airflow" not in sys.modules and "AIRFLOW_HOME" not in os.environ:
    # Run alone (not after tests/airflow/conftest.py): keep Airflow away from ~/airflow.
    _home = tempfile.mkdtemp(prefix="anaplan-reliability-airflow-")
    os.environ.update(
        {
            "AIRFLOW_HOME": _home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_home}/airflow.db",
        }
    )


def load_benchmark(name: str) -> ModuleType:
    """Import ``benchmarks/<name>.py`` (the same code the documented command runs)."""
    module_name = f"anaplan_benchmark_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, REPO / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
