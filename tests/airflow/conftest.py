"""Real-Airflow test harness: a throw-away AIRFLOW_HOME with SQLite, set before Airflow is imported.

Only this folder's tests import Airflow. The environment variables below are process-wide but only
matter to Airflow; the emulator and client tests in the other folders never read them.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path

_HOME = tempfile.mkdtemp(prefix="anaplan-airflow-home-")
_DAGS = os.path.join(_HOME, "dags")
os.makedirs(_DAGS, exist_ok=True)
if "airflow" in sys.modules:  # pragma: no cover - someone imported Airflow earlier in the session
    warnings.warn("Airflow was imported before tests/airflow/conftest.py; its configuration may be stale", stacklevel=1)
os.environ.update(
    {
        "AIRFLOW_HOME": _HOME,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": _DAGS,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME}/airflow.db",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    }
)

import json  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from airflow_provider_anaplan.testing.context import operator_context  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "example_dags"


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """Create the metadata database once per session."""
    from airflow.utils import db

    db.resetdb()
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    DagBundlesManager().sync_bundles_to_db()
    return _HOME


@pytest.fixture
def emulator(anaplan_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The emulator (reset), ``anaplan_default`` pointing at it, and a clean client token cache."""
    from airflow_provider_anaplan.client.tokens import clear_token_cache

    clear_token_cache()
    clear_coordination()
    monkeypatch.setenv("AIRFLOW_CONN_ANAPLAN_DEFAULT", anaplan_emulator.airflow_connection())
    anaplan_emulator.admin.configure(rows_per_second=1_000_000)
    yield anaplan_emulator
    clear_token_cache()


def clear_coordination() -> None:
    """Forget every start record and file lease (Variables outlive the emulator's per-test reset)."""
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    from airflow_provider_anaplan.client.coordination import PROCESS_COORDINATION
    from airflow_provider_anaplan.hooks.coordination import COORDINATION_PREFIX

    PROCESS_COORDINATION.__init__()
    import shutil

    shutil.rmtree(os.path.join(_HOME, "anaplan", "coordination"), ignore_errors=True)
    try:
        with create_session() as session:
            session.execute(delete(Variable).where(Variable.key.startswith(COORDINATION_PREFIX)))
    except Exception:  # no metadata database yet (a test that does not use one)
        pass


class DagRunner:
    """Run DAGs under a real ``dag.test()`` and read what they left in the metadata database."""

    def run(self, dag: Any, **kwargs: Any) -> Any:
        from airflow.dag_processing.collection import update_dag_parsing_results_in_db
        from airflow.serialization.serialized_objects import LazyDeserializedDAG
        from airflow.utils.session import create_session

        with create_session() as session:
            update_dag_parsing_results_in_db(
                "dags-folder", None, [LazyDeserializedDAG.from_dag(dag)], {}, None, set(), session=session
            )
        return dag.test(**kwargs)

    def states(self, dag_run: Any) -> dict[str, str]:
        from airflow.utils.session import create_session

        with create_session() as session:
            return {
                (ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"): str(ti.state)
                for ti in dag_run.get_task_instances(session=session)
            }

    def xcom(self, dag_run: Any, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            row = session.scalars(
                select(XComModel).where(
                    XComModel.dag_id == dag_run.dag_id,
                    XComModel.run_id == dag_run.run_id,
                    XComModel.task_id == task_id,
                    XComModel.map_index == map_index,
                    XComModel.key == key,
                )
            ).first()
            return None if row is None else XComModel.deserialize_value(row)

    def load_example(self, name: str) -> Any:
        """Import ``example_dags/<name>.py`` and return its DAG."""
        import importlib.util

        path = EXAMPLE_DAGS / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"anaplan_example_{name}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.dag


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
