"""The fault soak (``benchmarks/soak.py``) at a small size: integrity and exactly one task per cycle.

The full run is ``.venv/bin/python benchmarks/soak.py --cycles 50 --fault-rate 0.10`` (docs/reliability.md).
"""

from __future__ import annotations

import pytest

from .conftest import load_benchmark

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

CYCLES = 8


def test_soak_small_keeps_every_byte_and_creates_one_task_per_cycle() -> None:
    """8 cycles, ~10 % faulted bulk requests, tokens expired mid-upload and mid-download."""
    soak = load_benchmark("soak")
    report = soak.run_soak(
        CYCLES,
        fault_rate=0.10,
        items=4500,  # ~1.24 MB per upload: 2 upload chunks of 1 MB, 5 export chunks of 256 KiB
        retry_after=0.2,
        token_ttl=8.0,
        expire_every=2,
        progress=None,
    )
    print("\n" + soak.format_report(report, f"run_soak({CYCLES}) in tests/reliability/test_soak.py"))
    assert not report.failures, report.failures
    assert report.cycles_completed == CYCLES
    # Integrity: the file Anaplan holds, the exported download and the module all equal the upload.
    assert report.upload_file_matches == report.export_matches == report.module_matches == CYCLES
    assert report.bytes_verified == report.bytes_uploaded > CYCLES * 1_000_000
    assert report.cells_verified == CYCLES * 4500 * 12
    # Exactly one task creation per action per cycle, also by the emulator's totals.
    assert report.tasks_per_cycle == {soak.IMPORT_ID: [1] * CYCLES, soak.EXPORT_ID: [1] * CYCLES}
    assert report.tasks_created == {soak.IMPORT_ID: CYCLES, soak.EXPORT_ID: CYCLES}
    # The faults really happened and were absorbed by retries, replays and task adoption.
    assert 0.03 <= report.fault_fraction <= 0.25, report.faults_injected
    assert report.retries.get("http_retry", 0) >= 1, report.retries
    assert report.retries.get("task_adopted", 0) >= 2, report.retries  # the two scripted ambiguous POSTs
    assert report.retries.get("task_start_unknown", 0) == 0, report.retries
    assert report.forced_token_expiries == CYCLES // 2
    assert report.retries.get("reauth_replay", 0) >= report.forced_token_expiries, report.retries
    assert report.ok
