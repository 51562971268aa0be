"""How fast the emulator takes in gzip chunk uploads (it must not be the bottleneck of upload benchmarks).

Starts the emulator as a subprocess, PUTs concurrent gzip chunks of raw CSV to one file and prints
the intake rate in MB/s of raw (decompressed) data. Usage::

    .venv/bin/python benchmarks/emulator_intake.py [--total-mb 500] [--chunk-mb 10] [--concurrency 6]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import httpx
from isal import igzip

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from airflow_provider_anaplan.testing.pytest_plugin import run_emulator_subprocess  # noqa: E402

MB = 1024 * 1024


def make_chunk(index: int, size: int) -> bytes:
    """About ``size`` bytes of CSV rows (distinct per chunk)."""
    rows = []
    total = 0
    row = 0
    while total < size:
        line = f"SKU-{index:04d}-{row:07d},Jan 26,{(row * 7919) % 100000}.{row % 100:02d}\n"
        rows.append(line)
        total += len(line)
        row += 1
    return "".join(rows).encode()[:size]


async def upload(url: str, total_mb: int, chunk_mb: int, concurrency: int) -> tuple[float, int]:
    chunks = max(1, total_mb // chunk_mb)
    print(f"preparing {chunks} gzip chunks of {chunk_mb} MB raw CSV ...", flush=True)
    distinct = [igzip.compress(make_chunk(i, chunk_mb * MB), compresslevel=1) for i in range(min(chunks, 8))]
    compressed = sum(len(distinct[i % len(distinct)]) for i in range(chunks))
    async with httpx.AsyncClient(base_url=url, timeout=300.0) as http:
        token = (await http.post("/token/authenticate", auth=("demo@example.com", "emulator-demo-pw"))).json()[
            "tokenInfo"
        ]["tokenValue"]
        http.headers["Authorization"] = f"AnaplanAuthToken {token}"
        model = "/2/0/workspaces/8a868cd985f53e7701860542f59e276e/models/75A40874E6B64FA3AE0B4E5D5B4B9A0B"
        (await http.post(f"{model}/files/113000000001", json={"chunkCount": chunks})).raise_for_status()
        queue: asyncio.Queue[int] = asyncio.Queue()
        for index in range(chunks):
            queue.put_nowait(index)

        async def worker() -> None:
            while not queue.empty():
                index = queue.get_nowait()
                r = await http.put(
                    f"{model}/files/113000000001/chunks/{index}",
                    content=distinct[index % len(distinct)],
                    headers={"Content-Type": "application/x-gzip"},
                )
                if r.status_code != 204:
                    raise RuntimeError(f"chunk {index}: HTTP {r.status_code} {r.text}")

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
        done = (await http.post(f"{model}/files/113000000001/complete")).json()["file"]
        assert done["chunkCount"] == chunks, done
    print(
        f"compressed bytes sent: {compressed / MB:.1f} MB (ratio {chunks * chunk_mb * MB / compressed:.1f}x)"
    )
    return elapsed, chunks * chunk_mb


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--total-mb", type=int, default=500)
    parser.add_argument("--chunk-mb", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument(
        "--spool-threshold-mb", type=int, default=None, help="keep up to N MB in memory (default 64)"
    )
    args = parser.parse_args()
    with run_emulator_subprocess() as emulator:
        if args.spool_threshold_mb is not None:
            emulator.admin.configure(spool_threshold_bytes=args.spool_threshold_mb * MB)
        elapsed, raw_mb = asyncio.run(upload(emulator.url, args.total_mb, args.chunk_mb, args.concurrency))
    print(
        f"emulator intake: {raw_mb} MB raw in {elapsed:.2f} s = {raw_mb / elapsed:.0f} MB/s "
        f"({args.concurrency} concurrent gzip chunks of {args.chunk_mb} MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
