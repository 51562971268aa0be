"""Run a real, throw-away *distributed* Airflow 3 deployment: CeleryExecutor, PostgreSQL and Redis.

:class:`CeleryStack` is the multi-machine sibling of :class:`~.airflow_stack.AirflowStack` (whose REST
API, polling and process helpers it inherits). Everything runs as separate processes on this machine,
no Docker needed:

* **PostgreSQL** (metadata database and Celery result backend): ``initdb`` of a temporary data
  directory, then ``postgres`` on a free 127.0.0.1 port with its unix socket in the same temporary
  directory (as the ``postgres`` system user, or ``nobody``, when run as root: PostgreSQL refuses
  root). Durability is off (``fsync``, ``synchronous_commit``, ``full_page_writes``): it is thrown away.
* **Redis** (Celery broker): ``redis-server`` on a free port, no persistence.
* **Airflow**: ``api-server``, ``scheduler``, ``dag-processor`` and ``triggerer`` sharing one
  ``AIRFLOW_HOME`` (``<root>/home``), and N Celery workers (``airflow celery worker``), each with its
  **own** ``AIRFLOW_HOME`` (``<root>/worker-N``) and its own copy of the DAGs folder, as if on separate
  machines; they share only the metadata database, the broker, the result backend and the
  execution API (the api-server).

Binaries are looked up on ``PATH`` and in ``/usr/lib/postgresql/*/bin`` (Debian installs PostgreSQL's
server binaries there); :func:`missing_service_binaries` says what is missing (``.ci/run`` installs
the Debian packages ``postgresql`` and ``redis-server``).

Example::

    with CeleryStack(dags_folder, env={"AIRFLOW_CONN_ANAPLAN_DEFAULT": conn_json}) as stack:
        run_id = stack.trigger_dag("my_dag")
        worker = stack.worker_of_task("my_dag", run_id, "load")     # which "machine" runs it
        stack.kill_worker(worker)                                   # SIGKILL its whole tree
        stack.restart_worker(worker)
        stack.kill_triggerer(); stack.restart_triggerer()
        state = stack.wait_for_dag_run("my_dag", run_id, timeout=300)

Heartbeats are short as in :class:`AirflowStack`; in addition a task instance whose worker died is
declared dead after ``task_heartbeat_timeout`` seconds without a heartbeat (default 15 s; Airflow's
default is 300 s) and then retried, and a task stuck in ``queued`` (its message reserved by a worker
that died) is re-queued after 180 s. :meth:`CeleryStack.stop` stops every Airflow component (process
groups, every descendant, every process running under the stack's root directory), then Redis and
PostgreSQL, and deletes the root directory.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

from .airflow_stack import (
    _LIVE_STACKS,
    COMPONENTS,
    STACK_ID_ENV,
    AirflowStack,
    AirflowStackError,
    Component,
    _airflow_command,
    _cmdline,
    _is_running,
    _process_tree,
    _tail,
    _title_ti_id,
    _uuid_hex,
    free_port,
)

__all__ = [
    "INSTALL_HINT",
    "CeleryStack",
    "MissingServiceBinary",
    "PostgresServer",
    "RedisServer",
    "find_postgres_bin",
    "find_redis_server",
    "missing_service_binaries",
]

#: How to get the service binaries (said by every "missing binary" message).
INSTALL_HINT = (
    "`bash .ci/run` installs it (Debian: apt-get install -y postgresql redis-server); CI always has it"
)


class MissingServiceBinary(AirflowStackError):
    """A service binary (``initdb``/``postgres``/``redis-server``) is not installed."""

    def __init__(self, binary: str, package: str, looked_in: str) -> None:
        self.binary = binary
        self.package = package
        super().__init__(
            f"{binary} not found (Debian package {package!r}; looked in {looked_in}). {INSTALL_HINT}."
        )


# ---------------------------------------------------------------------------------------- binaries


def find_postgres_bin() -> Path:
    """The directory holding PostgreSQL's ``initdb`` and ``postgres`` (newest version first).

    ``$ANAPLAN_POSTGRES_BIN`` wins; then ``initdb`` on ``PATH``; then ``/usr/lib/postgresql/*/bin``.
    """
    candidates: list[Path] = []
    if os.environ.get("ANAPLAN_POSTGRES_BIN"):
        candidates.append(Path(os.environ["ANAPLAN_POSTGRES_BIN"]))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)

    def version(path: str) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", Path(path).parent.name)) or (0,)

    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)]
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "postgres").is_file():
            return directory
    raise MissingServiceBinary(
        "initdb", "postgresql", "$ANAPLAN_POSTGRES_BIN, PATH and /usr/lib/postgresql/*/bin"
    )


def find_redis_server() -> Path:
    """The ``redis-server`` binary (``PATH``, then ``/usr/bin`` and ``/usr/sbin``)."""
    found = shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if os.access(p, os.X_OK)), None
    )
    if not found:
        raise MissingServiceBinary("redis-server", "redis-server", "PATH, /usr/bin and /usr/sbin")
    return Path(found)


def missing_service_binaries() -> list[str]:
    """One message per missing service binary (empty when the stack can run on this machine)."""
    missing = []
    for finder in (find_postgres_bin, find_redis_server):
        try:
            finder()
        except MissingServiceBinary as exc:
            missing.append(str(exc))
    return missing


def _service_user() -> tuple[int, int] | None:
    """``(uid, gid)`` to run PostgreSQL as when this process is root (it refuses root), else None."""
    if os.geteuid() != 0:
        return None
    import pwd

    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
    raise AirflowStackError("running as root and neither a 'postgres' nor a 'nobody' user exists")


def _stop_process(process: subprocess.Popen[bytes] | None, sig: int, timeout: float) -> None:
    """Signal a service's process group, wait, then SIGKILL the group and every descendant."""
    if process is None:
        return
    tree = _process_tree(process.pid)
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    for proc in tree:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    _wait_gone(tree, timeout=5)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


# ---------------------------------------------------------------------------------------- services


class PostgresServer:
    """A throw-away PostgreSQL cluster: ``initdb`` + ``postgres`` on a free port, trust auth.

    :param root: directory for the data directory, the unix socket and ``postgres.log``.
    :param env: environment of the server processes (e.g. carrying a stack marker).
    """

    user = "airflow"
    database = "airflow"

    def __init__(self, root: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> None:
        self.root = Path(root)
        self.env = dict(env if env is not None else os.environ)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    @property
    def url(self) -> str:
        """``postgresql://airflow@127.0.0.1:PORT/airflow`` (no password: trust authentication)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    @property
    def sqlalchemy_url(self) -> str:
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _popen_user(self) -> dict[str, Any]:
        ids = _service_user()
        return {} if ids is None else {"user": ids[0], "group": ids[1], "extra_groups": []}

    def start(self, timeout: float = 60.0) -> None:
        """``initdb``, start the server, create the ``airflow`` database; raise if it fails."""
        bin_dir = find_postgres_bin()
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        ids = _service_user()
        if ids is not None:
            for path in (self.root, self.socket_dir):
                os.chown(path, *ids)
        as_user = self._popen_user()
        with self.log_path.open("ab") as log:
            initdb = subprocess.run(
                [str(bin_dir / "initdb"), "-D", str(self.data_dir), "-U", self.user, "--auth=trust",
                 "-E", "UTF8", "--locale=C", "--no-sync"],
                cwd=self.root, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                timeout=120, check=False, **as_user,
            )  # fmt: skip
        if initdb.returncode != 0:
            raise AirflowStackError(f"initdb failed (exit {initdb.returncode}):\n{_tail(self.log_path, 40)}")
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.socket_dir),
            "max_connections": "300",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "logging_collector": "off",
            "log_min_messages": "warning",
        }
        args = [str(bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                args, cwd=self.root, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True, **as_user,
            )  # fmt: skip
        self._wait_ready(timeout)
        with contextlib.closing(self.connect("postgres")) as conn:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{self.database}"')

    def _wait_ready(self, timeout: float) -> None:
        import psycopg2

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AirflowStackError(
                    f"postgres exited with {self.process.returncode}:\n{_tail(self.log_path, 40)}"
                )
            try:
                self.connect("postgres").close()
                return
            except psycopg2.OperationalError as exc:
                last = exc
            time.sleep(0.2)
        raise AirflowStackError(
            f"postgres not ready after {timeout:.0f}s ({last}):\n{_tail(self.log_path, 40)}"
        )

    def connect(self, database: str | None = None) -> Any:
        """A new ``psycopg2`` connection (caller closes it)."""
        import psycopg2

        return psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.user,
            dbname=database or self.database,
            connect_timeout=10,
        )

    def pids(self) -> list[int]:
        return [p.pid for p in _process_tree(self.process.pid)] if self.process else []

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then SIGKILL whatever is left."""
        _stop_process(self.process, signal.SIGINT, timeout=15)


class RedisServer:
    """A throw-away ``redis-server`` (no persistence) on a free 127.0.0.1 port."""

    def __init__(self, root: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> None:
        self.root = Path(root)
        self.env = dict(env if env is not None else os.environ)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.root / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30.0) -> None:
        binary = find_redis_server()
        self.root.mkdir(parents=True, exist_ok=True)
        args = [str(binary), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.root), "--protected-mode", "no",
                "--daemonize", "no", "--loglevel", "notice"]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                args, cwd=self.root, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AirflowStackError(
                    f"redis-server exited with {self.process.returncode}:\n{_tail(self.log_path, 40)}"
                )
            if self.ping():
                return
            time.sleep(0.1)
        raise AirflowStackError(f"redis-server not ready after {timeout:.0f}s:\n{_tail(self.log_path, 40)}")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def pids(self) -> list[int]:
        return [p.pid for p in _process_tree(self.process.pid)] if self.process else []

    def stop(self) -> None:
        _stop_process(self.process, signal.SIGTERM, timeout=10)


# ---------------------------------------------------------------------------------------- the stack


class CeleryStack(AirflowStack):
    """A real Airflow 3 deployment with the CeleryExecutor, PostgreSQL and Redis, all local processes.

    :param dags_folder: the DAGs folder the dag-processor parses (in place); each worker gets its own
        copy (``<worker home>/dags``), as a separate machine would.
    :param env: extra environment for every component (connections as ``AIRFLOW_CONN_*``, overrides).
    :param root: directory for everything (homes, services); default a new temporary directory.
    :param workers: number of Celery workers (``worker-1`` ... ``worker-N``).
    :param worker_concurrency: task slots per worker.
    :param task_heartbeat_timeout: seconds without a task heartbeat before the scheduler declares the
        task instance dead (``[scheduler] task_instance_heartbeat_timeout``).
    :param keep: keep the root directory after :meth:`stop` (for debugging).
    """

    def __init__(
        self,
        dags_folder: str | os.PathLike[str],
        env: Mapping[str, str] | None = None,
        *,
        root: str | os.PathLike[str] | None = None,
        workers: int = 2,
        worker_concurrency: int = 2,
        task_heartbeat_timeout: int = 15,
        keep: bool = False,
    ) -> None:
        self._own_root = root is None
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="celery-stack-"))
        super().__init__(dags_folder, env, home=self.root / "home", parallelism=32, keep_home=True)
        self.keep = keep
        self.worker_names: tuple[str, ...] = tuple(f"worker-{i}" for i in range(1, workers + 1))
        self.worker_concurrency = worker_concurrency
        self.task_heartbeat_timeout = task_heartbeat_timeout
        marker = {**os.environ, STACK_ID_ENV: self.stack_id}
        self.postgres = PostgresServer(self.root / "services" / "postgres", env=marker)
        self.redis = RedisServer(self.root / "services" / "redis", env=marker)
        self._worker_env: dict[str, dict[str, str]] = {}
        self._include_services = True
        self._down: set[str] = set()  # components killed on purpose and not started again yet

    # ------------------------------------------------------------------ configuration

    def worker_home(self, name: str) -> Path:
        """A worker's own ``AIRFLOW_HOME``."""
        if name not in self.worker_names:
            raise ValueError(f"unknown worker {name!r}; expected one of {self.worker_names}")
        return self.root / name

    @property
    def homes(self) -> list[Path]:
        """Every ``AIRFLOW_HOME``: the shared one of the central components, then each worker's."""
        return [self.home, *(self.worker_home(n) for n in self.worker_names)]

    def _build_env(self) -> dict[str, str]:
        env = super()._build_env()
        env.update(
            {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.sqlalchemy_url,
                "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "3",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": "5",
                "AIRFLOW__CELERY__BROKER_URL": self.redis.url,
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{self.postgres.sqlalchemy_url}",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
                "AIRFLOW__CELERY__SYNC_PARALLELISM": "1",
                "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "86400",
                # A worker that dies takes its task heartbeats with it: declare the task instance
                # dead (and retry it) after task_heartbeat_timeout s instead of 300 s.
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(self.task_heartbeat_timeout),
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
                "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "2",
                # A message reserved by a worker that died is re-queued after 180 s (default 600 s).
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "180",
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "10",
            }
        )
        env.update(self.extra_env)  # the caller's settings still win
        return env

    def worker_env(self, name: str) -> dict[str, str]:
        """A worker's environment: the shared one with its own home, DAGs copy, logs and ports."""
        if name not in self._worker_env:
            home = self.worker_home(name)
            env = dict(self.env)
            env.update(
                {
                    "AIRFLOW_HOME": str(home),
                    "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
                    "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
                    "AIRFLOW__LOGGING__DAG_PROCESSOR_CHILD_PROCESS_LOG_DIRECTORY": str(
                        home / "logs" / "dag_processor"
                    ),
                    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                }
            )
            for key in ("AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__LOGGING__BASE_LOG_FOLDER"):
                if key in self.extra_env:  # an explicit override applies to the workers too
                    env[key] = self.extra_env[key]
            self._worker_env[name] = env
        return self._worker_env[name]

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 240.0) -> None:
        """Start PostgreSQL and Redis, migrate, start every component and wait until all are ready."""
        _LIVE_STACKS.add(self)
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)  # the PostgreSQL user must reach its directory below
        deadline = time.monotonic() + timeout
        self.postgres.start()
        self.redis.start()
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        for name in self.worker_names:
            home = self.worker_home(name)
            (home / "logs").mkdir(parents=True, exist_ok=True)
            if not (home / "dags").exists():
                shutil.copytree(
                    self.dags_folder, home / "dags", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                )
        self.migrate(timeout=max(30.0, deadline - time.monotonic()))
        for name in COMPONENTS:
            self.start_component(name)
        for name in self.worker_names:
            self.start_component(name)
        self.wait_healthy(timeout=max(1.0, deadline - time.monotonic()))
        self.wait_workers_ready(timeout=max(1.0, deadline - time.monotonic()))

    def start_component(self, name: str) -> Component:
        """Start an Airflow component, or a Celery worker (``worker-N``) in its own home."""
        self._down.discard(name)
        if name not in self.worker_names:
            return super().start_component(name)
        current = self.components.get(name)
        if current is not None and current.alive():
            raise AirflowStackError(f"{name} is already running (pid {current.pid})")
        generation = self._log_generation.get(name, 0) + 1
        self._log_generation[name] = generation
        home = self.worker_home(name)
        log_path = home / "logs" / (f"{name}.out" if generation == 1 else f"{name}.{generation}.out")
        args = [
            *_airflow_command(), "celery", "worker",
            "--celery-hostname", f"{name}@%h",
            "--concurrency", str(self.worker_concurrency),
            "--skip-serve-logs", "--without-mingle", "--without-gossip",
        ]  # fmt: skip
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                args, env=self.worker_env(name), cwd=home, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        component = Component(name=name, process=process, log_path=log_path)
        self.components[name] = component
        return component

    def wait_workers_ready(self, timeout: float = 120.0, names: Sequence[str] | None = None) -> None:
        """Wait until each worker's current log says Celery is ``ready`` (consuming the queue)."""
        pending = list(names or self.worker_names)
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            self.check_alive(pending)
            pending = [n for n in pending if not self.worker_ready(n)]
            if pending:
                time.sleep(0.5)
        if pending:
            tails = "\n".join(f"--- {n}\n{_tail(self.components[n].log_path, 40)}" for n in pending)
            raise AirflowStackError(f"Celery workers not ready after {timeout:.0f}s: {pending}\n{tails}")

    def worker_ready(self, name: str) -> bool:
        try:
            text = self.components[name].log_path.read_text(errors="replace")
        except OSError:
            return False
        return re.search(rf"{re.escape(name)}@\S+ ready\.", text) is not None

    def restart_worker(self, name: str, wait: bool = True, timeout: float = 120.0) -> Component:
        """Start a worker again (after :meth:`kill_component`); optionally wait until it is ready."""
        component = self.restart_component(name)
        if wait:
            self.wait_workers_ready(timeout=timeout, names=[name])
        return component

    def kill_component(self, name: str, sig: int = signal.SIGKILL, timeout: float = 30.0) -> None:
        """As :meth:`AirflowStack.kill_component`; the component counts as *down on purpose* (so
        :meth:`check_alive` does not report it) until it is started again."""
        self._down.add(name)
        super().kill_component(name, sig, timeout)

    def check_alive(self, names: Sequence[str] | None = None) -> None:
        """Raise (with the log tail) if a component exited that was not killed on purpose."""
        watched = [n for n in (names or list(self.components)) if n not in self._down]
        if watched:
            super().check_alive(watched)

    def kill_worker(self, name: str) -> list[int]:
        """SIGKILL a worker's whole process tree (the "machine" dies); return the pids killed."""
        tree = _process_tree(self.components[name].pid)
        self.kill_component(name, signal.SIGKILL)
        _wait_gone(tree, timeout=10)
        return [p.pid for p in tree]

    def kill_triggerer(self) -> list[int]:
        """SIGKILL the triggerer's whole process tree (its triggers are orphaned); return the pids."""
        tree = _process_tree(self.components["triggerer"].pid)
        self.kill_component("triggerer", signal.SIGKILL)
        _wait_gone(tree, timeout=10)
        return [p.pid for p in tree]

    def restart_triggerer(self) -> Component:
        """Start a new triggerer (a new job: it takes over triggers whose triggerer stopped heartbeating)."""
        return self.restart_component("triggerer")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every Airflow component, then Redis and PostgreSQL; delete the root; idempotent."""
        if self._stopped:
            return
        self._include_services = False
        try:
            super().stop(timeout)
        finally:
            self._include_services = True
            self.redis.stop()
            self.postgres.stop()
            leftovers = self.stray_processes()
            for proc in leftovers:
                with contextlib.suppress(psutil.Error):
                    proc.kill()
            _wait_gone(leftovers, timeout=10)
            self.orphans = self.stray_processes()
            if self._own_root and not self.keep:
                shutil.rmtree(self.root, ignore_errors=True)

    def stray_processes(self) -> list[psutil.Process]:
        """Every live process of the stack: running under its root directory or carrying its id.

        While :meth:`stop` takes the Airflow components down, PostgreSQL and Redis are left out (they
        are stopped last, cleanly).
        """
        found: list[psutil.Process] = []
        me = os.getpid()
        root = str(self.root.resolve())
        services = str((self.root / "services").resolve())
        skip = set() if self._include_services else set(self.postgres.pids()) | set(self.redis.pids())
        for proc in psutil.process_iter():
            if proc.pid == me or proc.pid in skip:
                continue
            try:
                cwd = proc.cwd()
                if not self._include_services and (cwd == services or cwd.startswith(services + os.sep)):
                    continue
                ours = cwd == root or cwd.startswith(root + os.sep)
                if not ours:
                    ours = proc.environ().get(STACK_ID_ENV) == self.stack_id
                if ours and _is_running(proc):
                    found.append(proc)
            except (psutil.Error, OSError):
                continue
        return found

    # ------------------------------------------------------------------ metadata database

    @contextlib.contextmanager
    def connect(self) -> Iterator[Any]:
        """A short-lived read-only ``psycopg2`` connection to the metadata database."""
        conn = self.postgres.connect()
        try:
            conn.set_session(readonly=True, autocommit=True)
            yield conn
        finally:
            conn.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a read-only query (``?`` placeholders, as for :class:`AirflowStack`); rows as dicts."""
        from psycopg2.extras import RealDictCursor

        with self.connect() as conn, conn.cursor(cursor_factory=RealDictCursor) as cursor:
            # No parameters: the SQL goes as is (a literal % needs no escaping).
            cursor.execute(sql.replace("?", "%s") if params else sql, tuple(params) or None)
            return [dict(row) for row in cursor.fetchall()] if cursor.description else []

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """An XCom value (decoded), or ``None`` when absent."""
        rows = self.query(
            "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = ? AND key = ? "
            "AND map_index = -1",
            (dag_id, run_id, task_id, key),
        )
        if not rows or rows[0]["value"] is None:
            return None
        value = rows[0]["value"]  # a JSON column: psycopg2 has decoded it already
        if isinstance(value, bytes | memoryview):
            return json.loads(bytes(value).decode())
        return value

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        """Every run of a DAG (``run_id``, ``state``, start and end dates), oldest first."""
        return self.query(
            "SELECT run_id, state, start_date, end_date FROM dag_run WHERE dag_id = ? ORDER BY id", (dag_id,)
        )

    def tries(self, dag_id: str, run_id: str) -> dict[str, int]:
        """``{task_id: try_number}`` of a run's task instances."""
        return {ti["task_id"]: int(ti["try_number"] or 0) for ti in self.task_instances(dag_id, run_id)}

    # ------------------------------------------------------------------ processes

    def worker_of_task(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str | None:
        """The worker whose process tree runs the task instance's task process right now, if any."""
        try:
            ti = self.task_instance(dag_id, run_id, task_id, map_index)
        except KeyError:
            return None
        ti_hex = _uuid_hex(ti["id"])
        for name in self.worker_names:
            component = self.components.get(name)
            if component is None or not component.alive():
                continue
            for proc in _process_tree(component.pid):
                title = _cmdline(proc)
                if (
                    title.startswith("airflow worker -- ")
                    and _title_ti_id(proc) == ti_hex
                    and _is_running(proc)
                ):
                    return name
        return None

    def busy_executor_workers(self) -> list[str]:
        """Celery pool processes running a task supervisor (titles), for :meth:`sample_task`."""
        titles = []
        for name in self.worker_names:
            component = self.components.get(name)
            if component is None or not component.alive():
                continue
            for proc in _process_tree(component.pid):
                title = _cmdline(proc)
                if title.startswith("airflow worker -- ") and _is_running(proc):
                    titles.append(f"{name}: {title}")
        return titles

    # ------------------------------------------------------------------ logs

    def log_files(self) -> list[Path]:
        """Every log file: each home's ``logs/`` tree (component output, task and trigger logs) and
        the PostgreSQL and Redis logs."""
        files: list[Path] = []
        for home in self.homes:
            logs = home / "logs"
            files += sorted(p for p in logs.rglob("*") if p.is_file()) if logs.exists() else []
        files += [p for p in (self.postgres.log_path, self.redis.log_path) if p.exists()]
        return files

    def component_logs(self) -> dict[str, Path]:
        """The current output file of each component (workers included)."""
        return {name: c.log_path for name, c in self.components.items()}

    def task_log(self, dag_id: str, run_id: str, task_id: str) -> str:
        """Every log file written for a task in any home (all tries, trigger logs), concatenated."""
        parts = []
        for home in self.homes:
            root = home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
            for path in sorted(root.rglob("*")) if root.exists() else []:
                if path.is_file():
                    label = path.relative_to(self.root)
                    parts.append(f"===== {label}\n{path.read_text(errors='replace')}")
        return "\n".join(parts)

    def dump_logs(self, lines: int = 80) -> str:
        """The tail of every component's and service's output and of every task log."""
        out = []
        for home in self.homes:
            logs = home / "logs"
            for path in sorted(logs.glob("*.out")) + sorted(logs.glob("*.log")):
                out.append(f"===== {path.relative_to(self.root)} (last {lines} lines)\n{_tail(path, lines)}")
            for path in sorted(logs.glob("dag_id=*/**/*")):
                if path.is_file():
                    out.append(f"===== {path.relative_to(self.root)}\n{_tail(path, lines)}")
        for path in (self.postgres.log_path, self.redis.log_path):
            if path.exists():
                out.append(f"===== {path.relative_to(self.root)} (last {lines} lines)\n{_tail(path, lines)}")
        return "\n".join(out)


def _wait_gone(procs: Sequence[psutil.Process], timeout: float) -> None:
    """Wait until none of ``procs`` runs (a zombie nobody reaps counts as gone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_is_running(p) for p in procs):
        time.sleep(0.05)
