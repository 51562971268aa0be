"""``scripts/demo_airflow.py`` (the Airflow demo) runs end to end on the port it is given (``make demo
PORT=N``) and prints its summary; a port in use fails at once with a clear message."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_anaplan.testing.pytest_plugin import free_port

from .helpers import report

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "scripts" / "demo_airflow.py"


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_demo_airflow(tmp_path: Path) -> None:
    """Exit 0 with the emulator on the given port; rows imported, export size and the output files are
    reported; the files exist."""
    port = free_port()
    result = subprocess.run(
        [sys.executable, str(DEMO), "--out", str(tmp_path), "--port", str(port)],
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
    assert f"1. Anaplan emulator running at http://127.0.0.1:{port} " in output
    assert f"model page: http://127.0.0.1:{port}/anaplan/framework.jsp?" in output
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


def test_demo_airflow_refuses_a_port_in_use(tmp_path: Path) -> None:
    """Fails before starting anything (no Airflow, no emulator) and says how to pick another port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(DEMO), "--out", str(tmp_path), "--port", str(port)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"port {port} is in use" in result.stdout and "make demo PORT=N" in result.stdout
    assert "Anaplan emulator running" not in result.stdout
