"""Run a real, throw-away Airflow 3 deployment (scheduler, triggerer, dag-processor, api-server).

:class:`AirflowStack` is the harness behind the project's real-Airflow integration tests and is usable
from users' own tests. Given a DAGs folder and extra environment (connections as ``AIRFLOW_CONN_*``),
it creates a temporary ``AIRFLOW_HOME`` with a SQLite metadata database, runs ``airflow db migrate``,
starts every component as its own process (``LocalExecutor``; the scheduler forks the task workers),
waits until the api-server reports every component healthy, and then lets a test unpause and trigger
DAGs (REST API), read the metadata database (read-only ``sqlite3``), kill and restart components, and
kill a running task's process. :meth:`AirflowStack.stop` tears everything down: each component's
process group, every descendant (Airflow's task processes run in their own process groups) and, as a
last sweep, any process whose environment carries this stack's unique id.

Example::

    with AirflowStack(dags_folder, env={"AIRFLOW_CONN_ANAPLAN_DEFAULT": conn_json}) as stack:
        run_id = stack.trigger_dag("my_dag")
        state = stack.wait_for_dag_run("my_dag", run_id, timeout=180)

Intervals are shortened (scheduler and triggerer heartbeats of 1 s, DAG folder refresh of 2 s, a
triggerer considered dead after 10 s without a heartbeat) so a run takes seconds, not minutes.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

__all__ = [
    "COMPONENTS",
    "AirflowStack",
    "AirflowStackError",
    "Component",
    "TaskSample",
    "free_port",
]

#: The long-running Airflow processes the stack starts, in start order.
COMPONENTS: tuple[str, ...] = ("api-server", "scheduler", "dag-processor", "triggerer")

#: Environment marker put on every process the stack starts (used by the orphan sweep).
STACK_ID_ENV = "ANAPLAN_AIRFLOW_STACK_ID"

_TERMINAL_RUN_STATES = frozenset({"success", "failed"})

#: Stacks started in this process and not stopped yet (stopped at interpreter exit as a last resort).
_LIVE_STACKS: weakref.WeakSet[AirflowStack] = weakref.WeakSet()


@atexit.register
def _stop_live_stacks() -> None:
    for stack in list(_LIVE_STACKS):
        with contextlib.suppress(Exception):
            stack.stop()


class AirflowStackError(RuntimeError):
    """A component failed to start, became unhealthy, or a wait timed out."""


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _airflow_command() -> list[str]:
    """The ``airflow`` CLI of the running interpreter (its venv's script, else ``python -m airflow``)."""
    script = Path(sys.executable).parent / "airflow"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "airflow"]


@dataclass
class Component:
    """One running Airflow process (``airflow <name>``) and its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    started_at: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        """The component's main process id (also its process-group id)."""
        return self.process.pid

    def alive(self) -> bool:
        """Whether the main process is still running."""
        return self.process.poll() is None


@dataclass(frozen=True)
class TaskSample:
    """What one poll saw of a task instance and of the machinery around it.

    ``busy_workers`` are LocalExecutor worker processes running a workload; ``task_processes`` are
    live task processes (``airflow worker -- <ti id>``) of this task instance; the slot counts are the
    ``default_pool``'s (or the task's pool's) from the REST API (``None`` if the call failed);
    ``consistent`` is False when the task instance changed state while the sample was taken.
    """

    at: float
    wall: str
    state: str | None
    try_number: int
    pid: int | None
    trigger_id: int | None
    triggerer_id: int | None
    running_slots: int | None
    queued_slots: int | None
    deferred_slots: int | None
    occupied_slots: int | None
    busy_workers: tuple[str, ...]
    task_processes: tuple[int, ...]
    consistent: bool = True


class AirflowStack:
    """A real Airflow 3 deployment on a temporary ``AIRFLOW_HOME`` (SQLite, LocalExecutor).

    :param dags_folder: folder the dag-processor parses (used in place, not copied).
    :param env: extra environment for every component, e.g. ``AIRFLOW_CONN_ANAPLAN_DEFAULT``
        (JSON) or ``AIRFLOW__...`` overrides (these win over the stack's defaults).
    :param home: ``AIRFLOW_HOME`` to use; default a new temporary directory removed by :meth:`stop`.
    :param parallelism: LocalExecutor worker processes (``[core] parallelism``).
    :param components: which components to start (default all of :data:`COMPONENTS`).
    :param keep_home: keep a temporary home after :meth:`stop` (for debugging).
    """

    def __init__(
        self,
        dags_folder: str | os.PathLike[str],
        env: Mapping[str, str] | None = None,
        *,
        home: str | os.PathLike[str] | None = None,
        parallelism: int = 2,
        components: Sequence[str] = COMPONENTS,
        keep_home: bool = False,
    ) -> None:
        self.dags_folder = Path(dags_folder).resolve()
        self.extra_env = dict(env or {})
        self._own_home = home is None
        self.home = Path(home) if home is not None else Path(tempfile.mkdtemp(prefix="airflow-stack-"))
        self.parallelism = parallelism
        self.component_names = tuple(components)
        self.keep_home = keep_home
        self.stack_id = uuid.uuid4().hex
        self.api_port = free_port()
        self.components: dict[str, Component] = {}
        self._log_generation: dict[str, int] = {}
        self._env: dict[str, str] | None = None
        self._stopped = False
        #: Processes of the stack still alive after :meth:`stop` (set by it; expected empty).
        self.orphans: list[psutil.Process] = []

    # ------------------------------------------------------------------ configuration

    @property
    def db_path(self) -> Path:
        """The SQLite metadata database file."""
        return self.home / "airflow.db"

    @property
    def base_url(self) -> str:
        """Base URL of the api-server, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def logs_dir(self) -> Path:
        """Where the components' own output and Airflow's task logs go."""
        return self.home / "logs"

    @property
    def env(self) -> dict[str, str]:
        """The full environment each component runs with (built once per stack)."""
        if self._env is None:
            self._env = self._build_env()
        return self._env

    def _build_env(self) -> dict[str, str]:
        from cryptography.fernet import Fernet

        # Nothing Airflow-related leaks in from the calling process (its config, connections,
        # variables or internal markers): the stack's components see only what is set here.
        base = {k: v for k, v in os.environ.items() if not k.lstrip("_").startswith("AIRFLOW")}
        settings = {
            "AIRFLOW_HOME": str(self.home),
            STACK_ID_ENV: self.stack_id,
            "PYTHONUNBUFFERED": "1",
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "True",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.db_path}",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            # Scheduler: loop fast; it is the one forking the LocalExecutor workers.
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
            "AIRFLOW__SCHEDULER__POOL_METRICS_INTERVAL": "2",
            # DAG processor: see new files within 2 s, re-parse an unchanged one at most every 30 s.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL": "2",
            "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "300",
            # Triggerer: heartbeat every second; a triggerer silent for 10 s is dead and its
            # triggers are picked up by another one (Trigger.assign_unassigned).
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
            # Log servers (scheduler for LocalExecutor task logs, triggerer): free ports so that
            # several stacks (and other engineers' runs) can share the machine.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.logs_dir),
            "AIRFLOW__LOGGING__DAG_PROCESSOR_CHILD_PROCESS_LOG_DIRECTORY": str(
                self.logs_dir / "dag_processor"
            ),
        }
        base.update(settings)
        base.update(self.extra_env)
        return base

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> AirflowStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 180.0) -> None:
        """Migrate the database, start every component and wait until all are healthy."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        _LIVE_STACKS.add(self)
        self.migrate()
        deadline = time.monotonic() + timeout
        for name in self.component_names:
            self.start_component(name)
        if "api-server" in self.component_names:
            self.wait_healthy(timeout=max(1.0, deadline - time.monotonic()))
        else:
            time.sleep(2.0)
            self.check_alive()

    def migrate(self, timeout: float = 180.0) -> None:
        """Run ``airflow db migrate`` on the stack's SQLite database."""
        self.home.mkdir(parents=True, exist_ok=True)
        _LIVE_STACKS.add(self)
        result = self.run_cli(["db", "migrate"], "db-migrate.log", timeout=timeout)
        if result.returncode != 0:
            raise AirflowStackError(
                f"airflow db migrate failed (exit {result.returncode}):\n{_tail(self.logs_dir / 'db-migrate.log', 60)}"
            )

    def run_cli(
        self, args: Sequence[str], log_name: str, timeout: float = 600.0
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``airflow <args>`` with the stack's environment; output goes to ``logs/<log_name>``.

        Usable without starting any component (e.g. ``airflow dags test`` after :meth:`migrate`).
        """
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.logs_dir / log_name
        with log_path.open("wb") as log:
            return subprocess.run(
                [*_airflow_command(), *args],
                env=self.env,
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )

    def start_component(self, name: str) -> Component:
        """Start ``airflow <name>`` in a new session (its own process group); return it."""
        if name not in COMPONENTS:
            raise ValueError(f"unknown component {name!r}; expected one of {COMPONENTS}")
        current = self.components.get(name)
        if current is not None and current.alive():
            raise AirflowStackError(f"{name} is already running (pid {current.pid})")
        generation = self._log_generation.get(name, 0) + 1
        self._log_generation[name] = generation
        suffix = "" if generation == 1 else f".{generation}"
        log_path = self.logs_dir / f"{name}{suffix}.out"
        args = [*_airflow_command(), name]
        if name == "api-server":
            args += ["--host", "127.0.0.1", "--port", str(self.api_port), "--workers", "1"]
        log = log_path.open("wb")
        try:
            process = subprocess.Popen(
                args,
                env=self.env,
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        component = Component(name=name, process=process, log_path=log_path)
        self.components[name] = component
        return component

    def kill_component(self, name: str, sig: int = signal.SIGKILL, timeout: float = 30.0) -> None:
        """Send ``sig`` to a component's whole process tree and wait until its main process is gone.

        ``SIGKILL`` simulates a crash: the component gets no chance to clean up (a killed triggerer
        leaves its triggers assigned to a job that stops heartbeating).
        """
        component = self.components[name]
        _signal_tree(component.pid, sig)
        try:
            component.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_tree(component.pid, signal.SIGKILL)
            component.process.wait(timeout=10)

    def restart_component(self, name: str) -> Component:
        """Start a component again after :meth:`kill_component` (a fresh process and job)."""
        component = self.components.get(name)
        if component is not None and component.alive():
            self.kill_component(name, signal.SIGTERM)
        return self.start_component(name)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every component (SIGTERM, then SIGKILL) and reap all descendants; idempotent.

        Afterwards :attr:`orphans` lists any process of the stack still alive (expected empty).
        """
        if self._stopped:
            return
        self._stopped = True
        _LIVE_STACKS.discard(self)
        trees: list[psutil.Process] = []
        for component in self.components.values():
            trees.extend(_process_tree(component.pid))
            if component.alive():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(component.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for component in self.components.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                component.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        # Whatever is left: the component groups, every recorded descendant (task processes have
        # their own process groups) and any straggler carrying this stack's id in its environment.
        for component in self.components.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(component.pid, signal.SIGKILL)
        leftovers = [p for p in trees if _is_running(p)] + self.stray_processes()
        for proc in leftovers:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(leftovers, timeout=10)
        for component in self.components.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                component.process.wait(timeout=5)
        self.orphans = self.stray_processes()
        if self._own_home and not self.keep_home:
            shutil.rmtree(self.home, ignore_errors=True)

    def stray_processes(self) -> list[psutil.Process]:
        """Every live process started by this stack.

        A process is ours when its working directory is this stack's ``AIRFLOW_HOME`` (every
        component starts there and Airflow does not change it) or its environment carries the stack
        id. Both are needed: ``setproctitle`` (task processes, LocalExecutor workers, api-server)
        overwrites the memory ``/proc/PID/environ`` shows.
        """
        found: list[psutil.Process] = []
        me = os.getpid()
        home = str(self.home.resolve())
        for proc in psutil.process_iter():
            if proc.pid == me:
                continue
            try:
                if (proc.cwd() == home or proc.environ().get(STACK_ID_ENV) == self.stack_id) and _is_running(
                    proc
                ):
                    found.append(proc)
            except (psutil.Error, OSError):
                continue
        return found

    # ------------------------------------------------------------------ health

    def health(self) -> dict[str, Any]:
        """The api-server's ``/api/v2/monitor/health`` answer."""
        return self.api("GET", "/api/v2/monitor/health")

    def wait_healthy(self, timeout: float = 180.0, components: Sequence[str] | None = None) -> dict[str, Any]:
        """Wait until the api-server answers and reports each of ``components`` healthy.

        ``components`` are names in the health answer (``scheduler``, ``triggerer``,
        ``dag_processor``); default: those of the started components. Needs the api-server.
        """
        if components is None:
            components = [n.replace("-", "_") for n in self.component_names if n != "api-server"]
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                last = self.health()
            except (OSError, AirflowStackError) as exc:
                last = exc
            else:
                if last.get("metadatabase", {}).get("status") == "healthy" and all(
                    (last.get(c) or {}).get("status") == "healthy" for c in components
                ):
                    return last
            time.sleep(0.5)
        raise AirflowStackError(f"stack not healthy after {timeout:.0f}s; last health: {last!r}")

    def check_alive(self, names: Sequence[str] | None = None) -> None:
        """Raise (with the component's log tail) if a started component has exited."""
        for name in names or list(self.components):
            component = self.components.get(name)
            if component is not None and not component.alive():
                raise AirflowStackError(
                    f"{name} exited with {component.process.returncode}:\n{_tail(component.log_path, 40)}"
                )

    # ------------------------------------------------------------------ REST API

    def api(self, method: str, path: str, body: Any = None, timeout: float = 15.0) -> Any:
        """Call the api-server (``SimpleAuthManager`` with all users admin: no token needed)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:2000]
            raise AirflowStackError(f"{method} {path} -> HTTP {exc.code}: {detail}") from exc
        return json.loads(payload) if payload else None

    def wait_for_dag(self, dag_id: str, timeout: float = 120.0) -> None:
        """Wait until the dag-processor has serialized ``dag_id`` (fail fast on an import error)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            rows = self.query(
                "SELECT d.dag_id FROM dag d JOIN serialized_dag s ON s.dag_id = d.dag_id "
                "WHERE d.dag_id = ? AND NOT d.is_stale",  # portable: SQLite 0/1 and PostgreSQL booleans
                (dag_id,),
            )
            if rows:
                return
            errors = self.import_errors()
            if errors:
                raise AirflowStackError(f"DAG import errors: {errors}")
            time.sleep(0.5)
        raise AirflowStackError(f"DAG {dag_id!r} not parsed after {timeout:.0f}s")

    def import_errors(self) -> list[dict[str, Any]]:
        """Rows of the ``import_error`` table (file and stack trace)."""
        return self.query("SELECT filename, stacktrace FROM import_error")

    def unpause_dag(self, dag_id: str) -> None:
        """Unpause a DAG through the REST API."""
        self.api("PATCH", f"/api/v2/dags/{urllib.parse.quote(dag_id)}", {"is_paused": False})

    def trigger_dag(self, dag_id: str, conf: Mapping[str, Any] | None = None, timeout: float = 120.0) -> str:
        """Wait for the DAG to be parsed, unpause it, create a manual run; return the run id."""
        self.wait_for_dag(dag_id, timeout=timeout)
        self.unpause_dag(dag_id)
        run = self.api(
            "POST",
            f"/api/v2/dags/{urllib.parse.quote(dag_id)}/dagRuns",
            {"logical_date": None, "conf": dict(conf or {})},
        )
        return str(run["dag_run_id"])

    def pool(self, name: str = "default_pool") -> dict[str, Any]:
        """A pool's slot counts from the REST API (``running_slots``, ``deferred_slots``, ...)."""
        return self.api("GET", f"/api/v2/pools/{urllib.parse.quote(name)}")

    # ------------------------------------------------------------------ metadata database

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A short-lived read-only connection to the metadata database."""
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
        conn.row_factory = sqlite3.Row
        try:
            yield conn
        finally:
            conn.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a read-only query; rows as dicts (retries briefly while a writer holds the lock)."""
        for attempt in range(20):
            try:
                with self.connect() as conn:
                    return [dict(row) for row in conn.execute(sql, tuple(params)).fetchall()]
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or attempt == 19:
                    raise
                time.sleep(0.1)
        raise AssertionError("unreachable")

    def dag_run_state(self, dag_id: str, run_id: str) -> str | None:
        """The run's state (``queued``, ``running``, ``success``, ``failed``)."""
        rows = self.query("SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", (dag_id, run_id))
        return rows[0]["state"] if rows else None

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """The run's task instances with their state, try number, pid and trigger id."""
        return self.query(
            "SELECT id, task_id, map_index, state, try_number, max_tries, pid, hostname, pool, "
            "trigger_id, next_method, start_date, end_date, queued_dttm, executor "
            "FROM task_instance WHERE dag_id = ? AND run_id = ? ORDER BY task_id, map_index",
            (dag_id, run_id),
        )

    def task_instance(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        """One task instance (raises ``KeyError`` if the scheduler has not created it yet)."""
        for ti in self.task_instances(dag_id, run_id):
            if ti["task_id"] == task_id and ti["map_index"] == map_index:
                return ti
        raise KeyError(f"{dag_id}/{run_id}/{task_id}[{map_index}]")

    def task_history(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        """Earlier tries of a task (``task_instance_history``), oldest first."""
        return self.query(
            "SELECT try_number, state, pid, start_date, end_date FROM task_instance_history "
            "WHERE dag_id = ? AND run_id = ? AND task_id = ? ORDER BY try_number",
            (dag_id, run_id, task_id),
        )

    def trigger(self, trigger_id: int) -> dict[str, Any] | None:
        """A ``trigger`` row (classpath, kwargs, the triggerer job it is assigned to)."""
        rows = self.query(
            "SELECT id, classpath, kwargs, created_date, triggerer_id FROM trigger WHERE id = ?",
            (trigger_id,),
        )
        return rows[0] if rows else None

    def triggerer_jobs(self) -> list[dict[str, Any]]:
        """Every triggerer job (one per triggerer process ever started), oldest first."""
        return self.query(
            "SELECT id, state, start_date, end_date, latest_heartbeat FROM job "
            "WHERE job_type = 'TriggererJob' ORDER BY id"
        )

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """An XCom value (JSON-decoded), or ``None`` when absent."""
        rows = self.query(
            "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = ? AND key = ? "
            "AND map_index = -1",
            (dag_id, run_id, task_id, key),
        )
        if not rows or rows[0]["value"] is None:
            return None
        value = rows[0]["value"]
        if isinstance(value, bytes):
            value = value.decode()
        return json.loads(value)

    def wait_for_dag_run(
        self,
        dag_id: str,
        run_id: str,
        timeout: float = 180.0,
        on_poll: Callable[[], None] | None = None,
        interval: float = 0.5,
    ) -> str:
        """Poll until the run is ``success`` or ``failed``; call ``on_poll()`` each time; return the state."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if on_poll is not None:
                on_poll()
            state = self.dag_run_state(dag_id, run_id)
            if state in _TERMINAL_RUN_STATES:
                return state
            time.sleep(interval)
        raise AirflowStackError(
            f"run {dag_id}/{run_id} not finished after {timeout:.0f}s; "
            f"task instances: {self.task_instances(dag_id, run_id)}"
        )

    def wait_for_task_state(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        states: Sequence[str],
        timeout: float = 120.0,
        interval: float = 0.25,
    ) -> dict[str, Any]:
        """Poll until the task instance is in one of ``states``; return its row."""
        deadline = time.monotonic() + timeout
        ti: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(KeyError):
                ti = self.task_instance(dag_id, run_id, task_id)
                if ti["state"] in states:
                    return ti
            time.sleep(interval)
        raise AirflowStackError(f"{task_id} not in {list(states)} after {timeout:.0f}s; last: {ti}")

    # ------------------------------------------------------------------ processes

    def task_processes(self) -> list[psutil.Process]:
        """Live task processes (titled ``airflow worker -- <ti id>``) started by this stack."""
        found = []
        for proc in self.stray_processes():
            title = _cmdline(proc)
            if title.startswith("airflow worker -- ") and "LocalExecutor" not in title and _is_running(proc):
                found.append(proc)
        return found

    def busy_executor_workers(self) -> list[str]:
        """Titles of LocalExecutor worker processes that are running a workload (not ``<idle>``)."""
        titles = []
        for proc in self.stray_processes():
            title = _cmdline(proc)
            if (
                title.startswith("airflow worker -- LocalExecutor")
                and not title.endswith("<idle>")
                and _is_running(proc)
            ):
                titles.append(title)
        return titles

    def kill_task_process(self, dag_id: str, run_id: str, task_id: str, sig: int = signal.SIGKILL) -> int:
        """Kill the process running a task instance (its ``pid`` in the metadata DB); return the pid.

        The pid recorded by Airflow 3 is the task process the supervisor forked; the supervisor
        sees it die and, with retries left, marks the task ``up_for_retry``.
        """
        ti = self.task_instance(dag_id, run_id, task_id)
        pid = ti["pid"]
        if not pid:
            raise AirflowStackError(f"{task_id} has no pid (state {ti['state']})")
        proc = psutil.Process(int(pid))
        if proc not in self.stray_processes():
            raise AirflowStackError(f"pid {pid} does not belong to this stack")
        proc.send_signal(sig)
        return int(pid)

    def sample_task(self, dag_id: str, run_id: str, task_id: str, attempts: int = 3) -> TaskSample:
        """Take one :class:`TaskSample` of a task instance (metadata DB, REST API, process table).

        The task instance is read before and after the pool and the process table; if its state or
        try changed in between, the sample is taken again (up to ``attempts`` times) so that the
        slot counts and processes belong to the state reported. ``consistent`` says if that worked.
        """
        sample: TaskSample | None = None
        for _ in range(attempts):
            before = self._ti_or_empty(dag_id, run_id, task_id)
            trigger = self.trigger(before["trigger_id"]) if before["trigger_id"] else None
            try:
                pool: dict[str, Any] = self.pool(before["pool"] or "default_pool")
            except (OSError, AirflowStackError):
                pool = {}
            ti_hex = _uuid_hex(before["id"]) if before["id"] else None
            procs = tuple(p.pid for p in self.task_processes() if ti_hex and _title_ti_id(p) == ti_hex)
            busy = tuple(self.busy_executor_workers())
            after = self._ti_or_empty(dag_id, run_id, task_id)
            consistent = (before["state"], before["try_number"]) == (after["state"], after["try_number"])
            sample = TaskSample(
                at=time.monotonic(),
                wall=datetime.now(UTC).isoformat(timespec="milliseconds"),
                state=before["state"],
                try_number=int(before["try_number"] or 0),
                pid=before["pid"],
                trigger_id=before["trigger_id"],
                triggerer_id=trigger["triggerer_id"] if trigger else None,
                running_slots=pool.get("running_slots"),
                queued_slots=pool.get("queued_slots"),
                deferred_slots=pool.get("deferred_slots"),
                occupied_slots=pool.get("occupied_slots"),
                busy_workers=busy,
                task_processes=procs,
                consistent=consistent,
            )
            if consistent:
                break
        assert sample is not None
        return sample

    def _ti_or_empty(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        try:
            return self.task_instance(dag_id, run_id, task_id)
        except KeyError:
            return {"id": None, "state": None, "try_number": 0, "pid": None, "trigger_id": None, "pool": None}

    def watch_task(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        timeout: float = 240.0,
        interval: float = 0.5,
        on_sample: Callable[[TaskSample], None] | None = None,
    ) -> tuple[str, list[TaskSample]]:
        """Sample a task until its run ends; return the run's final state and every sample.

        ``on_sample`` runs after each sample (e.g. to kill a component at the right moment).
        """
        samples: list[TaskSample] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sample = self.sample_task(dag_id, run_id, task_id)
            samples.append(sample)
            if on_sample is not None:
                on_sample(sample)
            state = self.dag_run_state(dag_id, run_id)
            if state in _TERMINAL_RUN_STATES:
                samples.append(self.sample_task(dag_id, run_id, task_id))
                return state, samples
            time.sleep(interval)
        raise AirflowStackError(
            f"run {dag_id}/{run_id} not finished after {timeout:.0f}s; states seen: {_transitions(samples)}"
        )

    # ------------------------------------------------------------------ logs

    def task_log(self, dag_id: str, run_id: str, task_id: str) -> str:
        """Every log file Airflow wrote for a task (all tries, trigger logs included), concatenated."""
        root = self.logs_dir / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        parts = []
        for path in sorted(root.rglob("*")) if root.exists() else []:
            if path.is_file():
                parts.append(f"===== {path.relative_to(self.logs_dir)}\n{path.read_text(errors='replace')}")
        return "\n".join(parts)

    def dump_logs(self, lines: int = 80) -> str:
        """The tail of every component's output and every task log (for a failing test's report)."""
        out = []
        for path in sorted(self.logs_dir.glob("*.out")) + sorted(self.logs_dir.glob("*.log")):
            out.append(f"===== {path.name} (last {lines} lines)\n{_tail(path, lines)}")
        for path in sorted(self.logs_dir.glob("dag_id=*/**/*")):
            if path.is_file():
                out.append(f"===== {path.relative_to(self.logs_dir)}\n{_tail(path, lines)}")
        return "\n".join(out)


def _transitions(samples: Sequence[TaskSample]) -> list[tuple[str, str | None, int]]:
    """``(wall time, state, try)`` at each change of state or try."""
    out: list[tuple[str, str | None, int]] = []
    for s in samples:
        if not out or out[-1][1:] != (s.state, s.try_number):
            out.append((s.wall, s.state, s.try_number))
    return out


def _uuid_hex(value: object) -> str:
    """A task-instance id in one form (SQLite stores UUIDs as 32 hex digits, titles show dashes)."""
    try:
        return uuid.UUID(str(value)).hex
    except ValueError:
        return str(value)


def _title_ti_id(proc: psutil.Process) -> str:
    """The task-instance id in a task process title ``airflow worker -- <ti id>``, normalised."""
    return _uuid_hex(_cmdline(proc).rpartition(" ")[2])


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<unreadable: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline()).strip()
    except psutil.Error:
        return ""


def _is_running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _process_tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _signal_tree(pid: int, sig: int) -> None:
    """Signal a process group and every descendant (task processes live in their own groups)."""
    tree = _process_tree(pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    for proc in tree:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)
