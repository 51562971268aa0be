"""Exactly once under real deployment faults: a distributed Airflow (CeleryExecutor) loses machines.

The deployment (:class:`~airflow_provider_anaplan.testing.celery_stack.CeleryStack`) is real and made
of separate processes: PostgreSQL (metadata database, Celery result backend), Redis (broker), the
api-server, scheduler, dag-processor and one triggerer sharing an ``AIRFLOW_HOME``, and two Celery
workers, each with its own ``AIRFLOW_HOME`` and copy of the DAGs, as if on two machines. The
Anaplan connections come from ``AIRFLOW_CONN_*`` environment variables in every component; the
emulator is a separate process too (the recording emulator of this package: it remembers every
token it mints, for the secret scan).

Each test runs the headline DAG (``dags/distributed_dags.py``: extract -> upload two files and run
the process "Load all", deferred -> export, sync -> download) ``ANAPLAN_DISTRIBUTED_RUNS`` times
(default 3; runs overlap, ``ANAPLAN_DISTRIBUTED_IN_FLIGHT`` at a time) and, while they run:

* SIGKILLs a whole Celery worker (main process, pool, task supervisor, task process) while it runs
  ``export_revenue`` with an in-flight Anaplan task, and restarts it after a few seconds: the
  scheduler declares the task instance dead (no heartbeat) and retries it, and the retry must
  reattach to the Anaplan task the dead try started;
* SIGKILLs the triggerer while ``load_all`` is deferred and its trigger polls Anaplan, and restarts it:
  the new triggerer takes the orphaned triggers over.

``ANAPLAN_DISTRIBUTED_KILLS`` (default: one per five runs, at least one) sets how many times each
fault is injected per test, spread over the runs. Then it asserts: every run succeeded, the emulator
counted exactly one task creation per action per run, the killed try was retried and reattached, and
no secret (password and its Basic header, OAuth client secret, every access and refresh token the
emulator minted) is in any file under the AIRFLOW_HOMEs (the components' output, task logs of every
try, trigger logs, dag-processor logs), in the PostgreSQL and Redis logs, or in any row of the
metadata database. A figure summary is printed (``-s``) and added to the session summary.

``test_headline_dag_exactly_once`` uses basic auth. ``test_oauth_rotating_dag_exactly_once`` uses
OAuth with a rotatable (single-use) refresh token and 6 s access tokens, so tokens rotate many times
across both workers' task processes and the triggerer: it needs a token store shared by all of them.

Twenty runs each: ``ANAPLAN_DISTRIBUTED_RUNS=20 .venv/bin/python -m pytest tests/integration/test_distributed.py -s``.
PostgreSQL and Redis come from Debian packages
(``postgresql``, ``redis-server``), which ``.ci/run`` installs; without them the tests skip, loudly.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import time
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_anaplan.testing.airflow_stack import AirflowStackError
from airflow_provider_anaplan.testing.celery_stack import CeleryStack, missing_service_binaries
from airflow_provider_anaplan.testing.emulator.seed import default_fixture
from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle

from .helpers import report
from .recording_emulator import minted_tokens, run_recording_emulator
from .test_secret_scan_logs import Scan

DAGS_FOLDER = Path(__file__).parent / "dags"
BASIC_DAG = "dist_anaplan_end_to_end"
OAUTH_DAG = "dist_anaplan_end_to_end_oauth"
#: Seed ids of the process "Load all" and the revenue export (dags/distributed_dags.py).
LOAD_ALL, EXPORT_REVENUE = "118000000000", "116000000000"
ACTIONS = (LOAD_ALL, EXPORT_REVENUE)

RUNS = int(os.environ.get("ANAPLAN_DISTRIBUTED_RUNS", "3"))
KILLS = int(os.environ.get("ANAPLAN_DISTRIBUTED_KILLS", "0")) or max(1, RUNS // 5)
IN_FLIGHT = int(os.environ.get("ANAPLAN_DISTRIBUTED_IN_FLIGHT", "3"))
#: Every Anaplan task lasts at least this long in the emulator: the windows the faults aim at.
TASK_SECONDS = 4.0
#: How long a killed worker or triggerer stays down before it is started again.
DOWN_FOR = 3.0
#: A trigger must have been polling this long before the triggerer is killed under it.
DEFERRED_BEFORE_KILL = 1.5
#: Access-token lifetime during the OAuth test (the provider refreshes at half of it).
OAUTH_TOKEN_TTL = 6.0
OAUTH_CLIENT_ID = "airflow-distributed-test"
#: Wall-clock budget of one test's runs.
CAMPAIGN_TIMEOUT = 150.0 + 45.0 * RUNS
#: Fail early when no task instance of the runs in flight changed state or try for this long.
STALL_TIMEOUT = 150.0

pytestmark = [pytest.mark.slow, pytest.mark.timeout(int(CAMPAIGN_TIMEOUT) * 2 + 600)]


class SharedOAuthStorePending(AssertionError):
    """The OAuth runs failed and Anaplan refused spent refresh tokens: the processes did not share them."""


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def service_binaries() -> None:
    """Skip, loudly, when PostgreSQL or Redis is not installed (CI always has them)."""
    missing = missing_service_binaries()
    if missing:
        message = "DISTRIBUTED DEPLOYMENT TEST NOT RUN: " + " | ".join(missing)
        report(f"{'!' * 100}\n{message}\n{'!' * 100}")  # also in the session summary
        warnings.warn(message, UserWarning, stacklevel=1)  # and in pytest's warnings summary
        pytest.skip(message)


@dataclass(frozen=True)
class OAuthGrant:
    client_id: str
    client_secret: str
    refresh_token: str
    access_token: str


@dataclass
class Deployment:
    stack: CeleryStack
    emulator: EmulatorHandle
    password: str
    oauth: OAuthGrant
    out: Path
    started_in: float


@pytest.fixture(scope="module")
def deployment(service_binaries: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The emulator (its own process) and the whole distributed Airflow, for both tests."""
    password = "pw-SENTINEL-" + secrets.token_urlsafe(24)
    fixture = default_fixture()
    (user,) = fixture["users"]
    user["password"] = password
    with run_recording_emulator(fixture, user=user["email"], password=password) as emulator:
        client_secret = "cs-SENTINEL-" + secrets.token_urlsafe(24)
        emulator.admin.register_oauth_client(OAUTH_CLIENT_ID, rotatable=True, client_secret=client_secret)
        pair = emulator.admin.issue_oauth_tokens(OAUTH_CLIENT_ID)
        oauth = OAuthGrant(OAUTH_CLIENT_ID, client_secret, pair["refresh_token"], pair["access_token"])
        out = tmp_path_factory.mktemp("distributed-out")
        oauth_conn = emulator.airflow_connection(
            auth_type="oauth",
            client_id=oauth.client_id,
            client_secret=oauth.client_secret,
            refresh_token=oauth.refresh_token,
            refresh_rotates=True,  # the refresh token is single-use (formerly ``rotatable_token``)
        )
        env = {
            "AIRFLOW_CONN_ANAPLAN_DEFAULT": emulator.airflow_connection(),
            "AIRFLOW_CONN_ANAPLAN_OAUTH": oauth_conn,
            "ANAPLAN_DISTRIBUTED_OUT": str(out),
        }
        keep = os.environ.get("ANAPLAN_DISTRIBUTED_KEEP") == "1"  # keep the stack's directory to debug
        stack = CeleryStack(DAGS_FOLDER, env=env, workers=2, worker_concurrency=3, keep=keep)
        started = time.monotonic()
        try:
            stack.start(timeout=300)
        except BaseException:
            print(stack.dump_logs(lines=60))
            stack.stop()
            raise
        started_in = time.monotonic() - started
        report(
            f"[distributed] PostgreSQL + Redis + api-server, scheduler, dag-processor, triggerer and "
            f"{len(stack.worker_names)} Celery workers healthy {started_in:.1f} s after start"
        )
        try:
            yield Deployment(stack, emulator, password, oauth, out, started_in)
        finally:
            stack.stop()
            assert not stack.orphans, f"processes left after teardown: {stack.orphans}"


@contextlib.contextmanager
def logs_on_failure(stack: CeleryStack) -> Iterator[None]:
    """Print every component's log tail when the block fails."""
    try:
        yield
    except BaseException:
        print("\n===== distributed stack logs (test failed)\n" + stack.dump_logs(lines=100))
        raise


# ------------------------------------------------------------------------------------------ the runs


@dataclass
class Campaign:
    """N runs of one DAG with worker and triggerer kills injected while they run."""

    stack: CeleryStack
    emulator: EmulatorHandle
    dag_id: str
    runs: int
    kills: int
    in_flight: int
    run_ids: list[str] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)
    worker_kills: list[dict[str, Any]] = field(default_factory=list)
    triggerer_kills: list[dict[str, Any]] = field(default_factory=list)
    restarts: dict[str, float] = field(default_factory=dict)  # component -> when to start it again
    deferred_since: dict[tuple[str, int], float] = field(default_factory=dict)
    wall: float = 0.0

    def execute(self, timeout: float = CAMPAIGN_TIMEOUT, stall_timeout: float = STALL_TIMEOUT) -> None:
        started = time.monotonic()
        active: list[str] = []
        progress: tuple[Any, ...] = ()
        progressed_at = checked_at = started
        while len(self.states) < self.runs:
            now = time.monotonic()
            if now - checked_at >= 5.0:
                checked_at = now
                snapshot = (
                    len(self.states),
                    *sorted(
                        (r, ti["task_id"], ti["state"], ti["try_number"])
                        for r in active
                        for ti in self.stack.task_instances(self.dag_id, r)
                    ),
                )
                if snapshot != progress:
                    progress, progressed_at = snapshot, now
            stalled = now - progressed_at > stall_timeout and not self.restarts
            if now - started > timeout or stalled:
                why = f"no task changed for {stall_timeout:.0f}s" if stalled else f"after {timeout:.0f}s"
                raise AirflowStackError(
                    f"{self.dag_id}: {len(self.states)}/{self.runs} runs finished, {why}; "
                    f"unfinished tasks and the last line of their logs:\n{self.stuck(active)}"
                )
            while len(self.run_ids) < self.runs and len(active) < self.in_flight:
                run_id = self.stack.trigger_dag(self.dag_id)
                self.run_ids.append(run_id)
                active.append(run_id)
            for run_id in list(active):
                state = self.stack.dag_run_state(self.dag_id, run_id)
                if state in ("success", "failed"):
                    self.states[run_id] = state
                    active.remove(run_id)
            self.restart_due()
            if active:
                self.maybe_kill_worker(active)
                self.maybe_kill_triggerer(active)
            time.sleep(0.4)
        # A component killed near the end is started again all the same.
        while self.restarts:
            time.sleep(max(0.0, min(self.restarts.values()) - time.monotonic()))
            self.restart_due()
        self.stack.wait_workers_ready(timeout=120)
        self.stack.wait_healthy(timeout=120)
        self.wall = time.monotonic() - started

    def stuck(self, active: list[str]) -> str:
        """Each unfinished task instance of ``active`` runs with the last event of its logs."""
        lines = []
        for run_id in active:
            for ti in self.stack.task_instances(self.dag_id, run_id):
                if ti["state"] in ("success", "failed", "skipped", "upstream_failed"):
                    continue
                last = ""
                for line in reversed(self.stack.task_log(self.dag_id, run_id, ti["task_id"]).splitlines()):
                    if line.startswith("{"):
                        with contextlib.suppress(ValueError):
                            last = str(json.loads(line).get("event", ""))[:300]
                            break
                lines.append(f"  {run_id} {ti['task_id']} {ti['state']} try {ti['try_number']}: {last!r}")
        return "\n".join(lines)

    def _due(self, done_kills: int) -> bool:
        """Kill number k (0-based) is due once k/kills of the runs have finished."""
        return done_kills < self.kills and len(self.states) >= done_kills * self.runs / self.kills

    def restart_due(self) -> None:
        now = time.monotonic()
        for name, when in list(self.restarts.items()):
            if now >= when:
                del self.restarts[name]
                if name in self.stack.worker_names:
                    self.stack.restart_worker(name, wait=False)
                else:
                    self.stack.restart_triggerer()

    def maybe_kill_worker(self, active: list[str]) -> None:
        if not self._due(len(self.worker_kills)) or any(n in self.restarts for n in self.stack.worker_names):
            return
        if not all(self.stack.worker_ready(n) for n in self.stack.worker_names):
            return  # the last victim is still starting
        for run_id in active:
            try:
                ti = self.stack.task_instance(self.dag_id, run_id, "export_revenue")
            except KeyError:
                continue
            if ti["state"] != "running":
                continue
            anaplan_task = self.stack.xcom(self.dag_id, run_id, "export_revenue", key="anaplan_task_id")
            if not anaplan_task:
                continue  # the try has not started (and recorded) its Anaplan task yet
            tasks = {t["taskId"]: t for t in self.emulator.admin.tasks().get(EXPORT_REVENUE, [])}
            anaplan_state = tasks.get(anaplan_task, {}).get("taskState")
            if anaplan_state not in ("NOT_STARTED", "IN_PROGRESS"):
                continue
            worker = self.stack.worker_of_task(self.dag_id, run_id, "export_revenue")
            if worker is None:
                continue
            pids = self.stack.kill_worker(worker)
            self.worker_kills.append(
                {
                    "worker": worker,
                    "run_id": run_id,
                    "task_id": "export_revenue",
                    "try": int(ti["try_number"]),
                    "anaplan_task": anaplan_task,
                    "anaplan_state": anaplan_state,
                    "processes": len(pids),
                    "at": time.monotonic(),
                }
            )
            self.restarts[worker] = time.monotonic() + DOWN_FOR
            return

    def maybe_kill_triggerer(self, active: list[str]) -> None:
        if not self._due(len(self.triggerer_kills)) or "triggerer" in self.restarts:
            return
        if not self.stack.components["triggerer"].alive():
            return
        now = time.monotonic()
        for run_id in active:
            try:
                ti = self.stack.task_instance(self.dag_id, run_id, "load_all")
            except KeyError:
                continue
            if ti["state"] != "deferred" or not ti["trigger_id"]:
                continue
            trigger = self.stack.trigger(ti["trigger_id"])
            if not trigger or trigger["triggerer_id"] is None:
                continue
            since = self.deferred_since.setdefault((run_id, int(ti["try_number"])), now)
            if now - since < DEFERRED_BEFORE_KILL:
                continue
            anaplan_task = self.stack.xcom(self.dag_id, run_id, "load_all", key="anaplan_task_id")
            self.stack.kill_triggerer()
            self.triggerer_kills.append(
                {
                    "run_id": run_id,
                    "task_id": "load_all",
                    "triggerer_job": trigger["triggerer_id"],
                    "anaplan_task": anaplan_task,
                    "deferred_for": now - since,
                    "at": time.monotonic(),
                }
            )
            self.restarts["triggerer"] = time.monotonic() + DOWN_FOR
            return


# ------------------------------------------------------------------------------------------ checks


def secrets_of(deployment: Deployment) -> dict[str, str]:
    """Name -> secret: password, its Basic header, the OAuth client secret, every minted token."""
    emulator = deployment.emulator
    out = {
        "sentinel password": deployment.password,
        "Basic header with the sentinel password": base64.b64encode(
            f"{emulator.user}:{deployment.password}".encode()
        ).decode(),
        "OAuth client secret": deployment.oauth.client_secret,
        "issued OAuth refresh token": deployment.oauth.refresh_token,
        "issued OAuth access token": deployment.oauth.access_token,
    }
    for kind, tokens in minted_tokens(emulator).items():
        out.update({f"{kind} token #{i}": token for i, token in enumerate(tokens)})
    return out


def scan_deployment(stack: CeleryStack, secrets_by_name: Mapping[str, str]) -> Scan:
    """Every file under each AIRFLOW_HOME, the service logs, and every row of the metadata database.

    Left out: the DAG copies, and ``<home>/anaplan/`` (the provider's local secret store for
    rotated OAuth tokens, mode 0600 by design; not a log).
    """
    scan = Scan(secrets_by_name)
    for home in stack.homes:
        for path in sorted(p for p in home.rglob("*") if p.is_file()):
            relative = path.relative_to(home).parts
            if relative[0] in ("dags", "anaplan"):
                continue
            scan.file(path, stack.root)
    for path in (stack.postgres.log_path, stack.redis.log_path):
        scan.file(path, stack.root)
    tables = [r["table_name"] for r in stack.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
    )]  # fmt: skip
    for table in tables:
        for n, row in enumerate(stack.query(f'SELECT t::text AS row FROM "{table}" t'), 1):
            scan.cells += 1
            scan.search(f"metadata DB table {table} row {n}", row["row"].encode(), lines=False)
    return scan


def reattached(stack: CeleryStack, dag_id: str, run_id: str, task_id: str, anaplan_task: str) -> bool:
    return f"Reattaching to Anaplan task {anaplan_task}" in stack.task_log(dag_id, run_id, task_id)


def check_and_report(deployment: Deployment, campaign: Campaign, label: str) -> None:
    """The shared assertions (runs, exactly-once, faults, secrets) and the figure summary."""
    stack, emulator = deployment.stack, deployment.emulator
    counters = emulator.admin.counters()
    created = {k: v for k, v in counters["tasks_created"].items()}
    failed = [r for r, s in campaign.states.items() if s != "success"]
    tries = {r: stack.tries(campaign.dag_id, r) for r in campaign.run_ids}
    retried = Counter(t for per_run in tries.values() for t, n in per_run.items() if n > 1)

    scan = scan_deployment(stack, secrets_of(deployment))
    reattaches = [
        k for k in campaign.worker_kills
        if reattached(stack, campaign.dag_id, k["run_id"], k["task_id"], k["anaplan_task"])
    ]  # fmt: skip
    summary = (
        f"[distributed {label}] {campaign.runs} runs of {campaign.dag_id} ({campaign.in_flight} in flight): "
        f"{campaign.runs - len(failed)} success, {len(failed)} failed; kills: {len(campaign.worker_kills)} worker "
        f"(SIGKILL whole tree; {len(reattaches)} retries reattached), {len(campaign.triggerer_kills)} triggerer; "
        f"task creations per action {created} (expected {campaign.runs} each); retried tasks {dict(retried)}; "
        f"authentications {counters['authentications']}, auth failures {counters['auth_failures']}; "
        f"secret scan {len(scan.files)} files / {scan.bytes_read:,} bytes / {scan.cells} DB rows, "
        f"{len(scan.secrets)} secrets, {len(scan.findings)} findings; wall time {campaign.wall:.1f} s "
        f"(stack start {deployment.started_in:.1f} s)"
    )
    report(summary)
    for kill in campaign.worker_kills:
        report(f"  worker kill: {kill}")
    for kill in campaign.triggerer_kills:
        report(f"  triggerer kill: {kill}")

    if scan.findings:
        pytest.fail(
            f"{len(scan.findings)} secret(s) or clear credential(s) found (values redacted):\n"
            + "\n".join(scan.findings[:100]),
            pytrace=False,
        )
    if failed and label == "oauth" and counters["auth_failures"].get("oauth_refresh", 0):
        raise SharedOAuthStorePending(
            f"{len(failed)}/{campaign.runs} OAuth runs failed and the emulator refused "
            f"{counters['auth_failures']['oauth_refresh']} refresh(es) of already-rotated tokens: the "
            f"workers and the triggerer do not share the rotating refresh token yet\n{summary}"
        )
    assert not failed, f"failed runs: {[(r, tries[r]) for r in failed]}\n{summary}"
    # The connections came from the environment of each component, never from the metadata DB.
    assert not stack.query("SELECT conn_id FROM connection WHERE conn_id LIKE ?", ("anaplan%",))
    assert created == {a: campaign.runs for a in ACTIONS}, f"not exactly once: {created}\n{summary}"
    assert len(campaign.worker_kills) == campaign.kills, f"worker kills: {campaign.worker_kills}"
    assert len(campaign.triggerer_kills) == campaign.kills, f"triggerer kills: {campaign.triggerer_kills}"
    for kill in campaign.worker_kills:
        final = tries[kill["run_id"]][kill["task_id"]]
        assert final > kill["try"], f"the killed try was not retried: {kill}, tries {tries[kill['run_id']]}"
    assert len(reattaches) == len(campaign.worker_kills), (
        f"a retry did not reattach to the Anaplan task of the killed try: {campaign.worker_kills}"
    )
    exports = [deployment.out / campaign.dag_id / r / "revenue_export.csv" for r in campaign.run_ids]
    sizes = {p.stat().st_size if p.exists() else 0 for p in exports}
    assert len(sizes) == 1 and 0 not in sizes, f"exported files differ or are missing: {sizes}"
    assert not scan.findings
    # Not vacuous: the scan read both workers' task logs and the triggerer's trigger logs.
    scanned = {str(p) for p in scan.files}
    for name in stack.worker_names:
        assert any(f"/{name}/logs/dag_id={campaign.dag_id}/" in p for p in scanned), f"no task log of {name}"
    assert any(".log.trigger." in p for p in scanned), "no trigger log scanned"


def run_campaign(deployment: Deployment, dag_id: str) -> Campaign:
    emulator = deployment.emulator
    emulator.admin.clear_faults()
    emulator.admin.reset_counters()
    campaign = Campaign(deployment.stack, emulator, dag_id, RUNS, KILLS, IN_FLIGHT)
    campaign.execute()
    return campaign


# ------------------------------------------------------------------------------------------ tests


def test_headline_dag_exactly_once(deployment: Deployment) -> None:
    """Basic auth: every run succeeds through worker and triggerer kills; one task per action per run."""
    deployment.emulator.admin.configure(min_task_seconds=TASK_SECONDS, token_ttl_seconds=2100.0)
    with logs_on_failure(deployment.stack):
        campaign = run_campaign(deployment, BASIC_DAG)
        check_and_report(deployment, campaign, "basic")


def test_oauth_rotating_dag_exactly_once(deployment: Deployment) -> None:
    """OAuth, rotatable refresh token, 6 s access tokens: the same guarantees while tokens rotate
    across both workers and the triggerer."""
    deployment.emulator.admin.configure(min_task_seconds=TASK_SECONDS, token_ttl_seconds=OAUTH_TOKEN_TTL)
    try:
        with logs_on_failure(deployment.stack):
            campaign = run_campaign(deployment, OAUTH_DAG)
            check_and_report(deployment, campaign, "oauth")
    finally:
        deployment.emulator.admin.configure(token_ttl_seconds=2100.0)
