"""End-to-end demo against the Anaplan emulator using only httpx and Anaplan's public API.

Starts the emulator (on ``--port``, default a free port), authenticates as demo@example.com, uploads
generated products.csv and revenue.csv in gzip chunks, runs process 118000000000 (Products then
Revenue), polls the task, runs export 116000000000, downloads it and checks the exported rows equal the
uploaded revenue rows. Exits non-zero on any failure. ``make demo-http [PORT=8800]`` runs it.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import random
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

WORKSPACE = "8a868cd985f53e7701860542f59e276e"
MODEL = "75A40874E6B64FA3AE0B4E5D5B4B9A0B"
PRODUCTS_FILE, REVENUE_FILE = "113000000000", "113000000001"
PROCESS, EXPORT = "118000000000", "116000000000"
MONTHS = [f"{m} 26" for m in "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()]
CHUNK = 16 * 1024


class DemoError(RuntimeError):
    """A step of the demo failed."""


def generate(products: int = 200, seed: int = 7) -> tuple[bytes, bytes, list[tuple[str, str, float]]]:
    """products.csv, revenue.csv and the revenue rows (product, month, value)."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Product", "Category", "Discontinued"])
    names = [f"SKU-{i:05d}" for i in range(products)]
    for name in names:
        writer.writerow([name, rng.choice(["Hardware", "Software", "Services"]), "false"])
    products_csv = out.getvalue().encode()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Product", "Month", "Revenue"])
    rows = []
    for name in names:
        for month in MONTHS:
            value = round(rng.uniform(100, 10000), 2)
            rows.append((name, month, value))
            writer.writerow([name, month, value])
    return products_csv, out.getvalue().encode(), rows


def run_demo(base_url: str, say: Callable[[str], None] = print, products: int = 200) -> None:
    """Run the whole round trip against an emulator (or anything speaking Anaplan's API) at ``base_url``."""
    model = f"{base_url}/2/0/workspaces/{WORKSPACE}/models/{MODEL}"
    with httpx.Client(timeout=60.0) as http:
        r = http.post(f"{base_url}/token/authenticate", auth=("demo@example.com", "emulator-demo-pw"))
        if r.status_code != 201:
            raise DemoError(f"authentication failed: HTTP {r.status_code} {r.text}")
        http.headers["Authorization"] = f"AnaplanAuthToken {r.json()['tokenInfo']['tokenValue']}"
        say("1. authenticated as demo@example.com (basic auth)")

        products_csv, revenue_csv, rows = generate(products)
        for file_id, name, data in (
            (PRODUCTS_FILE, "products.csv", products_csv),
            (REVENUE_FILE, "revenue.csv", revenue_csv),
        ):
            parts = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
            r = http.post(f"{model}/files/{file_id}", json={"chunkCount": len(parts)})
            if r.status_code != 200:
                raise DemoError(f"setting the chunk count of {name} failed: {r.status_code} {r.text}")
            for index, part in enumerate(parts):
                r = http.put(
                    f"{model}/files/{file_id}/chunks/{index}",
                    content=gzip.compress(part),
                    headers={"Content-Type": "application/x-gzip"},
                )
                if r.status_code != 204:
                    raise DemoError(f"chunk {index} of {name} failed: {r.status_code} {r.text}")
            http.post(f"{model}/files/{file_id}/complete").raise_for_status()
            say(f"2. uploaded {name}: {len(data)} bytes in {len(parts)} gzip chunks")

        task = _run(http, model, "processes", PROCESS, say)
        nested = task["result"].get("nestedResults", [])
        for step in nested:
            say(
                f"   step {step['objectId']}: successful={step['successful']} - "
                + "; ".join(d["localMessageText"].strip() for d in step.get("details", []))
            )
        if not task["result"]["successful"]:
            raise DemoError(f"process {PROCESS} failed: {task['result']}")

        _run(http, model, "exports", EXPORT, say)
        chunks = http.get(f"{model}/files/{EXPORT}/chunks").json().get("chunks", [])
        data = b"".join(http.get(f"{model}/files/{EXPORT}/chunks/{c['id']}").content for c in chunks)
        say(f"5. downloaded export {EXPORT}: {len(data)} bytes in {len(chunks)} chunk(s)")
        exported = list(csv.reader(io.StringIO(data.decode("utf-8"))))
        if exported[0] != ["Product", "Month", "Revenue"]:
            raise DemoError(f"unexpected export header {exported[0]}")
        got = sorted((p, m, float(v)) for p, m, v in exported[1:])
        if got != sorted(rows):
            raise DemoError(f"export differs from the upload: {len(got)} rows vs {len(rows)} uploaded")
        say(f"6. verified: the {len(got)} exported rows equal the uploaded revenue rows")


def _run(http: httpx.Client, model: str, kind: str, action_id: str, say: Callable[[str], None]) -> dict:
    r = http.post(f"{model}/{kind}/{action_id}/tasks", json={"localeName": "en_US"})
    if r.status_code != 200:
        raise DemoError(f"starting {kind} {action_id} failed: {r.status_code} {r.text}")
    task_id = r.json()["task"]["taskId"]
    say(
        f"{'3' if kind == 'processes' else '4'}. started {kind[:-1] if kind != 'processes' else 'process'} "
        f"{action_id}: task {task_id}"
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        task = http.get(f"{model}/{kind}/{action_id}/tasks/{task_id}").json()["task"]
        if task["taskState"] in ("COMPLETE", "CANCELLED"):
            say(
                f"   task {task_id}: {task['taskState']}, successful={task.get('result', {}).get('successful')}"
            )
            if task["taskState"] != "COMPLETE":
                raise DemoError(f"task {task_id} ended {task['taskState']}")
            return task
        time.sleep(0.05)
    raise DemoError(f"task {task_id} did not finish in time")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=None, help="the emulator's port (default: a free port)")
    args = parser.parse_args(argv)
    if args.port:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", args.port))
            except OSError:
                print(
                    f"FAILED: port {args.port} is in use; pick another (make demo-http PORT=N)",
                    file=sys.stderr,
                )
                return 1
    port = args.port or _free_port()
    url = f"http://127.0.0.1:{port}"
    root = Path(__file__).resolve().parents[1]
    print(f"0. starting the Anaplan emulator on {url}")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_anaplan.testing.emulator",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-banner",
        ],
        cwd=root,
    )
    try:
        for _ in range(300):
            if process.poll() is not None:
                print(f"FAILED: the emulator exited with code {process.returncode}", file=sys.stderr)
                return 1
            try:
                if httpx.get(f"{url}/_emulator/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        run_demo(url)
    except (DemoError, httpx.HTTPError) as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        print("7. stopped the emulator")
    print("OK: demo round trip succeeded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
