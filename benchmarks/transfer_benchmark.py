"""Transfer benchmark: this provider's client vs anaplan-sdk vs a plain stdlib floor (run by hand).

    .venv/bin/uv pip install --python .venv/bin/python -e '.[bench]'
    .venv/bin/python benchmarks/transfer_benchmark.py                       # the table (sink)
    .venv/bin/python benchmarks/transfer_benchmark.py --link 100:40,1000:10 # realistic links

Sink mode (default): a neutral bulk-API sink (``benchmarks/bulk_sink.py``: downloads served with
``sendfile`` from tmpfs, uploads read and discarded) and, for each size, in its own child process:

* ``floor-up``   read the file + gzip it on all cores with the same codec (the compression floor);
* ``floor-down`` the simplest threaded stdlib loop: 4 threads, ``http.client`` GET per chunk, write;
* ``ours-up``    ``AnaplanClient.upload_file(Path)``; ``ours-down`` ``AnaplanClient.download_file``;
* ``sdk-up``     ``anaplan_sdk.Client.upload_file(bytes)``; ``sdk-down`` its ``get_file_stream``.

One warm-up round, then ``--repeat`` rounds with the modes interleaved; the median is reported with
the sink's CPU time (it shows the server is not the bottleneck). Link mode runs the emulator with its
bandwidth cap and latency (``RATE_MBIT:LATENCY_MS``) and reports MB/s of raw data, wire bytes and the
fraction of the link used. Generated files are deleted at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

MB = 1024 * 1024
FILE_ID = "113000000001"
WORKSPACE = "8a868cd985f53e7701860542f59e276e"
MODEL = "75A40874E6B64FA3AE0B4E5D5B4B9A0B"
USER, PASSWORD = "demo@example.com", "emulator-demo-pw"


# ------------------------------------------------------------------------------------------ data
def generate_csv(path: Path, size: int) -> None:
    """A CSV of ``size`` bytes from 48 distinct 4 MB blocks in random order (realistic gzip ratio)."""
    rng = random.Random(43)
    blocks = _blocks()
    with open(path, "wb") as out:
        out.write(b"Product,Month,Version,Revenue,Category,Discontinued\n")
        written = 0
        while written < size:
            block = rng.choice(blocks)[: size - written]
            out.write(block)
            written += len(block)


@functools.cache
def _blocks() -> list[bytes]:
    """48 distinct 4 MB blocks of CSV rows (generated once per process: it takes a while)."""
    rng = random.Random(42)
    months = [
        f"{m} 26"
        for m in ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    ]
    blocks = []
    for _ in range(48):
        rows = []
        length = 0
        while length < 4 * MB:
            row = (
                f"P{rng.randrange(10**6):06d},{rng.choice(months)},{rng.choice(('Actual', 'Budget', 'Forecast'))},"
                f"{rng.uniform(-1e6, 1e6):.2f},Category {rng.randrange(500)},{rng.random() < 0.1}\n"
            )
            rows.append(row)
            length += len(row)
        blocks.append("".join(rows).encode())
    return blocks


# ------------------------------------------------------------------------------------------ children
def _peak_rss_mb() -> float:
    """Peak RSS of this process image (VmHWM; ru_maxrss would include the parent's pre-exec peak)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


Run = Callable[[], int]  # a child's timed part; everything before it returns is warm-up


def child_floor(path: Path, chunk_mb: int, concurrency: int) -> Run:
    from airflow_provider_anaplan.client.transfer import compress

    return lambda: _compress_file(compress, path, chunk_mb * MB, concurrency)


def _compress_file(compress: Callable[[bytes], bytes], path: Path, chunk: int, concurrency: int) -> int:
    total = 0
    with open(path, "rb", buffering=0) as f, ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        pending: list[Any] = []
        while data := f.read(chunk):
            total += len(data)
            pending.append(pool.submit(compress, data))
            del data
            if len(pending) >= concurrency:
                pending.pop(0).result()
        for fut in pending:
            fut.result()
    return total


def _ours_config(url: str, chunk_mb: int, concurrency: int) -> Any:
    from airflow_provider_anaplan.client import BasicCredentials, ClientConfig

    return ClientConfig(
        credentials=BasicCredentials(USER, PASSWORD), workspace_id=WORKSPACE, model_id=MODEL,
        api_url=f"{url}/2/0", auth_url=url, oauth_url=url, chunk_size_mb=chunk_mb,
        max_concurrency=concurrency, timeout=300.0,
    )  # fmt: skip


def _ours_client(url: str, chunk_mb: int, concurrency: int) -> Any:
    """A warmed client: authenticated, connected, lazy imports done (closed at exit)."""
    import atexit

    from airflow_provider_anaplan.client import AnaplanClient

    client = AnaplanClient(_ours_config(url, chunk_mb, concurrency))
    client.list_files()
    atexit.register(client.close)
    return client


def child_ours_up(url: str, path: Path, chunk_mb: int, concurrency: int) -> Run:
    client = _ours_client(url, chunk_mb, concurrency)
    return lambda: client.upload_file(FILE_ID, path)


def child_ours_down(url: str, path: Path, chunk_mb: int, concurrency: int) -> Run:
    client = _ours_client(url, chunk_mb, concurrency)
    return lambda: client.download_file(FILE_ID, path)


def _sdk_client(url: str, chunk_mb: int) -> Any:
    from urllib.parse import urlsplit

    import anaplan_sdk
    import httpx2

    target = urlsplit(url)

    class Rewrite(httpx2.BaseTransport):
        """Send *.anaplan.com requests to the emulator."""

        def __init__(self) -> None:
            self.inner = httpx2.HTTPTransport()

        def handle_request(self, request: httpx2.Request) -> httpx2.Response:
            request.url = request.url.copy_with(scheme=target.scheme, host=target.hostname, port=target.port)
            return self.inner.handle_request(request)

    # anaplan-sdk authenticates at construction with its own client (no transport): hand it a token.
    import httpx

    token = httpx.post(f"{url}/token/authenticate", auth=(USER, PASSWORD)).json()["tokenInfo"]["tokenValue"]
    client = anaplan_sdk.Client(
        workspace_id=WORKSPACE, model_id=MODEL, user_email=USER, password=PASSWORD, token=token,
        upload_chunk_size=chunk_mb * MB, timeout=300, transport=Rewrite(),
    )  # fmt: skip
    client.get_files()  # warm, like ours: connected, lazy imports done
    return client


def child_sdk_up(url: str, path: Path, chunk_mb: int, concurrency: int) -> Run:
    client = _sdk_client(url, chunk_mb)

    def run() -> int:
        content = path.read_bytes()  # anaplan-sdk's upload_file takes the content in memory
        client.upload_file(int(FILE_ID), content)
        return len(content)

    return run


def child_sdk_down(url: str, path: Path, chunk_mb: int, concurrency: int) -> Run:
    client = _sdk_client(url, chunk_mb)
    return lambda: _sdk_download(client, path, concurrency)


def _sdk_download(client: Any, path: Path, concurrency: int) -> int:
    total = 0
    with open(path, "wb") as out:
        for data in client.get_file_stream(int(FILE_ID), batch_size=concurrency):
            out.write(data)
            total += len(data)
    return total


def child_floor_down(url: str, path: Path, chunk_mb: int, concurrency: int) -> Run:
    """The simplest threaded stdlib fetch loop: 4 threads, one ``http.client`` connection each."""
    import gzip
    import http.client
    import threading
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    base = f"/2/0/workspaces/{WORKSPACE}/models/{MODEL}/files/{FILE_ID}"
    local = threading.local()

    def get(target: str) -> bytes:
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
        local.conn.request(
            "GET", target, headers={"Authorization": "AnaplanAuthToken x", "Accept-Encoding": "gzip"}
        )
        response = local.conn.getresponse()
        data = response.read()
        return gzip.decompress(data) if response.getheader("Content-Encoding") == "gzip" else data

    def run() -> int:
        ids = [c["id"] for c in json.loads(get(f"{base}/chunks?limit=1000"))["chunks"]]
        total = 0
        with ThreadPoolExecutor(4) as pool, open(path, "wb") as out:
            for data in pool.map(get, [f"{base}/chunks/{i}" for i in ids]):
                out.write(data)
                total += len(data)
        return total

    return run


CHILDREN = {
    "floor-up": lambda a: child_floor(Path(a.path), a.chunk_mb, a.concurrency),
    "floor-down": lambda a: child_floor_down(a.url, Path(a.path), a.chunk_mb, a.concurrency),
    "ours-up": lambda a: child_ours_up(a.url, Path(a.path), a.chunk_mb, a.concurrency),
    "ours-down": lambda a: child_ours_down(a.url, Path(a.path), a.chunk_mb, a.concurrency),
    "sdk-up": lambda a: child_sdk_up(a.url, Path(a.path), a.chunk_mb, a.concurrency),
    "sdk-down": lambda a: child_sdk_down(a.url, Path(a.path), a.chunk_mb, a.concurrency),
}


def run_child(mode: str, args: argparse.Namespace, url: str, path: Path) -> dict[str, float]:
    cmd = [
        sys.executable, __file__, "--child", mode, "--url", url, "--path", str(path),
        "--chunk-mb", str(args.chunk_mb), "--concurrency", str(args.concurrency),
    ]  # fmt: skip
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=3600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _child_main(args: argparse.Namespace) -> None:
    import httpx  # noqa: F401

    import airflow_provider_anaplan.client  # noqa: F401 - imports are not part of the timing

    if args.child.startswith("sdk"):
        import anaplan_sdk  # noqa: F401
    run = CHILDREN[args.child](args)  # set-up and warm-up, not timed
    baseline = _peak_rss_mb()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    size = run()
    seconds = time.perf_counter() - started
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime
    result = {"bytes": size, "seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": _peak_rss_mb()}
    print(json.dumps({**result, "baseline_mb": baseline}))


# ------------------------------------------------------------------------------------------ servers
@contextlib.contextmanager
def run_sink() -> Iterator[str]:
    """Start ``bulk_sink.py`` as a child process; yield its URL."""
    sink = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("bulk_sink.py"))], stdout=subprocess.PIPE, text=True
    )
    try:
        assert sink.stdout is not None
        port = int(sink.stdout.readline().split()[1])
        yield f"http://127.0.0.1:{port}"
    finally:
        sink.terminate()
        sink.wait(10)


def _sink_call(url: str, method: str, path: str, body: object = None) -> Any:
    import httpx

    response = httpx.request(method, f"{url}{path}", json=body, timeout=600)
    response.raise_for_status()
    return response.json()


def _measure(
    modes: list[str],
    args: argparse.Namespace,
    url: str,
    src: Path,
    dst: Path,
    stats: Callable[[], dict[str, float]],
) -> dict[str, list[dict[str, float]]]:
    """A warm-up round, then ``args.repeat`` rounds with the modes interleaved (noise hits all alike)."""
    results: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    for round_ in range(args.repeat + 1):
        for mode in modes:
            before = stats()
            attempt = run_child(mode, args, url, dst if mode.endswith("down") else src)
            after = stats()
            attempt.update({k: after[k] - before[k] for k in after})
            if mode.endswith("down"):
                attempt["identical"] = float(_same_file(src, dst))
                dst.unlink()
            if round_ > 0:  # round 0 warms the server, the page cache and the imports
                results[mode].append(attempt)
                print(f"  {mode:10s} {_fmt(attempt)}", flush=True)
    return results


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run of median speed (its own RSS, CPU and byte figures)."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    median = dict(ordered[len(ordered) // 2])
    median["identical"] = float(all(r.get("identical", 1.0) for r in runs))
    return median


# ------------------------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes-mb", default="25,100,1000", help="file sizes in MiB (sink mode)")
    parser.add_argument(
        "--rss-mb", default="", help="extra sizes (MiB) measured for ours-down only, e.g. 2000"
    )
    parser.add_argument(
        "--chunk-mb", type=int, default=25, help="upload chunk size (downloads: --sink-chunk-mb)"
    )
    parser.add_argument(
        "--sink-chunk-mb", type=int, default=10, help="download chunk size served by the sink"
    )
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="measured rounds (median); plus one warm-up")
    parser.add_argument("--skip-sdk", action="store_true", help="measure only this client and the floors")
    parser.add_argument("--download-gzip", action="store_true", help="the sink sends chunks gzip-encoded")
    parser.add_argument(
        "--link", default="", help="link mode: RATE_MBIT:LATENCY_MS[,...], e.g. 100:40,1000:10"
    )
    parser.add_argument("--link-sizes-mb", default="100", help="sizes for link mode (MiB), e.g. 100,1000")
    parser.add_argument(
        "--workdir", default="/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir(),
        help="where files are generated and downloaded (default tmpfs: this VM's disk is slow)",
    )  # fmt: skip
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child_main(args)
        return
    print(f"cores={os.cpu_count()} upload chunk={args.chunk_mb} MB concurrency={args.concurrency} "
          f"repeat={args.repeat} (median; one warm-up round)", flush=True)  # fmt: skip
    if args.link:
        link_mode(args)
    else:
        sink_mode(args)


def _sizes(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s.strip()]


def sink_mode(args: argparse.Namespace) -> None:
    workdir = Path(args.workdir)
    table: list[tuple[int, str, list[dict[str, float]]]] = []
    with run_sink() as url:
        stats = lambda: {"cpu_seconds_server": _sink_call(url, "GET", "/_sink/stats")["cpu_seconds"]}  # noqa: E731
        jobs = [(mb, False) for mb in _sizes(args.sizes_mb)] + [(mb, True) for mb in _sizes(args.rss_mb)]
        for mb, rss_only in jobs:
            src, dst = workdir / f"anaplan-bench-{mb}mb.csv", workdir / f"anaplan-bench-{mb}mb.down"
            try:
                print(f"{mb} MiB ({'RSS check' if rss_only else 'all modes'}) ...", flush=True)
                generate_csv(src, mb * MB)
                os.sync()
                _sink_call(
                    url,
                    "POST",
                    "/_sink/load",
                    {"path": str(src), "chunk_mb": args.sink_chunk_mb, "gzip": args.download_gzip},
                )
                modes = ["ours-down"] if rss_only else ["floor-up", "ours-up", "floor-down", "ours-down"]
                if not args.skip_sdk and not rss_only:
                    modes += ["sdk-up", "sdk-down"]
                for mode, runs in _measure(modes, args, url, src, dst, stats).items():
                    table.append((mb, mode, runs))
            finally:
                src.unlink(missing_ok=True)
                dst.unlink(missing_ok=True)
    _report(table, args)


def link_mode(args: argparse.Namespace) -> None:
    from airflow_provider_anaplan.testing.pytest_plugin import run_emulator_subprocess

    workdir = Path(args.workdir)
    rows: list[tuple[str, int, str, dict[str, float]]] = []
    with run_emulator_subprocess() as emulator:
        admin = emulator.admin
        admin.configure(spool_threshold_bytes=64 * 1024 * MB, lazy_gzip=True)

        def stats() -> dict[str, float]:
            faults = admin.faults()
            return {"wire_up": faults["bandwidth_bytes_up"], "wire_down": faults["bandwidth_bytes_down"]}

        for link in args.link.split(","):
            mbit, latency = (float(x) for x in link.split(":"))
            rate = mbit * 1e6 / 8
            admin.set_faults(latency_ms=latency, bandwidth_bytes_per_second=rate)
            for mb in _sizes(args.link_sizes_mb):
                src, dst = workdir / f"anaplan-link-{mb}mb.csv", workdir / f"anaplan-link-{mb}mb.down"
                try:
                    print(f"link {mbit:g} Mbit/s + {latency:g} ms, {mb} MiB ...", flush=True)
                    generate_csv(src, mb * MB)
                    modes = ["ours-up", "ours-down"] + ([] if args.skip_sdk else ["sdk-up", "sdk-down"])
                    # each client downloads what it uploaded (the emulator keeps the last upload)
                    ordered = [m for m in modes if m.startswith("ours")] + [
                        m for m in modes if m.startswith("sdk")
                    ]
                    for mode, runs in _measure(ordered, args, emulator.url, src, dst, stats).items():
                        result = _median(runs)
                        result["rate"] = rate
                        rows.append((link, mb, mode, result))
                finally:
                    src.unlink(missing_ok=True)
                    dst.unlink(missing_ok=True)
        admin.clear_faults()
    print("\nlink summary (median; MB = MiB of raw data; link used = wire bytes / (time x rate))")
    print("| link | size | client | op | raw MB/s | wire MB | link used | ratio ours/sdk |")
    print("|---|---|---|---|---|---|---|---|")
    by = {(lk, mb, m): r for lk, mb, m, r in rows}
    for (link, mb, mode), r in by.items():
        client, op = mode.split("-")
        wire = r["wire_up"] + r["wire_down"]
        used = wire / (r["seconds"] * r["rate"])
        other = by.get((link, mb, f"sdk-{op}"))
        ratio = f"{other['seconds'] / r['seconds']:.2f}x" if client == "ours" and other else ""
        mbit, lat = link.split(":")
        print(f"| {mbit} Mbit/s + {lat} ms | {mb} MiB | {client} | {op} | {_rate(r):.1f} | "
              f"{wire / MB:.1f} | {used:.0%} | {ratio} |")  # fmt: skip


def _rate(r: dict[str, float]) -> float:
    return r["bytes"] / MB / r["seconds"]


def _same_file(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(8 * MB), fb.read(8 * MB)
            if x != y:
                return False
            if not x:
                return True


def _fmt(r: dict[str, float]) -> str:
    extra = "" if "identical" not in r else (" identical" if r["identical"] else " DIFFERENT")
    cpu = r["cpu_seconds"] / (r["bytes"] / 1024**3)
    server = f"  server CPU {r['cpu_seconds_server']:.2f} s" if "cpu_seconds_server" in r else ""
    wire = f"  wire {(r['wire_up'] + r['wire_down']) / MB:.1f} MB" if "wire_up" in r else ""
    return (f"{_rate(r):8.1f} MB/s {r['seconds']:7.2f} s {cpu:5.1f} CPU-s/GiB  peak RSS "
            f"{r['peak_rss_mb']:7.1f} MB{server}{wire}{extra}")  # fmt: skip


def _ratio(a: list[dict[str, float]], b: list[dict[str, float]]) -> float:
    """Median over rounds of the speed ratio within each round (the load drifts between rounds)."""
    return statistics.median(_rate(x) / _rate(y) for x, y in zip(a, b, strict=True))


def _report(table: list[tuple[int, str, list[dict[str, float]]]], args: argparse.Namespace) -> None:
    runs = {(mb, mode): r for mb, mode, r in table}
    by = {key: _median(r) for key, r in runs.items()}
    print(
        f"\nsummary (MB = MiB; speeds: median of {args.repeat} rounds; ratios: median of the ratios within "
        "each round; server busy = sink CPU s / wall s)"
    )
    print(
        "| size | op | floor MB/s | ours MB/s | sdk MB/s | ours/floor | ours/sdk | RSS ours / sdk | server busy (ours) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for mb in sorted({mb for mb, _, _ in table}):
        for op in ("up", "down"):
            ours = by.get((mb, f"ours-{op}"))
            if ours is None:
                continue
            floor, sdk = by.get((mb, f"floor-{op}")), by.get((mb, f"sdk-{op}"))
            cell = lambda r: f"{_rate(r):.0f}" if r else "-"  # noqa: E731
            mine = runs[(mb, f"ours-{op}")]
            vs_floor = f"{_ratio(mine, runs[(mb, f'floor-{op}')]):.0%}" if floor else "-"
            vs_sdk = f"{_ratio(mine, runs[(mb, f'sdk-{op}')]):.2f}x" if sdk else "-"
            rss = (
                f"{ours['peak_rss_mb']:.0f} / {sdk['peak_rss_mb']:.0f} MB"
                if sdk
                else f"{ours['peak_rss_mb']:.0f} MB"
            )
            busy = f"{ours['cpu_seconds_server'] / ours['seconds']:.0%}"
            print(
                f"| {mb} MiB | {op} | {cell(floor)} | {cell(ours)} | {cell(sdk)} | {vs_floor} | {vs_sdk} | {rss} | {busy} |"
            )
    bad = [f"{mb} {m}" for (mb, m), r in by.items() if r.get("identical") == 0.0]
    print("downloads byte-identical:", "NO: " + ", ".join(bad) if bad else "all")


if __name__ == "__main__":
    main()
