"""pytest plugin: the Anaplan emulator and an isolated Airflow to run your DAGs against it.

Enable it in your top-level ``conftest.py`` (it needs the ``testing`` extra:
``pip install 'airflow-provider-anaplan[testing]'``)::

    pytest_plugins = ["airflow_provider_anaplan.testing.pytest_plugin"]

Fixtures:

``anaplan_emulator`` (function)
    An :class:`EmulatorHandle` on the session's in-process emulator, reset to its seed before the test.
``anaplan_emulator_server`` (session)
    The running :class:`~airflow_provider_anaplan.testing.emulator.server.EmulatorServer` behind it.
``anaplan_connection`` (function)
    ``anaplan_emulator`` plus ``AIRFLOW_CONN_ANAPLAN_DEFAULT`` pointing at it
    (:meth:`EmulatorHandle.airflow_connection`) and the provider's per-process state cleared
    (cached tokens, start records, file leases).
``anaplan_airflow_home`` (session)
    The session's ``AIRFLOW_HOME``: a temporary directory with a SQLite metadata database and an empty
    DAGs folder, set up in ``pytest_configure`` (before test modules import Airflow) and deleted at the end.
``anaplan_airflow_db`` (session)
    That home with its metadata database created (once) and the DAG bundles registered.
``anaplan_fast_polling`` (function)
    Every Anaplan operator and sensor polls at most every ``anaplan_poll_interval`` seconds (default
    0.2) during the test instead of every 5 s (operators) or 60 s (sensors); the value is returned.
``anaplan_dag_runner`` (function)
    All of the above: a :class:`DagRunner` whose ``run(dag_or_dag_file)`` writes the DAG into the
    metadata database and runs it with ``dag.test()`` against the emulator; ``states(dag_run)`` and
    ``xcom(dag_run, task_id)`` read the results.

Options: ini ``anaplan_airflow_home = isolated | inherit`` (``inherit`` leaves Airflow's configuration
alone: no temporary home, and ``anaplan_airflow_db`` only migrates, never resets, the configured
database), ini ``anaplan_poll_interval`` (seconds; ``off`` disables the cap), and
``--anaplan-keep-airflow-home`` (keep the temporary home for inspection; its path is in the header).

:func:`run_emulator_subprocess` starts the emulator as a child process instead; the pieces without
pytest live in :mod:`airflow_provider_anaplan.testing.handle` and
:mod:`airflow_provider_anaplan.testing.airflow_home`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

try:
    import pytest
except ImportError as exc:  # pragma: no cover - exercised by tests/testing/test_runtime_imports.py
    raise ImportError(
        "airflow_provider_anaplan.testing.pytest_plugin needs pytest: "
        "pip install 'airflow-provider-anaplan[testing]'"
    ) from exc

from ..validation import MIN_POLL_INTERVAL
from .airflow_home import (
    DEFAULT_FAST_POLL_INTERVAL,
    DagRunner,
    airflow_home,
    fast_polling,
    is_isolated,
    isolate_airflow_home,
    migrate_metadata_db,
    reset_provider_state,
    restore_airflow_home,
)
from .emulator.server import EmulatorServer
from .handle import EmulatorAdmin, EmulatorHandle, free_port, run_emulator_subprocess

__all__ = [
    "DagRunner",
    "EmulatorAdmin",
    "EmulatorHandle",
    "anaplan_airflow_db",
    "anaplan_airflow_home",
    "anaplan_connection",
    "anaplan_dag_runner",
    "anaplan_emulator",
    "anaplan_emulator_server",
    "anaplan_fast_polling",
    "free_port",
    "run_emulator_subprocess",
]

_HOME_MODES = ("isolated", "inherit")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "anaplan_airflow_home",
        "isolated (default): a temporary AIRFLOW_HOME with SQLite for the session; "
        "inherit: leave Airflow's configuration alone",
        default="isolated",
    )
    parser.addini(
        "anaplan_poll_interval",
        "seconds between Anaplan status polls under anaplan_fast_polling / anaplan_dag_runner "
        f"(default {DEFAULT_FAST_POLL_INTERVAL}; off: no cap)",
        default=str(DEFAULT_FAST_POLL_INTERVAL),
    )
    parser.getgroup("anaplan").addoption(
        "--anaplan-keep-airflow-home",
        action="store_true",
        default=False,
        help="keep the temporary AIRFLOW_HOME of the session (logs, metadata database) after the run",
    )


def pytest_configure(config: pytest.Config) -> None:
    mode = str(config.getini("anaplan_airflow_home")).strip().lower() or "isolated"
    if mode not in _HOME_MODES:
        raise pytest.UsageError(f"anaplan_airflow_home must be one of {_HOME_MODES}, got {mode!r}")
    if mode == "isolated":
        isolate_airflow_home()  # environment only: before any test module imports Airflow


def pytest_report_header(config: pytest.Config) -> str | None:
    if is_isolated():
        return f"anaplan: AIRFLOW_HOME={airflow_home()} (isolated, SQLite)"
    return None


def pytest_unconfigure(config: pytest.Config) -> None:
    keep = bool(config.getoption("anaplan_keep_airflow_home", default=False))
    restore_airflow_home(remove=not keep)


def _poll_interval(config: pytest.Config) -> float | None:
    raw = str(config.getini("anaplan_poll_interval")).strip().lower()
    if raw in ("", "off", "none", "false", "0"):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise pytest.UsageError(f"anaplan_poll_interval must be a number of seconds or off, got {raw!r}") from None
    if not value >= MIN_POLL_INTERVAL:
        raise pytest.UsageError(f"anaplan_poll_interval must be >= {MIN_POLL_INTERVAL} seconds or off, got {raw!r}")
    return value


@pytest.fixture(scope="session")
def anaplan_emulator_server() -> Iterator[EmulatorServer]:
    """One in-process emulator per test session (background thread, free port)."""
    server = EmulatorServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def anaplan_emulator(anaplan_emulator_server: EmulatorServer) -> Iterator[EmulatorHandle]:
    """The session's emulator, reset to its base fixture before the test."""
    admin = EmulatorAdmin(anaplan_emulator_server.url)
    admin.reset()
    try:
        yield EmulatorHandle(url=anaplan_emulator_server.url, admin=admin, server=anaplan_emulator_server)
    finally:
        admin.close()


@pytest.fixture
def anaplan_connection(anaplan_emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorHandle]:
    """``anaplan_emulator`` with ``AIRFLOW_CONN_ANAPLAN_DEFAULT`` pointing at it (the seed user, workspace
    and model) and the provider's per-process state cleared before the test (cached tokens, start
    records, file leases). Add more connections with
    ``monkeypatch.setenv("AIRFLOW_CONN_<ID>", anaplan_connection.airflow_connection(**extras))``."""
    from airflow_provider_anaplan.client.tokens import clear_token_cache

    reset_provider_state()
    monkeypatch.setenv("AIRFLOW_CONN_ANAPLAN_DEFAULT", anaplan_emulator.airflow_connection())
    try:
        yield anaplan_emulator
    finally:
        clear_token_cache()


@pytest.fixture(scope="session")
def anaplan_airflow_home() -> Path:
    """The session's ``AIRFLOW_HOME`` (a temporary directory unless ``anaplan_airflow_home = inherit``)."""
    return airflow_home()


@pytest.fixture(scope="session")
def anaplan_airflow_db(anaplan_airflow_home: Path) -> Path:
    """The session's ``AIRFLOW_HOME`` with its metadata database created and the DAG bundles registered."""
    return migrate_metadata_db()


@pytest.fixture
def anaplan_fast_polling(request: pytest.FixtureRequest) -> Iterator[float | None]:
    """Cap the status-poll interval of every Anaplan operator and sensor for the test (ini
    ``anaplan_poll_interval``, default 0.2 s); returns the cap (``None`` when switched off)."""
    interval = _poll_interval(request.config)
    if interval is None:
        yield None
        return
    with fast_polling(interval) as value:
        yield value


@pytest.fixture
def anaplan_dag_runner(
    anaplan_airflow_db: Path, anaplan_connection: EmulatorHandle, anaplan_fast_polling: float | None
) -> DagRunner:
    """A :class:`DagRunner` for ``dag.test()`` runs against the emulator (``anaplan_default``), with a
    migrated metadata database and fast polling: ``run(dag or "path/to/dag_file.py", **test_kwargs)``
    returns the ``DagRun``; ``states(dag_run)``, ``xcom(dag_run, task_id)`` and ``load(path)`` help."""
    return DagRunner()
