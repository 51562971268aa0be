"""Triggerer scale: N concurrent ``AnaplanTaskTrigger``s in ONE asyncio process against the emulator.

What it does:

1. starts the emulator as a subprocess (``max_queued_tasks`` raised; every task lasts an hour, so the
   first task of the model is IN_PROGRESS and the others wait NOT_STARTED, as Anaplan queues them);
2. creates ``--triggers`` import tasks (one upload, then task POSTs);
3. forgets the token used for that (``clear_token_cache``), resets the emulator's counters and runs one
   :class:`~airflow_provider_anaplan.triggers.task.AnaplanTaskTrigger` per task, all in this process's
   event loop, with the connection from ``AIRFLOW_CONN_ANAPLAN_DEFAULT`` (JSON) pointing at the
   emulator, polling every ``--poll-interval`` seconds for ``--window`` seconds;
4. a ticker coroutine measures event-loop lag (how late a 50 ms sleep wakes up);
5. reports, for the whole window and for the steady state after ``--warmup`` seconds: CPU % of this
   process (``getrusage`` user+sys / wall), peak RSS, requests per second (emulator counters),
   authentications (emulator counters; target: one per connection per token lifetime), loop lag
   (max / p99), and the emulator's own CPU %.

Usage::

    .venv/bin/python benchmarks/triggerer_scale.py --triggers 1000 --poll-interval 5 --window 90
    .venv/bin/python benchmarks/triggerer_scale.py --triggers 1000 --window 90 --token-ttl 40  # refreshes

Targets (issue #6): <= 1 authentication per connection per token lifetime; < 25 % of one core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from airflow_provider_anaplan.testing.pytest_plugin import (  # noqa: E402
    EmulatorHandle,
    run_emulator_subprocess,
)

IMPORT_ID = "112000000000"
FILE_ID = "113000000000"
CONN_ID = "anaplan_default"
PRODUCTS = b"Product,Category,Discontinued\nP100,Hardware,false\n"


@dataclass
class Phase:
    """Figures over one interval of the window."""

    seconds: float = 0.0
    cpu_percent: float = 0.0
    requests: int = 0
    requests_per_second: float = 0.0
    status_polls: int = 0
    authentications: dict[str, int] = field(default_factory=dict)
    loop_lag_max_ms: float = 0.0
    loop_lag_p99_ms: float = 0.0
    loop_lag_p50_ms: float = 0.0


@dataclass
class ScaleReport:
    """What the run measured."""

    triggers: int
    poll_interval: float
    window: float
    token_ttl: float
    create_seconds: float = 0.0
    startup_seconds: float = 0.0
    first_poll_all_seconds: float | None = None
    whole: Phase = field(default_factory=Phase)
    steady: Phase = field(default_factory=Phase)
    peak_rss_mb: float = 0.0
    rss_start_mb: float = 0.0
    rss_end_mb: float = 0.0
    emulator_cpu_percent: float = 0.0
    events_before_end: int = 0
    errors: list[str] = field(default_factory=list)
    task_states: dict[str, int] = field(default_factory=dict)
    token_lifetimes_in_window: float = 0.0
    auth_calls_per_token_lifetime: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            not self.errors
            and self.events_before_end == 0
            and self.auth_calls_per_token_lifetime <= 1.0 + 1e-9
            and self.steady.cpu_percent < 25.0
        )


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 1e6
    except ImportError:  # pragma: no cover - psutil is a bench dependency
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def _emulator_cpu(emu: EmulatorHandle) -> float:
    import psutil

    assert emu.process is not None
    times = psutil.Process(emu.process.pid).cpu_times()
    return times.user + times.system


def _connection_json(emu: EmulatorHandle) -> str:
    return json.dumps(
        {
            "conn_type": "anaplan",
            "login": emu.user,
            "password": emu.password,
            "extra": {
                "api_url": emu.api_url,
                "auth_url": emu.auth_url,
                "oauth_url": emu.oauth_url,
                "workspace_id": emu.workspace_id,
                "model_id": emu.model_id,
            },
        }
    )


async def create_tasks(emu: EmulatorHandle, count: int) -> list[str]:
    """Upload the import's file once, then POST ``count`` import tasks (20 at a time)."""
    from airflow_provider_anaplan.client import AnaplanAsyncClient, BasicCredentials, ClientConfig

    config = ClientConfig(
        credentials=BasicCredentials(emu.user, emu.password),
        workspace_id=emu.workspace_id,
        model_id=emu.model_id,
        api_url=emu.api_url,
        auth_url=emu.auth_url,
        oauth_url=emu.oauth_url,
    )
    async with AnaplanAsyncClient(config) as client:
        await client.upload_file(FILE_ID, PRODUCTS)
        url = f"{client.model_url}/imports/{IMPORT_ID}/tasks"
        slots = asyncio.Semaphore(20)

        async def one() -> str:
            async with slots:
                response = await client.session.request("POST", url, idempotent=False, json={"localeName": "en_US"})
                return str(response.json()["task"]["taskId"])

        return list(await asyncio.gather(*(one() for _ in range(count))))


class Ticker:
    """Measures event-loop lag: how late a ``period`` sleep wakes up."""

    def __init__(self, period: float = 0.05) -> None:
        self.period = period
        self.samples: list[tuple[float, float]] = []  # (monotonic time, lag seconds)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.period)
            now = loop.time()
            self.samples.append((time.monotonic(), max(0.0, now - start - self.period)))

    def stats(self, since: float, until: float) -> tuple[float, float, float]:
        lags = sorted(lag for at, lag in self.samples if since <= at <= until)
        if not lags:
            return 0.0, 0.0, 0.0
        p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
        return lags[-1] * 1000, p99 * 1000, statistics.median(lags) * 1000


def _requests(counters: dict[str, Any]) -> tuple[int, int]:
    total = sum(counters["requests"].values())
    polls = sum(n for k, n in counters["requests"].items() if k.startswith("GET") and k.endswith("/tasks/{taskId}"))
    return total, polls


def _phase(
    seconds: float, cpu: float, before: dict[str, Any], after: dict[str, Any], lag: tuple[float, float, float]
) -> Phase:
    r0, p0 = _requests(before)
    r1, p1 = _requests(after)
    auth = {k: after["authentications"].get(k, 0) - before["authentications"].get(k, 0) for k in after["authentications"]}
    return Phase(
        seconds=round(seconds, 1),
        cpu_percent=round(100 * cpu / seconds, 1),
        requests=r1 - r0,
        requests_per_second=round((r1 - r0) / seconds, 1),
        status_polls=p1 - p0,
        authentications={k: v for k, v in auth.items() if v},
        loop_lag_max_ms=round(lag[0], 1),
        loop_lag_p99_ms=round(lag[1], 1),
        loop_lag_p50_ms=round(lag[2], 1),
    )


async def measure(
    emu: EmulatorHandle, triggers: int, poll_interval: float, window: float, warmup: float, token_ttl: float
) -> ScaleReport:
    from airflow_provider_anaplan.client import clear_token_cache
    from airflow_provider_anaplan.triggers.task import AnaplanTaskTrigger

    report = ScaleReport(triggers=triggers, poll_interval=poll_interval, window=window, token_ttl=token_ttl)
    admin = emu.admin
    t0 = time.monotonic()
    task_ids = await create_tasks(emu, triggers)
    report.create_seconds = round(time.monotonic() - t0, 1)
    states: dict[str, int] = {}
    for task in admin.tasks().get(IMPORT_ID, []):
        states[task.get("taskState", "?")] = states.get(task.get("taskState", "?"), 0) + 1
    report.task_states = states

    clear_token_cache()  # the triggers must authenticate on their own, once
    admin.configure(token_ttl_seconds=token_ttl)
    admin.reset_counters()
    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = _connection_json(emu)

    ticker = Ticker()
    ticker_task = asyncio.create_task(ticker.run())
    events: list[dict[str, Any]] = []

    async def drive(trigger: AnaplanTaskTrigger) -> None:
        async for event in trigger.run():
            events.append(event.payload)

    counters0 = admin.counters()
    cpu0, wall0, emu_cpu0 = _cpu(), time.monotonic(), _emulator_cpu(emu)
    report.rss_start_mb = round(_rss_mb(), 1)
    tasks = [
        asyncio.create_task(
            drive(AnaplanTaskTrigger(anaplan_conn_id=CONN_ID, action_id=IMPORT_ID, task_id=tid, poll_interval=poll_interval))
        )
        for tid in task_ids
    ]
    report.startup_seconds = round(time.monotonic() - wall0, 2)
    peak = report.rss_start_mb
    steady_marks: tuple[float, float, dict[str, Any]] | None = None
    while (elapsed := time.monotonic() - wall0) < window:
        await asyncio.sleep(min(1.0, window - elapsed))
        peak = max(peak, _rss_mb())
        if report.first_poll_all_seconds is None:
            polls = _requests(await asyncio.to_thread(admin.counters))[1]
            if polls >= triggers:
                report.first_poll_all_seconds = round(time.monotonic() - wall0, 1)
        settled = report.first_poll_all_seconds is not None and (
            time.monotonic() - wall0 >= max(warmup, report.first_poll_all_seconds + poll_interval)
        )
        if steady_marks is None and settled:
            steady_marks = (_cpu(), time.monotonic(), await asyncio.to_thread(admin.counters))
    cpu1, wall1, emu_cpu1 = _cpu(), time.monotonic(), _emulator_cpu(emu)
    counters1 = await asyncio.to_thread(admin.counters)
    report.events_before_end = len(events)
    report.errors = [e["message"] for e in events if e.get("status") == "error"][:5]
    for task in tasks:
        task.cancel()  # a triggerer shutdown: CancelledError, never an Anaplan cancel
    await asyncio.gather(*tasks, return_exceptions=True)
    ticker_task.cancel()
    await asyncio.gather(ticker_task, return_exceptions=True)

    report.whole = _phase(wall1 - wall0, cpu1 - cpu0, counters0, counters1, ticker.stats(wall0, wall1))
    if steady_marks is not None:
        scpu, swall, scount = steady_marks
        report.steady = _phase(wall1 - swall, cpu1 - scpu, scount, counters1, ticker.stats(swall, wall1))
    report.peak_rss_mb = round(max(peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3), 1)
    report.rss_end_mb = round(_rss_mb(), 1)
    report.emulator_cpu_percent = round(100 * (emu_cpu1 - emu_cpu0) / (wall1 - wall0), 1)
    auths = sum(report.whole.authentications.values())
    report.token_lifetimes_in_window = round(max(1.0, (wall1 - wall0) / token_ttl), 2)
    report.auth_calls_per_token_lifetime = round(auths / max(1.0, -(-(wall1 - wall0) // token_ttl)), 2)
    deletes = sum(n for k, n in counters1["requests"].items() if k.startswith("DELETE"))
    if deletes:
        report.errors.append(f"{deletes} task cancellations were sent (expected none)")
    return report


def run(
    triggers: int = 1000,
    poll_interval: float = 5.0,
    window: float = 90.0,
    warmup: float = 15.0,
    token_ttl: float = 2100.0,
) -> ScaleReport:
    """Start the emulator subprocess and measure."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 4 * triggers + 256))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # inherited by the emulator process
    with run_emulator_subprocess() as emu:
        emu.admin.configure(max_queued_tasks=triggers + 10, min_task_seconds=3600)
        report = asyncio.run(measure(emu, triggers, poll_interval, window, warmup, token_ttl))
    return report


def format_report(report: ScaleReport, command: str = "") -> str:
    w, s = report.whole, report.steady
    lines = [
        f"command: {command}" if command else "",
        f"triggers                : {report.triggers} in one asyncio process, poll every {report.poll_interval:g} s, "
        f"window {w.seconds:g} s (steady state: the last {s.seconds:g} s, after every trigger polled once)",
        f"tasks polled            : {report.task_states} (created in {report.create_seconds:g} s)",
        f"start-up                : {report.startup_seconds:g} s to schedule all triggers; every trigger polled "
        f"once after {report.first_poll_all_seconds} s",
        f"CPU of this process     : {w.cpu_percent:g} % of one core over the window, {s.cpu_percent:g} % steady state",
        f"peak RSS                : {report.peak_rss_mb:g} MB (start {report.rss_start_mb:g} MB, end {report.rss_end_mb:g} MB)",
        f"requests                : {w.requests} ({w.requests_per_second:g}/s), status polls {w.status_polls}; "
        f"steady {s.requests_per_second:g}/s (ideal {report.triggers / report.poll_interval:g}/s)",
        f"authentications         : {w.authentications or {}} over the window; token lifetime {report.token_ttl:g} s "
        f"-> {report.auth_calls_per_token_lifetime:g} per connection per token lifetime",
        f"event-loop lag          : max {w.loop_lag_max_ms:g} ms, p99 {w.loop_lag_p99_ms:g} ms, p50 {w.loop_lag_p50_ms:g} ms "
        f"(steady: max {s.loop_lag_max_ms:g} ms, p99 {s.loop_lag_p99_ms:g} ms)",
        f"emulator CPU            : {report.emulator_cpu_percent:g} % of one core (separate process)",
        f"events before the end   : {report.events_before_end} (expected 0: every task is still running)",
        f"verdict                 : {'OK' if report.ok else 'FAILED'} (targets: <= 1 auth per token lifetime, "
        "< 25 % of one core)",
    ]
    lines += [f"  error: {e}" for e in report.errors]
    return "\n".join(line for line in lines if line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--triggers", type=int, default=1000)
    parser.add_argument("--poll-interval", type=float, default=5.0)
    parser.add_argument("--window", type=float, default=90.0, help="seconds of polling measured")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds excluded from the steady state")
    parser.add_argument("--token-ttl", type=float, default=2100.0, help="emulator token lifetime (s)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    report = run(args.triggers, args.poll_interval, args.window, args.warmup, args.token_ttl)
    command = ".venv/bin/python benchmarks/triggerer_scale.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(format_report(report, command))
    if args.json:
        data = asdict(report)
        data["ok"] = report.ok
        args.json.write_text(json.dumps(data, indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
