"""Run DAGs in tests: an isolated ``AIRFLOW_HOME`` with SQLite, ``dag.test()`` and fast polling.

The pieces behind the Airflow fixtures of :mod:`airflow_provider_anaplan.testing.pytest_plugin`,
usable without pytest (a script, another test runner):

* :func:`isolate_airflow_home` points Airflow at a fresh temporary home (SQLite metadata database,
  empty DAGs folder, no example DAGs, ``LocalExecutor``, operators not deferrable by default). It only
  sets environment variables, so it must run **before Airflow is imported** (Airflow reads its
  configuration once, at import). Idempotent within a process; :func:`restore_airflow_home` undoes it.
* :func:`migrate_metadata_db` creates the metadata database (once per process) and registers the DAG
  bundles.
* :class:`DagRunner` writes a DAG (an object or a DAG file) into the metadata database the way the
  dag-processor does, runs it with ``dag.test()`` and reads task states and XComs back.
* :func:`fast_polling` makes every Anaplan operator and sensor poll at most every ``interval`` seconds
  (Anaplan's advice of one poll per 5 s is pointless against the local emulator).
* :func:`reset_provider_state` forgets cached tokens and the start records / file leases the operators
  keep (they would outlive an emulator reset).

Nothing here imports Airflow at module level.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import inspect
import os
import shutil
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_FAST_POLL_INTERVAL",
    "DagRunner",
    "airflow_home",
    "fast_polling",
    "is_isolated",
    "isolate_airflow_home",
    "load_dag_file",
    "migrate_metadata_db",
    "reset_provider_state",
    "restore_airflow_home",
    "serialize_dag",
]

#: Seconds between status polls under :func:`fast_polling` (the operators' default is 5 s).
DEFAULT_FAST_POLL_INTERVAL = 0.2

#: The bundle ``dag.test()`` and :func:`serialize_dag` file DAGs under (Airflow's default bundle).
BUNDLE_NAME = "dags-folder"


@dataclass
class _State:
    home: Path | None = None
    created: bool = False  # the temporary directory is ours to delete
    saved_env: dict[str, str | None] = field(default_factory=dict)
    db_ready: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


_STATE = _State()


def _settings(home: Path) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    }


def isolate_airflow_home(home: str | os.PathLike[str] | None = None) -> Path:
    """Point Airflow at a throw-away home (a new temporary directory unless ``home`` is given).

    Sets ``AIRFLOW_HOME``, ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` (``sqlite:///<home>/airflow.db``),
    ``AIRFLOW__CORE__DAGS_FOLDER`` (``<home>/dags``, created empty), ``AIRFLOW__CORE__LOAD_EXAMPLES=False``,
    ``AIRFLOW__CORE__EXECUTOR=LocalExecutor``, ``AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE=False`` and
    ``AIRFLOW__LOGGING__LOGGING_LEVEL=INFO``, remembering the previous values. A second call in the same
    process returns the same home. Warns when Airflow was imported already (its configuration is then
    stale: import Airflow later, e.g. inside fixtures and test modules, not at the top of ``conftest.py``).
    """
    with _STATE.lock:
        if _STATE.home is not None:
            return _STATE.home
        if "airflow" in sys.modules:
            warnings.warn(
                "Airflow was imported before its home was isolated: it keeps the configuration it read "
                "at import. Import Airflow inside tests and fixtures, not at the top of conftest.py.",
                stacklevel=2,
            )
        if home is None:
            path = Path(tempfile.mkdtemp(prefix="anaplan-airflow-home-"))
            _STATE.created = True
        else:
            path = Path(home).resolve()
            path.mkdir(parents=True, exist_ok=True)
        (path / "dags").mkdir(exist_ok=True)
        values = _settings(path)
        _STATE.saved_env = {key: os.environ.get(key) for key in values}
        os.environ.update(values)
        _STATE.home = path
        return path


def is_isolated() -> bool:
    """True once :func:`isolate_airflow_home` has run in this process (and was not undone)."""
    return _STATE.home is not None


def airflow_home() -> Path:
    """The isolated home (:func:`isolate_airflow_home`), else ``$AIRFLOW_HOME`` or ``~/airflow``."""
    if _STATE.home is not None:
        return _STATE.home
    return Path(os.environ.get("AIRFLOW_HOME") or Path("~/airflow").expanduser())


def restore_airflow_home(remove: bool = True) -> None:
    """Undo :func:`isolate_airflow_home`: restore the environment, delete the temporary home it made
    (unless ``remove=False``). Airflow, if imported, keeps the configuration it read."""
    with _STATE.lock:
        if _STATE.home is None:
            return
        for key, value in _STATE.saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if remove and _STATE.created:
            shutil.rmtree(_STATE.home, ignore_errors=True)
        _STATE.home, _STATE.created, _STATE.saved_env, _STATE.db_ready = None, False, {}, False


def migrate_metadata_db() -> Path:
    """Create the metadata database (once per process) and register the DAG bundles; returns the home.

    In an isolated home the database is (re)created from scratch (``airflow db reset``); otherwise only
    migrated (``airflow db migrate``), never dropped.
    """
    with _STATE.lock:
        if not _STATE.db_ready:
            from airflow.dag_processing.bundles.manager import DagBundlesManager
            from airflow.utils import db

            if _STATE.home is not None:
                _check_airflow_uses(_STATE.home)
                db.resetdb()
            else:
                db.initdb()
            DagBundlesManager().sync_bundles_to_db()
            _STATE.db_ready = True
    return airflow_home()


def _configured_database() -> str:
    from airflow import settings

    return str(getattr(settings, "SQL_ALCHEMY_CONN", "") or "")


def _check_airflow_uses(home: Path) -> None:
    """Refuse to reset a database that is not the isolated one (Airflow imported too early)."""
    conn = _configured_database()
    if conn != _settings(home)["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]:
        raise RuntimeError(
            f"Airflow's metadata database is {conn!r}, not the isolated one under {home}: Airflow was "
            "imported before the home was isolated. Import Airflow inside tests and fixtures, not at the "
            "top of conftest.py (or call isolate_airflow_home() first)."
        )


def reset_provider_state() -> None:
    """Forget what the provider keeps between tasks in this process and home: cached tokens, start
    records and file leases (the ``anaplan_coord_*`` Variables of the isolated database and the
    fallback directory under ``$AIRFLOW_HOME``), and the reattach records kept in Variables below
    Airflow 3.3 (``anaplan_task_state_*``). They would outlive an emulator reset."""
    from airflow_provider_anaplan.client.coordination import PROCESS_COORDINATION
    from airflow_provider_anaplan.client.tokens import clear_token_cache

    clear_token_cache()
    PROCESS_COORDINATION.__init__()  # type: ignore[misc]
    home = _STATE.home
    if home is None:
        return  # never touch a home or a database the tests do not own
    shutil.rmtree(home / "anaplan" / "coordination", ignore_errors=True)
    try:
        if _configured_database() != _settings(home)["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]:
            return  # Airflow was imported before the home was isolated: not our database
        from airflow.models.variable import Variable
        from airflow.utils.session import create_session
        from sqlalchemy import delete

        from airflow_provider_anaplan.compat import TASK_STATE_PREFIX
        from airflow_provider_anaplan.hooks.coordination import COORDINATION_PREFIX

        with create_session() as session:
            for prefix in (COORDINATION_PREFIX, TASK_STATE_PREFIX):
                session.execute(delete(Variable).where(Variable.key.startswith(prefix)))
    except Exception:  # no metadata database yet (a test that does not use one)
        pass


# --------------------------------------------------------------------------------------- fast polling


class _CappedInterval:
    """A data descriptor that stores the value in the instance and reads it capped at ``cap``.

    A data descriptor wins over the instance ``__dict__``, so operators built before the patch (a DAG
    file imported at collection) are capped too; the stored value is never changed.
    """

    def __init__(self, name: str, cap: float) -> None:
        self.name = name
        self.cap = cap

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        try:
            value = obj.__dict__[self.name]
        except KeyError:
            raise AttributeError(self.name) from None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return min(value, self.cap)
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.name] = value


def _polling_classes() -> list[tuple[type, str]]:
    from airflow_provider_anaplan.operators.base import AnaplanTaskOperator
    from airflow_provider_anaplan.sensors.task import AnaplanTaskSensor

    return [(AnaplanTaskOperator, "poll_interval"), (AnaplanTaskSensor, "poke_interval")]


@contextlib.contextmanager
def fast_polling(interval: float = DEFAULT_FAST_POLL_INTERVAL) -> Iterator[float]:
    """While active, every Anaplan operator (``poll_interval``) and :class:`AnaplanTaskSensor`
    (``poke_interval``) waits at most ``interval`` seconds between status polls, in sync and deferrable
    mode (the trigger gets the capped value), including operators created before. Smaller explicit
    intervals are kept. For tests against the emulator only: Anaplan asks for no more than one poll per
    5 s."""
    from airflow_provider_anaplan.validation import MIN_POLL_INTERVAL

    interval = float(interval)
    if not interval >= MIN_POLL_INTERVAL:  # the operators' and the trigger's floor (NaN fails too)
        raise ValueError(f"fast_polling interval must be >= {MIN_POLL_INTERVAL} seconds, got {interval!r}")
    patched: list[tuple[type, str, Any, bool]] = []
    try:
        for cls, name in _polling_classes():
            had = name in cls.__dict__
            patched.append((cls, name, cls.__dict__.get(name), had))
            setattr(cls, name, _CappedInterval(name, interval))
        yield interval
    finally:
        for cls, name, previous, had in reversed(patched):
            if had:
                setattr(cls, name, previous)
            else:
                delattr(cls, name)


# ----------------------------------------------------------------------------------------- DAG runs


def load_dag_file(path: str | os.PathLike[str], dag_id: str | None = None) -> Any:
    """Import a DAG file the way the dag-processor does and return its DAG (the one named ``dag_id`` when
    the file defines several). Finds module-level DAGs and DAGs created in a ``with DAG(...):`` block or
    by a ``@dag`` function without being assigned."""
    from airflow.sdk import DAG
    from airflow.sdk.definitions._internal.contextmanager import DagContext

    file = Path(path).resolve()
    if not file.is_file():
        raise FileNotFoundError(f"no DAG file at {file}")
    name = f"anaplan_test_dag_{hashlib.sha1(str(file).encode()).hexdigest()[:10]}_{file.stem}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # DagContext looks the module up while the file runs
    DagContext.autoregistered_dags.clear()
    DagContext.current_autoregister_module_name = name
    try:
        spec.loader.exec_module(module)
        found = [value for value in vars(module).values() if isinstance(value, DAG)]
        found += [dag for dag, mod in DagContext.autoregistered_dags if mod is module]
    finally:
        DagContext.current_autoregister_module_name = None
        DagContext.autoregistered_dags.clear()
    dags: dict[str, Any] = {}
    for dag in found:
        dags.setdefault(dag.dag_id, dag)
        dag.fileloc = str(file)
    if dag_id is not None:
        if dag_id not in dags:
            raise LookupError(f"{file} defines no DAG {dag_id!r} (it defines {sorted(dags)})")
        return dags[dag_id]
    if len(dags) != 1:
        raise LookupError(f"{file} defines {len(dags)} DAGs {sorted(dags)}: pass dag_id=...")
    return next(iter(dags.values()))


def serialize_dag(dag: Any, bundle_name: str = BUNDLE_NAME) -> None:
    """Write ``dag`` into the metadata database as the dag-processor would (serialized DAG, DAG model
    and version), so ``dag.test()`` and the scheduler-side code find it."""
    from airflow.dag_processing.collection import update_dag_parsing_results_in_db
    from airflow.serialization.serialized_objects import LazyDeserializedDAG
    from airflow.utils.session import create_session

    if hasattr(LazyDeserializedDAG, "from_dag"):
        lazy = LazyDeserializedDAG.from_dag(dag)
    else:  # pragma: no cover - older Airflow 3.x
        from airflow.serialization.serialized_objects import SerializedDAG

        lazy = LazyDeserializedDAG(data=SerializedDAG.to_dict(dag))  # type: ignore[attr-defined]
    arguments: dict[str, Any] = {
        "bundle_name": bundle_name,
        "bundle_version": None,
        "dags": [lazy],
        "import_errors": {},
        "parse_duration": None,
        "warnings": set(),
    }
    accepted = inspect.signature(update_dag_parsing_results_in_db).parameters
    with create_session() as session:
        update_dag_parsing_results_in_db(
            **{k: v for k, v in arguments.items() if k in accepted}, session=session
        )


class DagRunner:
    """Run DAGs under a real ``dag.test()`` and read what they left in the metadata database.

    Needs a migrated metadata database (:func:`migrate_metadata_db`) and, to reach the emulator, an
    ``anaplan_default`` connection pointing at it (``EmulatorHandle.airflow_connection()``).
    """

    def load(self, path: str | os.PathLike[str], dag_id: str | None = None) -> Any:
        """The DAG of a DAG file (:func:`load_dag_file`)."""
        return load_dag_file(path, dag_id)

    def run(self, dag: Any, dag_id: str | None = None, **test_kwargs: Any) -> Any:
        """Serialize ``dag`` (a DAG, or the path of a DAG file) into the database, run ``dag.test(**test_kwargs)``
        (e.g. ``run_conf={...}``, ``logical_date=...``) and return the ``DagRun``. A failing task does not
        raise: check :meth:`states` (or ``dag_run.state``)."""
        if isinstance(dag, (str, os.PathLike)):
            dag = self.load(dag, dag_id)
        serialize_dag(dag)
        return dag.test(**test_kwargs)

    def states(self, dag_run: Any) -> dict[str, str]:
        """``{task_id: state}`` of a run; mapped task instances as ``"task_id[map_index]"``."""
        from airflow.utils.session import create_session

        with create_session() as session:
            return {
                (ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"): str(ti.state)
                for ti in dag_run.get_task_instances(session=session)
            }

    def xcom(self, dag_run: Any, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        """An XCom value of a run (``None`` when absent), deserialized."""
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
