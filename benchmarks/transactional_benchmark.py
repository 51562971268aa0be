"""Transactional API benchmark: list upsert and large view read, ours vs anaplan-sdk, against the emulator.

Rows (each measurement in its own child process: throughput, the client's CPU seconds, the emulator's
CPU seconds over the same span — equal server work for both clients shows up there —, peak RSS = VmHWM;
``--repeat N`` runs every measurement N times, alternating clients, and reports the median run):

* ``ours-upsert``  ``AnaplanClient.upsert_list_items(list, csv_path)``: the CSV streamed in batches of
  100,000 items (a lookup, then add + update calls), ``max_concurrency`` batches in flight.
* ``sdk-upsert``   anaplan-sdk has no upsert; its equivalent: read the CSV into a list,
  ``tr.insert_list_items(all)``, then ``tr.update_list_items(the items the insert rejected)``.
  (``tr.get_list_items`` cannot be used to split them: it reads one page of 5,000 items.)
* ``ours-read``    ``AnaplanClient.download_large_view(view, path)``: one large-volume read request,
  pages streamed to the file, the request deleted.
* ``sdk-read``     anaplan-sdk has no large-volume reads and ``get_view_data`` refuses views above
  1,000,000 cells: its equivalent reads the view page by page (one page-selector item each, 1,000,000
  cells a call) with ``tr.get_view_data(..., data_format="text/csv")`` and writes each to the file.

The list starts with half of the items (so the upsert updates half and adds half); the view is
``rows x 100 columns x 5 pages`` synthetic cells. ``--scale 0.25`` runs a quarter of the sizes, to check
that our peak RSS does not grow with the data.

    .venv/bin/uv pip install --python .venv/bin/python -e '.[bench]'
    .venv/bin/python benchmarks/transactional_benchmark.py                # 1,000,000 items, 5,000,000 cells
    .venv/bin/python benchmarks/transactional_benchmark.py --repeat 3     # median of 3 runs each
    .venv/bin/python benchmarks/transactional_benchmark.py --scale 0.25 --skip-sdk
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

WORKSPACE, MODEL = "8a868cd985f53e7701860542f59e276e", "75A40874E6B64FA3AE0B4E5D5B4B9A0B"
USER, PASSWORD = "demo@example.com", "emulator-demo-pw"
LIST_ID, VIEW_ID = "101000000900", "102000000900"
COLUMNS, PAGES = 100, 5


def _peak_rss_mb() -> float:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def write_items_csv(path: Path, count: int) -> None:
    """``count`` items ``Item 0000001``… with codes ``C1``…: the first half exists in the list, the rest is new."""
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["name", "code"])
        for i in range(1, count + 1):
            writer.writerow([f"Item {i:07d}", f"C{i}"])


# ------------------------------------------------------------------------------------------ children
def _ours(url: str, concurrency: int) -> Any:
    from airflow_provider_anaplan.client import AnaplanClient, BasicCredentials, ClientConfig

    cfg = ClientConfig(
        credentials=BasicCredentials(USER, PASSWORD), workspace_id=WORKSPACE, model_id=MODEL,
        api_url=f"{url}/2/0", auth_url=url, oauth_url=url, max_concurrency=concurrency, poll_interval=0.2, timeout=600,
    )  # fmt: skip
    client = AnaplanClient(cfg)
    client.get_lists()  # warm: authenticated, connected
    return client


def _sdk(url: str) -> Any:
    from urllib.parse import urlsplit

    import anaplan_sdk
    import httpx
    import httpx2

    target = urlsplit(url)

    class Rewrite(httpx2.BaseTransport):
        def __init__(self) -> None:
            self.inner = httpx2.HTTPTransport()

        def handle_request(self, request: httpx2.Request) -> httpx2.Response:
            request.url = request.url.copy_with(scheme=target.scheme, host=target.hostname, port=target.port)
            return self.inner.handle_request(request)

    token = httpx.post(f"{url}/token/authenticate", auth=(USER, PASSWORD)).json()["tokenInfo"]["tokenValue"]
    client = anaplan_sdk.Client(
        workspace_id=WORKSPACE, model_id=MODEL, user_email=USER, password=PASSWORD, token=token, timeout=600,
        transport=Rewrite(),
    )  # fmt: skip
    client.tr.get_lists()
    return client


def child_ours_upsert(args: argparse.Namespace) -> Callable[[], int]:
    client = _ours(args.url, args.concurrency)

    def run() -> int:
        result = client.upsert_list_items(LIST_ID, Path(args.path), "code")
        assert not result.failures and result.added + result.updated == result.total, result.summary()
        return result.total

    return run


def child_sdk_upsert(args: argparse.Namespace) -> Callable[[], int]:
    """The same algorithm with anaplan-sdk's calls: per 100,000 items, look the codes up, insert the new
    ones, update the existing ones (its list read returns one page of 5,000 items, and its merged
    insert failures lose which chunk an index belongs to, so neither can split them)."""
    client = _sdk(args.url)

    def run() -> int:
        with open(args.path, newline="", encoding="utf-8") as source:
            items = [dict(row) for row in csv.DictReader(source)]  # its API takes lists in memory
        for start in range(0, len(items), 100_000):
            chunk = items[start : start + 100_000]
            found = client.tr.lookup_dimension_items(int(LIST_ID), codes=[i["code"] for i in chunk])
            existing = {str(f.code).casefold() for f in found if getattr(f, "code", None)}
            new = [i for i in chunk if i["code"].casefold() not in existing]
            old = [i for i in chunk if i["code"].casefold() in existing]
            if new:
                client.tr.insert_list_items(int(LIST_ID), new)
            if old:
                client.tr.update_list_items(int(LIST_ID), old)
        return len(items)

    return run


def child_ours_read(args: argparse.Namespace) -> Callable[[], int]:
    client = _ours(args.url, args.concurrency)
    return lambda: client.download_large_view(VIEW_ID, Path(args.path)).bytes


def child_sdk_read(args: argparse.Namespace) -> Callable[[], int]:
    client = _sdk(args.url)
    ours = _ours(args.url, 1)  # only to look up the page dimension's item ids (not timed)
    info = ours.get_view_info(VIEW_ID)
    page_dim = info["pages"][0]["id"]
    items = [i["id"] for i in ours.get_view_dimension_items(VIEW_ID, page_dim)]

    def run() -> int:
        written = 0
        with open(args.path, "wb") as out:
            for item in items:
                data = client.tr.get_view_data(int(VIEW_ID), pages=[(int(page_dim), int(item))], data_format="text/csv")
                out.write(data)
                written += len(data)
        return written

    return run


CHILDREN = {
    "ours-upsert": child_ours_upsert, "sdk-upsert": child_sdk_upsert,
    "ours-read": child_ours_read, "sdk-read": child_sdk_read,
}  # fmt: skip


def child_main(args: argparse.Namespace) -> None:
    import airflow_provider_anaplan.client  # noqa: F401 - imports are not timed

    run = CHILDREN[args.child](args)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    size = run()
    seconds = time.perf_counter() - started
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime
    print(json.dumps({"units": size, "seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": _peak_rss_mb()}))


def run_child(mode: str, args: argparse.Namespace, url: str, path: Path, server_pid: int | None = None) -> dict[str, Any]:
    """One measurement in a fresh process; ``server_cpu_seconds``: the emulator's CPU over the whole child
    (the timed part plus the child's untimed warm-up, a few ms)."""
    cmd = [sys.executable, __file__, "--child", mode, "--url", url, "--path", str(path), "--concurrency", str(args.concurrency)]
    before = _cpu_seconds(server_pid) if server_pid else 0.0
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=7200)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["server_cpu_seconds"] = (_cpu_seconds(server_pid) - before) if server_pid else 0.0
    return result


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median throughput (its own figures, not a mix of runs), with every run's throughput."""
    ordered = sorted(runs, key=lambda r: r["units"] / r["seconds"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["all_rates"] = [r["units"] / r["seconds"] for r in runs]
    return chosen


# ------------------------------------------------------------------------------------------- parent
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--cells", type=int, default=5_000_000)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply --items and --cells")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workdir", default="/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir())
    parser.add_argument("--skip-sdk", action="store_true")
    parser.add_argument("--only", choices=["upsert", "read"], default=None)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each measurement; the median run is reported")
    args = parser.parse_args()
    if args.child:
        child_main(args)
        return

    from airflow_provider_anaplan.testing.handle import run_emulator_subprocess

    items = int(args.items * args.scale)
    cells = int(args.cells * args.scale)
    rows = max(1, cells // (COLUMNS * PAGES))
    workdir = Path(args.workdir)
    source = workdir / f"anaplan-bench-items-{items}.csv"
    outputs = [workdir / f"anaplan-bench-{m}.csv" for m in ("ours-read", "sdk-read")]
    results: dict[str, dict[str, Any]] = {}
    clients = ["ours"] + ([] if args.skip_sdk else ["sdk"])
    try:
        with run_emulator_subprocess() as emulator:
            admin = emulator.admin
            pid = emulator.process.pid if emulator.process is not None else None
            repeat = max(1, args.repeat)
            note = f" (median of {repeat} runs, alternating)" if repeat > 1 else ""
            if args.only in (None, "upsert"):
                write_items_csv(source, items)
                print(f"upsert of {items:,} items ({items // 2:,} exist, {items - items // 2:,} new), {source.stat().st_size / 1e6:.1f} MB CSV{note}")
                runs: dict[str, list[dict[str, Any]]] = {who: [] for who in clients}
                counts: dict[str, int] = {}
                for _ in range(repeat):
                    for who in clients:
                        admin._call("POST", "/transactional/large_list", {"count": items // 2, "id": LIST_ID})
                        runs[who].append(run_child(f"{who}-upsert", args, emulator.url, source, pid))
                        counts[who] = len(admin.list_items(LIST_ID))
                for who in clients:
                    results[f"{who}-upsert"] = r = _median(runs[who])
                    print(f"  {who}-upsert  {r['units'] / r['seconds']:>10,.0f} items/s  {r['seconds']:6.1f} s  "
                          f"client {r['cpu_seconds']:5.1f} CPU-s  server {r['server_cpu_seconds']:5.1f} CPU-s  "
                          f"peak RSS {r['peak_rss_mb']:7.1f} MB  (list now {counts[who]:,} items; runs "
                          f"{', '.join(f'{x:,.0f}' for x in r['all_rates'])} items/s)")  # fmt: skip
            if args.only in (None, "read"):
                admin._call("POST", "/transactional/large_view", {"rows": rows, "columns": COLUMNS, "pages": PAGES, "id": VIEW_ID})
                print(f"read of a {rows * COLUMNS * PAGES:,}-cell view ({rows:,} rows x {COLUMNS} columns x {PAGES} pages){note}")
                read_runs: dict[str, list[dict[str, Any]]] = {who: [] for who in clients}
                for _ in range(repeat):
                    for who, out in zip(clients, outputs, strict=False):
                        read_runs[who].append(run_child(f"{who}-read", args, emulator.url, out, pid))
                for who in clients:
                    results[f"{who}-read"] = r = _median(read_runs[who])
                    mb = r["units"] / 1e6
                    print(f"  {who}-read    {mb / r['seconds']:>10.1f} MB/s     {r['seconds']:6.1f} s  "
                          f"client {r['cpu_seconds']:5.1f} CPU-s  server {r['server_cpu_seconds']:5.1f} CPU-s  "
                          f"peak RSS {r['peak_rss_mb']:7.1f} MB  ({mb:.1f} MB written; runs "
                          f"{', '.join(f'{x / 1e6:.1f}' for x in r['all_rates'])} MB/s)")  # fmt: skip
                assert admin._call("GET", "/transactional")["readRequests"] == [], "a read request was left behind"
    finally:
        for path in [source, *outputs]:
            path.unlink(missing_ok=True)
    print("summary (ratios within this run)")
    for what in ("upsert", "read"):
        ours, sdk = results.get(f"ours-{what}"), results.get(f"sdk-{what}")
        if ours and sdk:
            speed = (ours["units"] / ours["seconds"]) / (sdk["units"] / sdk["seconds"])
            print(f"  {what}: ours {speed:.1f}x anaplan-sdk's throughput; peak RSS {ours['peak_rss_mb']:.0f} MB vs {sdk['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
