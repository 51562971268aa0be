"""Real-Airflow test harness: the provider's pytest plugin's isolated AIRFLOW_HOME (SQLite), set before
Airflow is imported.

The plugin (enabled in tests/conftest.py) isolates the home in ``pytest_configure``; calling
:func:`isolate_airflow_home` here too covers ``pytest tests/airflow/...``, where this conftest is
imported before ``pytest_configure`` (same process, same home: the call is idempotent).
"""

from __future__ import annotations

from airflow_provider_anaplan.testing.airflow_home import isolate_airflow_home

isolate_airflow_home()

import json  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from airflow_provider_anaplan.testing import airflow_home as _plugin_airflow  # noqa: E402
from airflow_provider_anaplan.testing.context import operator_context  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "example_dags"


@pytest.fixture(scope="session")
def airflow_db(anaplan_airflow_db: Path) -> str:
    """The metadata database, created once per session (the plugin's ``anaplan_airflow_db``)."""
    return str(anaplan_airflow_db)


@pytest.fixture
def emulator(anaplan_connection: Any) -> Iterator[Any]:
    """The emulator (reset), ``anaplan_default`` pointing at it, a clean token cache and coordination
    state (the plugin's ``anaplan_connection``), and tasks that run at a million rows per second."""
    anaplan_connection.admin.configure(rows_per_second=1_000_000)
    yield anaplan_connection


class DagRunner(_plugin_airflow.DagRunner):
    """The plugin's runner (serialize, ``dag.test()``, states, XComs) plus this repository's examples."""

    def load_example(self, name: str) -> Any:
        """Import ``example_dags/<name>.py`` and return its DAG."""
        return self.load(EXAMPLE_DAGS / f"{name}.py", dag_id=None)


@pytest.fixture
def dag_runner(airflow_db: str, emulator: Any) -> DagRunner:
    return DagRunner()


@pytest.fixture
def make_context() -> Any:
    """``make_context(store=None)`` -> a minimal execution context (ti + task_state_store)."""
    return operator_context


@pytest.fixture
def emulator_conn(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``emulator_conn(conn_id="anaplan_default", login=..., password=..., **extra)`` sets an env connection."""

    def make(conn_id: str = "anaplan_default", **kw: Any) -> str:
        data = json.loads(emulator.airflow_connection())
        for key in ("login", "password"):
            if key in kw:
                data[key] = kw.pop(key)
        data["extra"].update(kw)
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(data))
        return conn_id

    return make


def deletes(counters: dict[str, Any]) -> int:
    return sum(n for k, n in counters["requests"].items() if k.startswith("DELETE") and "tasks" in k)


@pytest.fixture
def count_deletes() -> Any:
    return deletes
