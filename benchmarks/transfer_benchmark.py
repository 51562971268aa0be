"""Transfer benchmark: this provider's client vs anaplan-sdk against the emulator (run by hand).

    .venv/bin/uv pip install --python .venv/bin/python -e '.[bench]'
    .venv/bin/python benchmarks/transfer_benchmark.py --sizes 1,2

For each size it generates a CSV on disk, starts the emulator as a subprocess and measures, each in
its own child process (peak RSS = the child's ``ru_maxrss``):

* ``floor``      read the file + gzip it on all cores with the same codec (isal, fast level);
* ``ours up``    ``AnaplanClient.upload_file(Path)`` (streamed, compressed in worker threads);
* ``sdk up``     ``anaplan_sdk.Client.upload_file(bytes)`` (its API needs the content in memory);
* ``ours down``  ``AnaplanClient.download_file(file_id, path)``;
* ``sdk down``   ``anaplan_sdk.Client.get_file_stream(file_id, batch_size=4)`` written to a file.

anaplan-sdk talks to https://auth.anaplan.com and https://api.anaplan.com; an httpx2 transport
rewrites those hosts to the emulator. Generated files are deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
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
    with open(path, "wb") as out:
        out.write(b"Product,Month,Version,Revenue,Category,Discontinued\n")
        written = 0
        while written < size:
            block = rng.choice(blocks)[: size - written]
            out.write(block)
            written += len(block)


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


def child_floor(path: Path, chunk_mb: int, concurrency: int) -> int:
    from airflow_provider_anaplan.client.transfer import compress

    chunk = chunk_mb * MB
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


def child_ours_up(url: str, path: Path, chunk_mb: int, concurrency: int) -> int:
    from airflow_provider_anaplan.client import AnaplanClient

    with AnaplanClient(_ours_config(url, chunk_mb, concurrency)) as client:
        return client.upload_file(FILE_ID, path)


def child_ours_down(url: str, path: Path, chunk_mb: int, concurrency: int) -> int:
    from airflow_provider_anaplan.client import AnaplanClient

    with AnaplanClient(_ours_config(url, chunk_mb, concurrency)) as client:
        return client.download_file(FILE_ID, path)


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
    return anaplan_sdk.Client(
        workspace_id=WORKSPACE, model_id=MODEL, user_email=USER, password=PASSWORD, token=token,
        upload_chunk_size=chunk_mb * MB, timeout=300, transport=Rewrite(),
    )  # fmt: skip


def child_sdk_up(url: str, path: Path, chunk_mb: int, concurrency: int) -> int:
    client = _sdk_client(url, chunk_mb)
    content = path.read_bytes()  # anaplan-sdk's upload_file takes the content in memory
    client.upload_file(int(FILE_ID), content)
    return len(content)


def child_sdk_down(url: str, path: Path, chunk_mb: int, concurrency: int) -> int:
    client = _sdk_client(url, chunk_mb)
    total = 0
    with open(path, "wb") as out:
        for data in client.get_file_stream(int(FILE_ID), batch_size=concurrency):
            out.write(data)
            total += len(data)
    return total


CHILDREN = {
    "floor": lambda a: child_floor(Path(a.path), a.chunk_mb, a.concurrency),
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


# ------------------------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--size-gb", type=float, default=1.0, help="file size (GiB) when --sizes is not given"
    )
    parser.add_argument("--sizes", help="comma-separated sizes in GiB, e.g. 1,2 (RSS must stay flat)")
    parser.add_argument("--chunk-mb", type=int, default=25)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--workdir",
        default="/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir(),
        help="where the CSV is generated (default tmpfs: this VM's page cache is small and its disk slow)",
    )
    parser.add_argument(
        "--download-dir",
        default="/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir(),
        help="where downloads are written (default tmpfs, so the disk is not what is measured)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; the fastest is kept")
    parser.add_argument("--skip-sdk", action="store_true", help="measure only this client and the floor")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        import httpx  # noqa: F401

        import airflow_provider_anaplan.client  # noqa: F401 - imports are not part of the timing

        if args.child.startswith("sdk"):
            import anaplan_sdk  # noqa: F401
        baseline = _peak_rss_mb()
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        size = CHILDREN[args.child](args)
        seconds = time.perf_counter() - started
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime
        result = {"bytes": size, "seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": _peak_rss_mb()}
        print(json.dumps({**result, "baseline_mb": baseline}))
        return

    from airflow_provider_anaplan.testing.pytest_plugin import run_emulator_subprocess

    sizes = [float(s) for s in args.sizes.split(",")] if args.sizes else [args.size_gb]
    workdir = Path(args.workdir)
    rows: list[tuple[float, str, dict[str, float]]] = []
    print(f"cores={os.cpu_count()} chunk={args.chunk_mb} MB concurrency={args.concurrency}", flush=True)
    with run_emulator_subprocess() as emulator:
        # Keep uploaded files in the emulator's memory: this disk writes at ~130 MB/s, which would
        # measure the disk, not the clients (downloads go to --download-dir, tmpfs by default).
        # And store gzip chunks as received (inflated when read): the emulator shares the clients'
        # two cores, and inflating at intake would bill the server's CPU to the client's throughput.
        emulator.admin.configure(spool_threshold_bytes=64 * 1024 * MB, lazy_gzip=True)
        for gb in sizes:
            src = workdir / f"anaplan-bench-{gb:g}gb.csv"
            dst = Path(args.download_dir) / f"anaplan-bench-{gb:g}gb.down"
            try:
                print(f"generating {gb:g} GiB CSV at {src} ...", flush=True)
                generate_csv(src, int(gb * 1024 * MB))
                os.sync()  # let writeback finish: it would steal CPU from whatever is measured next
                modes = ["floor", "ours-up", "ours-down"]
                if not args.skip_sdk:
                    modes += ["sdk-up", "sdk-down"]
                for mode in modes:
                    target = dst if mode.endswith("down") else src  # each client downloads what it uploaded
                    result: dict[str, float] = {}
                    for _ in range(args.repeat):  # best of N: this machine is shared and noisy
                        attempt = run_child(mode, args, emulator.url, target)
                        if mode.endswith("down"):
                            attempt["identical"] = float(_same_file(src, dst))
                            dst.unlink()
                        if not result or attempt["seconds"] < result["seconds"]:
                            result = attempt
                    rows.append((gb, mode, result))
                    print(f"  {mode:10s} {_fmt(result)}", flush=True)
            finally:
                for p in (src, dst):
                    p.unlink(missing_ok=True)
    _report(rows)


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
    rate = r["bytes"] / MB / r["seconds"]
    extra = "" if "identical" not in r else (" identical" if r["identical"] else " DIFFERENT")
    cpu = r["cpu_seconds"] / (r["bytes"] / 1024**3)
    return f"{rate:8.1f} MB/s  {r['seconds']:7.1f} s  {cpu:5.1f} CPU-s/GiB  peak RSS {r['peak_rss_mb']:7.1f} MB{extra}"


def _report(rows: list[tuple[float, str, dict[str, float]]]) -> None:
    by = {(gb, mode): r for gb, mode, r in rows}
    rate = {k: r["bytes"] / MB / r["seconds"] for k, r in by.items()}
    print("\nsummary")
    for gb in sorted({gb for gb, _, _ in rows}):
        floor, up, down = rate[(gb, "floor")], rate[(gb, "ours-up")], rate[(gb, "ours-down")]
        print(f"  {gb:g} GiB: ours upload {up:.1f} MB/s = {up / floor:.0%} of floor ({floor:.1f} MB/s)")
        if (gb, "sdk-up") in rate:
            print(f"  {gb:g} GiB: upload ours/sdk = {up / rate[(gb, 'sdk-up')]:.1f}x, "
                  f"download ours/sdk = {down / rate[(gb, 'sdk-down')]:.1f}x")  # fmt: skip
        rss = ", ".join(f"{m} {by[(gb, m)]['peak_rss_mb']:.0f} MB" for g, m in by if g == gb)
        print(f"  {gb:g} GiB peak RSS: {rss}")


if __name__ == "__main__":
    main()
