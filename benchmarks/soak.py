"""Fault soak: upload -> import -> export -> download cycles under injected faults, verifying every byte.

Starts the emulator as a subprocess with an extra list + module (``SoakItems`` x 12 months), then runs
``--cycles`` cycles with the sync :class:`AnaplanClient`:

1. upload a fresh CSV (``Item,Month,Value``, new random values each cycle, several 1 MB chunks, gzip);
2. run the module import and wait;
3. run the module export and download its file (several export chunks);
4. verify: the file Anaplan holds == the upload, the exported download == the upload, the module's
   cells == the uploaded values, and the emulator counted exactly one task creation per action.

Faults (``--fault-rate`` of bulk API requests, split 30 % 429 with ``Retry-After``, 20 % 500, 20 % 503,
15 % dropped connections, 15 % slow responses) plus *ambiguous* failures of task creation (the task is
created, then the answer is replaced by a 503 or a dropped connection, at ``2 x --fault-rate`` of task
POSTs), a short token lifetime (``--token-ttl``: proactive refresh) and every ``--expire-every``-th cycle
all tokens expired by the admin API in the middle of the upload or of the download (401 -> re-auth and
replay).

Usage::

    .venv/bin/python benchmarks/soak.py --cycles 50 --fault-rate 0.10
    .venv/bin/python benchmarks/soak.py --cycles 8 --items 3000 --json soak.json

The same code runs at a small size in ``tests/reliability/test_soak.py``.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from airflow_provider_anaplan.client import (  # noqa: E402
    AnaplanClient,
    BasicCredentials,
    ClientConfig,
    RetryPolicy,
    clear_token_cache,
)
from airflow_provider_anaplan.testing.emulator.seed import DEFAULT_FIXTURE, MODEL_ID, WORKSPACE_ID  # noqa: E402
from airflow_provider_anaplan.testing.pytest_plugin import (  # noqa: E402
    EmulatorAdmin,
    EmulatorHandle,
    run_emulator_subprocess,
)

LIST_ID = "101000000101"
MODULE_ID = "102000000101"
FILE_ID = "113000000101"
IMPORT_ID = "112000000101"
EXPORT_ID = "116000000101"
MONTHS = [f"{m} 26" for m in ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")]
HEADER = "Item,Month,Value\n"
#: share of the injected bulk-request faults per kind (sums to 1)
FAULT_MIX = {"429": 0.30, "500": 0.20, "503": 0.20, "drop": 0.15, "slow": 0.15}
#: log messages (client core) that mean "a request or a task creation was retried / replayed"
RETRY_MARKERS = {
    "http_retry": "; retry ",
    "reauth_replay": "answered 401; re-authenticating once and replaying",
    "task_adopted": "is the one this start created; using it",
    "task_start_unknown": "it is unknown whether Anaplan created a task",
}


def item_name(index: int) -> str:
    return f"I{index:05d}"


def soak_fixture(items: int) -> dict[str, Any]:
    """The default seed plus the soak list (``items`` members), module, file, import and export."""
    fixture = copy.deepcopy(DEFAULT_FIXTURE)
    model = next(m for m in fixture["models"] if m["id"] == MODEL_ID)
    model["lists"].append({"id": LIST_ID, "name": "SoakItems", "items": [item_name(i) for i in range(items)]})
    model["modules"].append(
        {
            "id": MODULE_ID,
            "name": "SoakValues",
            "lineItem": "Value",
            "dataType": "number",
            "dimensions": [{"name": "Item", "list": LIST_ID}, {"name": "Month", "items": MONTHS}],
        }
    )
    model["files"].append({"id": FILE_ID, "name": "soak.csv"})
    model["imports"].append(
        {
            "id": IMPORT_ID,
            "name": "SoakValues from soak.csv",
            "fileId": FILE_ID,
            "target": MODULE_ID,
            "columns": {"Item": "Item", "Month": "Month", "Value": "value"},
        }
    )
    model["exports"].append(
        {
            "id": EXPORT_ID,
            "name": "SoakValues.csv",
            "source": MODULE_ID,
            "columns": {"Item": "Item", "Month": "Month", "Value": "value"},
        }
    )
    return fixture


def make_payload(items: int, rng: random.Random) -> tuple[bytes, dict[tuple[str, str], float]]:
    """CSV bytes in the export's order (item, then month) and the values they carry.

    Values are integers or one-decimal numbers, written the way the export renders them, so the
    exported file must be byte-identical to the upload.
    """
    lines = [HEADER]
    values: dict[tuple[str, str], float] = {}
    for i in range(items):
        name = item_name(i)
        for month in MONTHS:
            if rng.random() < 0.5:
                value: float = float(rng.randrange(1, 10_000_000))
                text = str(int(value))
            else:
                value = rng.randrange(1, 10_000_000) + 0.5
                text = repr(value)
            values[(name, month)] = value
            lines.append(f"{name},{month},{text}\n")
    return "".join(lines).encode(), values


# --------------------------------------------------------------------------------------- fault plan


def install_faults(admin: EmulatorAdmin, fault_rate: float, retry_after: float, seed: int) -> None:
    """Scripted ambiguous task-creation faults first, then the rate-based faults on bulk requests."""
    admin.clear_faults()
    if fault_rate <= 0:
        return
    tasks_post = r"^/2/0/.*/(imports|exports)/\d+/tasks$"
    # Deterministic first: the first import and the first export task POST fail ambiguously (the task
    # is created, the answer is lost), so every run exercises adoption instead of a second POST.
    admin.add_fault(method="POST", path_regex=rf"/imports/{IMPORT_ID}/tasks$", drop=True, when="after", count=1)
    admin.add_fault(method="POST", path_regex=rf"/exports/{EXPORT_ID}/tasks$", status=503, when="after", count=1)
    ambiguous = min(0.5, 2 * fault_rate)
    admin.add_fault(method="POST", path_regex=tasks_post, status=503, when="after", rate=ambiguous / 2)
    admin.add_fault(method="POST", path_regex=tasks_post, drop=True, when="after", rate=ambiguous / 2)
    # Rules are tried in order and each draws its own chance: convert the wanted overall shares into
    # conditional probabilities so that about ``fault_rate`` of bulk requests get one fault.
    # Random faults spare the task list and task POSTs: a POST that fails *before* reaching Anaplan is
    # indistinguishable from one that failed after it, so the client reports such a start as unknown
    # rather than risk a second task (an operator resolves it on its next try). Ambiguous task POSTs
    # are injected by the scripted "after" rules above, where the task really was created.
    bulk = r"^/2/0/(?!workspaces/[^/]+/models/[^/]+/(imports|exports|actions|processes)/[^/]+/tasks$)"
    remaining = 1.0
    for kind, share in FAULT_MIX.items():
        p = fault_rate * share / remaining
        remaining -= fault_rate * share
        if kind == "slow":
            admin.add_fault(path_regex=bulk, delay_ms=400, rate=p)
        elif kind == "drop":
            admin.add_fault(path_regex=bulk, drop=True, rate=p)
        else:
            admin.add_fault(path_regex=bulk, status=int(kind), rate=p, retry_after=retry_after)
    admin.set_faults(seed=seed)  # seeds the emulator's fault RNG (keeps the scripted rules)


class ExpiringTransport(httpx.AsyncBaseTransport):
    """Test transport: counts requests and, when armed, expires every token just before one request.

    ``arm(suffix)``: the next request whose ``METHOD path`` ends with ``suffix`` is preceded by the
    admin call ``expire_tokens`` (the request then carries a dead token: 401 -> re-auth and replay).
    """

    def __init__(self, admin_url: str) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._admin_url = admin_url
        self._armed: str | None = None
        self._lock = threading.Lock()
        self.requests = 0
        self.expired = 0

    def arm(self, pattern: str) -> None:
        with self._lock:
            self._armed = pattern

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        target = f"{request.method} {request.url.path}"
        fire = False
        with self._lock:
            if self._armed is not None and target.endswith(self._armed):
                self._armed, fire = None, True
        if fire:
            async with httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(), timeout=10) as admin:
                (await admin.post(f"{self._admin_url}/_emulator/tokens/expire", json={"kind": "access"})).raise_for_status()
            self.expired += 1
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class RetryLogCounter(logging.Handler):
    """Counts the client's WARNING records that mean a retry, a 401 replay or an adopted task."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()
        self.other: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        for kind, marker in RETRY_MARKERS.items():
            if marker in message:
                self.counts[kind] += 1
                return
        self.other.append(message)


@contextmanager
def counting_retries() -> Iterator[RetryLogCounter]:
    logger = logging.getLogger("airflow_provider_anaplan")
    handler = RetryLogCounter()
    old_level = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.WARNING:
        logger.setLevel(logging.WARNING)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


# --------------------------------------------------------------------------------------- the soak


@dataclass
class CycleResult:
    """One verified cycle."""

    index: int
    upload_bytes: int
    export_bytes: int
    seconds: float
    import_tasks: int
    export_tasks: int
    expired_tokens_at: str | None


@dataclass
class SoakReport:
    """What the soak measured (printed by :func:`format_report`)."""

    cycles_requested: int
    cycles_completed: int = 0
    bytes_uploaded: int = 0
    bytes_verified: int = 0
    upload_file_matches: int = 0
    export_matches: int = 0
    module_matches: int = 0
    cells_verified: int = 0
    tasks_created: dict[str, int] = field(default_factory=dict)
    tasks_per_cycle: dict[str, list[int]] = field(default_factory=dict)
    retries: dict[str, int] = field(default_factory=dict)
    other_warnings: int = 0
    bulk_requests: int = 0
    faults_injected: dict[str, int] = field(default_factory=dict)
    fault_fraction: float = 0.0
    authentications: dict[str, int] = field(default_factory=dict)
    forced_token_expiries: int = 0
    client_requests: int = 0
    wall_seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    cycles: list[CycleResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.failures
            and self.cycles_completed == self.cycles_requested
            and self.export_matches == self.cycles_completed
            and self.module_matches == self.cycles_completed
            and self.upload_file_matches == self.cycles_completed
            and all(n == 1 for counts in self.tasks_per_cycle.values() for n in counts)
        )


def _tasks_created(admin: EmulatorAdmin) -> Counter[str]:
    return Counter({k: int(v) for k, v in admin.counters().get("tasks_created", {}).items()})


def _module_values(admin: EmulatorAdmin) -> dict[tuple[str, str], float]:
    return {(c["Item"], c["Month"]): float(c["value"]) for c in admin.module_cells(MODULE_ID)}


def run_soak(
    cycles: int = 50,
    *,
    fault_rate: float = 0.10,
    items: int = 8000,
    seed: int = 20260619,
    retry_after: float = 1.0,
    token_ttl: float = 30.0,
    expire_every: int = 5,
    emulator: EmulatorHandle | None = None,
    progress: Callable[[str], None] | None = print,
) -> SoakReport:
    """Run the soak (against ``emulator`` or a fresh emulator subprocess) and return the report."""
    if emulator is None:
        with run_emulator_subprocess(fixture=soak_fixture(items)) as emu:
            return run_soak(
                cycles,
                fault_rate=fault_rate,
                items=items,
                seed=seed,
                retry_after=retry_after,
                token_ttl=token_ttl,
                expire_every=expire_every,
                emulator=emu,
                progress=progress,
            )
    say = progress or (lambda _msg: None)
    admin = emulator.admin
    admin.configure(token_ttl_seconds=token_ttl, export_chunk_size=256 * 1024, rows_per_second=400_000)
    admin.reset_counters()
    install_faults(admin, fault_rate, retry_after, seed)
    clear_token_cache()
    rng = random.Random(seed)
    transport = ExpiringTransport(emulator.url)
    config = ClientConfig(
        credentials=BasicCredentials(emulator.user, emulator.password),
        workspace_id=WORKSPACE_ID,
        model_id=MODEL_ID,
        api_url=emulator.api_url,
        auth_url=emulator.auth_url,
        oauth_url=emulator.oauth_url,
        chunk_size_mb=1,
        max_concurrency=4,
        timeout=30.0,
        poll_interval=0.1,
        retry=RetryPolicy(max_attempts=8, backoff_initial=0.05, backoff_max=0.5, retry_after_max=5.0),
    )
    report = SoakReport(cycles_requested=cycles)
    report.tasks_per_cycle = {IMPORT_ID: [], EXPORT_ID: []}
    started = time.monotonic()
    with counting_retries() as retries, AnaplanClient(config, transport=transport) as client:
        for index in range(1, cycles + 1):
            t0 = time.monotonic()
            payload, values = make_payload(items, rng)
            before = _tasks_created(admin)
            expired_at = None
            if expire_every and index % expire_every == 0:
                # Alternate: expire all tokens before the 2nd upload chunk, or before the 2nd export chunk.
                if (index // expire_every) % 2:
                    expired_at, pattern = "upload chunk 1", f"/files/{FILE_ID}/chunks/1"
                else:
                    expired_at, pattern = "download chunk 1", f"/files/{EXPORT_ID}/chunks/1"
                transport.arm(pattern)
            try:
                sent = client.upload_file(FILE_ID, payload)
                held = admin.file_content(FILE_ID)
                status = client.run_action(IMPORT_ID)
                downloaded = client.export_and_download(EXPORT_ID)
            except Exception as exc:  # report, do not hide: the soak's verdict is the report
                report.failures.append(f"cycle {index}: {type(exc).__name__}: {exc}")
                say(f"cycle {index}: FAILED {type(exc).__name__}: {exc}")
                break
            after = _tasks_created(admin)
            assert isinstance(downloaded, bytes)
            problems = []
            if sent != len(payload):
                problems.append(f"upload reported {sent} bytes, payload is {len(payload)}")
            if held == payload:
                report.upload_file_matches += 1
            else:
                problems.append(f"file {FILE_ID} holds {len(held)} bytes that differ from the upload")
            if not status.is_success:  # type: ignore[union-attr]
                problems.append(f"import not successful: {status.summary()}")  # type: ignore[union-attr]
            if downloaded == payload:
                report.export_matches += 1
                report.bytes_verified += len(downloaded)
            else:
                problems.append(f"export download ({len(downloaded)} B) differs from the upload ({len(payload)} B)")
            cells = _module_values(admin)
            if cells == values:
                report.module_matches += 1
                report.cells_verified += len(cells)
            else:
                diff = sum(1 for k in values.keys() | cells.keys() if values.get(k) != cells.get(k))
                problems.append(f"module {MODULE_ID}: {diff} cells differ from the upload")
            per_action = {aid: after[aid] - before[aid] for aid in (IMPORT_ID, EXPORT_ID)}
            for aid, n in per_action.items():
                report.tasks_per_cycle[aid].append(n)
                if n != 1:
                    problems.append(f"{n} task creations of {aid} in this cycle (expected exactly 1)")
            seconds = time.monotonic() - t0
            report.cycles.append(
                CycleResult(index, len(payload), len(downloaded), round(seconds, 3),
                            per_action[IMPORT_ID], per_action[EXPORT_ID], expired_at)
            )
            report.bytes_uploaded += len(payload)
            report.cycles_completed += 1
            if problems:
                report.failures.extend(f"cycle {index}: {p}" for p in problems)
            say(
                f"cycle {index:3d}/{cycles}: {len(payload) / 1e6:.2f} MB up, {len(downloaded) / 1e6:.2f} MB down, "
                f"tasks {per_action[IMPORT_ID]}+{per_action[EXPORT_ID]}, {seconds:.2f} s"
                f"{', tokens expired at ' + expired_at if expired_at else ''}"
                f"{' PROBLEMS: ' + '; '.join(problems) if problems else ''}"
            )
        report.retries = dict(retries.counts)
        report.other_warnings = len(retries.other)
    report.wall_seconds = round(time.monotonic() - started, 2)
    counters = admin.counters()
    report.tasks_created = {k: int(v) for k, v in counters.get("tasks_created", {}).items()}
    report.bulk_requests = sum(n for k, n in counters["requests"].items() if " /2/0/" in k)
    report.faults_injected = {k: v for k, v in counters.get("faults", {}).items() if not k.startswith("rule ")}
    injected = sum(report.faults_injected.values())
    report.fault_fraction = round(injected / report.bulk_requests, 4) if report.bulk_requests else 0.0
    report.authentications = dict(counters.get("authentications", {}))
    report.forced_token_expiries = transport.expired
    report.client_requests = transport.requests
    admin.clear_faults()
    return report


def format_report(report: SoakReport, command: str = "") -> str:
    """Human-readable figures."""
    retries = report.retries
    per = {aid: Counter(v) for aid, v in report.tasks_per_cycle.items()}
    lines = [
        f"command: {command}" if command else "",
        f"cycles completed        : {report.cycles_completed}/{report.cycles_requested}",
        f"bytes uploaded          : {report.bytes_uploaded:,}",
        f"bytes verified identical: {report.bytes_verified:,} (export download == upload in "
        f"{report.export_matches} cycles; file held by Anaplan == upload in {report.upload_file_matches}; "
        f"module == upload in {report.module_matches} cycles, {report.cells_verified:,} cells)",
        "task creations per cycle: "
        + ", ".join(f"{aid}: {dict(c)} (cycles by count)" for aid, c in per.items()),
        f"emulator tasks_created  : {report.tasks_created}",
        f"retries spent           : {sum(retries.values())} {retries}",
        f"bulk requests           : {report.bulk_requests:,}; faults injected {sum(report.faults_injected.values())} "
        f"({report.fault_fraction:.1%}) {report.faults_injected}",
        f"authentications         : {report.authentications}; forced token expiries {report.forced_token_expiries}",
        f"wall time               : {report.wall_seconds:.1f} s "
        f"({report.wall_seconds / max(1, report.cycles_completed):.2f} s per cycle)",
        f"verdict                 : {'OK' if report.ok else 'FAILED'}",
    ]
    lines += [f"  failure: {f}" for f in report.failures[:20]]
    return "\n".join(line for line in lines if line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--fault-rate", type=float, default=0.10, help="share of bulk requests faulted")
    parser.add_argument("--items", type=int, default=8000, help="list members (x 12 months = rows per cycle)")
    parser.add_argument("--seed", type=int, default=20260619)
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After of injected 429s (s)")
    parser.add_argument("--token-ttl", type=float, default=30.0, help="emulator token lifetime (s)")
    parser.add_argument("--expire-every", type=int, default=5, help="expire all tokens mid-transfer every N cycles")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    report = run_soak(
        args.cycles,
        fault_rate=args.fault_rate,
        items=args.items,
        seed=args.seed,
        retry_after=args.retry_after,
        token_ttl=args.token_ttl,
        expire_every=args.expire_every,
    )
    command = ".venv/bin/python benchmarks/soak.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(format_report(report, command))
    if args.json:
        data = asdict(report)
        data["ok"] = report.ok
        args.json.write_text(json.dumps(data, indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
