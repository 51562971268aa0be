"""The Airflow demo: run the headline example DAG with ``airflow dags test`` against the emulator.

Steps: create a temporary SQLite ``AIRFLOW_HOME`` and migrate it; start the Anaplan emulator as a
subprocess (on ``--port``, default a free port); point ``AIRFLOW_CONN_ANAPLAN_DEFAULT`` at it (basic
auth as ``demo@example.com``, the seed's workspace and model); run the DAG that uploads files, imports
them through a process, runs an export and downloads it; print a summary (rows imported and rejected,
export size, where the files went) from the run's XComs and the emulator's admin API; stop the
emulator. Exits non-zero when any step fails, and prints its wall time.

The DAG is ``example_anaplan_end_to_end`` from ``example_dags/`` unless ``--dag-id`` /
``--dags-folder`` say otherwise.

    python scripts/demo_airflow.py [--port N] [--dag-id ID] [--dags-folder DIR] [--out DIR] [--keep-home]

``make demo PORT=8800`` passes ``--port 8800``.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from airflow_provider_anaplan.testing.airflow_stack import AirflowStack  # noqa: E402
from airflow_provider_anaplan.testing.emulator.banner import model_link  # noqa: E402
from airflow_provider_anaplan.testing.pytest_plugin import (  # noqa: E402
    EmulatorHandle,
    run_emulator_subprocess,
)

PRODUCTS_LIST = "101000000001"
REVENUE_MODULE = "102000000001"
HEADLINE_DAG_ID = "example_anaplan_end_to_end"


def say(message: str) -> None:
    """One line of progress, flushed at once."""
    print(message, flush=True)


def run_results(stack: AirflowStack, dag_id: str) -> tuple[str | None, str | None, dict[str, Any]]:
    """The latest run's id and state, and each task's ``return_value`` XCom."""
    runs = stack.query(
        "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
    )
    if not runs:
        return None, None, {}
    run_id, state = runs[0]["run_id"], runs[0]["state"]
    results: dict[str, Any] = {}
    tis = stack.task_instances(dag_id, run_id)
    for ti in sorted(tis, key=lambda t: (t["start_date"] or "", t["task_id"])):
        results[ti["task_id"]] = {"state": ti["state"], "xcom": stack.xcom(dag_id, run_id, ti["task_id"])}
    return run_id, state, results


def summarize(results: dict[str, Any], emulator: EmulatorHandle) -> list[str]:
    """Summary lines: per task, rows imported/rejected, bytes written and where; emulator totals."""
    lines: list[str] = []
    imported = rejected = 0
    files: list[tuple[str, int | None]] = []
    for task_id, info in results.items():
        value = info["xcom"]
        line = f"  {task_id:<28} {info['state']}"
        if isinstance(value, dict):
            rows = value.get("rows") or {}
            if rows:
                ok = int(rows.get("successful") or 0)
                # Anaplan's "ignored" count already includes the failed rows.
                bad = max(int(rows.get("failed") or 0), int(rows.get("ignored") or 0))
                imported += ok if value.get("action_id", "").startswith(("112", "118")) else 0
                rejected += bad
                line += f"  rows: {ok} loaded, {bad} rejected"
            if value.get("destination"):
                files.append((str(value["destination"]), value.get("bytes")))
                line += f"  wrote {value.get('bytes')} bytes to {value['destination']}"
            for dump in value.get("dumps") or []:
                files.append((str(dump), None))
        lines.append(line)
    products = emulator.admin.list_items(PRODUCTS_LIST)
    cells = emulator.admin.module_cells(REVENUE_MODULE)
    created = emulator.admin.counters().get("tasks_created", {})
    # The export's size: from the export task (when it wrote a destination) or a download of it.
    export_bytes = max(
        (
            int(info["xcom"].get("bytes") or 0)
            for info in results.values()
            if isinstance(info["xcom"], dict)
            and str(info["xcom"].get("action_id") or info["xcom"].get("file_id") or "").startswith("116")
        ),
        default=0,
    )
    lines += [
        f"Rows imported: {imported}   rows rejected: {rejected}   export size: {export_bytes} bytes",
        f"Emulator now holds {len(products)} Products members and {len(cells)} Revenue cells; "
        f"Anaplan tasks run: {sum(created.values())} ({', '.join(f'{k}: {v}' for k, v in sorted(created.items()))})",
    ]
    for path, size in files:
        actual = Path(path.removeprefix("file://"))
        shown = size if size is not None else (actual.stat().st_size if actual.exists() else "?")
        lines.append(f"Output file: {path} ({shown} bytes)")
    return lines


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether ``host:port`` cannot be bound (another emulator or any other server listens there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    """Run the demo; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dag-id", default=HEADLINE_DAG_ID, help="DAG to run (default: %(default)s)")
    parser.add_argument("--dags-folder", type=Path, default=REPO / "example_dags")
    parser.add_argument("--out", type=Path, default=REPO / "demo_output", help="where the DAG writes files")
    parser.add_argument("--keep-home", action="store_true", help="keep the temporary AIRFLOW_HOME")
    parser.add_argument("--port", type=int, default=None, help="the emulator's port (default: a free port)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    dags_folder: Path = args.dags_folder.resolve()
    dag_id = args.dag_id
    say(f"DAG: {dag_id} from {dags_folder}")

    if args.port and port_in_use(args.port):
        say(f"Demo FAILED: port {args.port} is in use; pick another (make demo PORT=N) or leave it out")
        return 1
    code = 1
    with contextlib.ExitStack() as emulator_stack:
        try:
            emulator = emulator_stack.enter_context(
                run_emulator_subprocess(port=args.port, extra_args=["--no-banner"])
            )
        except (RuntimeError, TimeoutError) as exc:
            where = f"port {args.port}" if args.port else "a free port"
            say(f"Demo FAILED: the Anaplan emulator did not start on {where}: {exc}")
            return 1
        say(
            f"1. Anaplan emulator running at {emulator.url} (pid {emulator.process.pid if emulator.process else '?'})"
        )
        say(f"   model page: {model_link(emulator.url, emulator.workspace_id, emulator.model_id)}")
        stack = AirflowStack(
            dags_folder,
            env={
                "AIRFLOW_CONN_ANAPLAN_DEFAULT": emulator.airflow_connection(),
                "ANAPLAN_EXAMPLE_OUT": str(out),
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            },
            keep_home=args.keep_home,
        )
        try:
            stack.migrate()
            say(f"2. SQLite metadata database ready in {stack.home}")
            log_name = "dags-test.log"
            say(f"3. airflow dags test {dag_id} ... (log: {out / 'airflow_dags_test.log'})")
            test_started = time.monotonic()
            result = stack.run_cli(["dags", "test", dag_id], log_name)
            run_id, state, results = run_results(stack, dag_id)
            kept_log = out / "airflow_dags_test.log"
            kept_log.write_bytes((stack.logs_dir / log_name).read_bytes())
            say(
                f"   exit {result.returncode}, run {run_id}: {state} in {time.monotonic() - test_started:.1f} s"
            )
            if result.returncode != 0 or state != "success":
                tail = "\n".join(kept_log.read_text(errors="replace").splitlines()[-60:])
                say(f"The DAG run failed; last lines of {kept_log}:\n{tail}")
            else:
                code = 0
            say("4. Summary")
            for line in summarize(results, emulator):
                say(line)
        finally:
            if args.keep_home:
                say(f"AIRFLOW_HOME kept at {stack.home}")
            stack.stop()
    say(
        f"5. Emulator stopped. {'Demo succeeded' if code == 0 else 'Demo FAILED'}; "
        f"wall time {time.monotonic() - started:.1f} s"
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
