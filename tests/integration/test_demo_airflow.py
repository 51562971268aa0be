"""``scripts/demo_airflow.py`` (the Airflow demo) runs end to end and prints its summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import report

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]


def test_demo_airflow(tmp_path: Path) -> None:
    """Exit 0; rows imported, export size and the output files are reported; the files exist."""
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo_airflow.py"), "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=380,
        check=False,
    )
    output = result.stdout + result.stderr
    print(output)
    assert result.returncode == 0, output[-8000:]
    assert "Demo succeeded" in output
    summary = next(line for line in output.splitlines() if line.startswith("Rows imported:"))
    imported = int(summary.split()[2])
    assert imported > 0, summary
    assert "export size: 0 bytes" not in summary, summary
    outputs = [line.split("Output file: ", 1)[1] for line in output.splitlines() if "Output file: " in line]
    assert outputs, output
    for entry in outputs:
        path = Path(entry.rsplit(" (", 1)[0].removeprefix("file://"))
        assert path.is_file() and path.stat().st_size > 0, entry
    assert "wall time" in output.splitlines()[-1]
    report(f"[demo] {summary}; {output.splitlines()[-1].strip()}")
