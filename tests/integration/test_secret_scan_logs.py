"""Secret scan of a real Airflow deployment's files (issue 6, item 4; complements tests/security).

The package's emulator user has a random sentinel password and the emulator records every access
and refresh token it mints (``conftest.py``, ``recording_emulator.py``). This test runs after the
other real-Airflow tests of the package (deferred import, triggerer crash and restart, worker crash
and retry) and before the stack is torn down, and searches:

* every file under the stack's ``AIRFLOW_HOME``, byte for byte: the task logs of every try, the
  triggerer's trigger logs, each component's output (``<component>[.N].out``), the dag-processor's
  logs, ``airflow.cfg`` and the SQLite files themselves;
* every cell of every table of the metadata database (XCom values, trigger kwargs, rendered
  fields, audit log, ...), read through SQL;

for the sentinel password, the ``Basic`` header value built from it, and every token the emulator
minted; and for anything shaped like a credential in the clear (``AnaplanAuthToken <value>``,
``Bearer <value>``, a ``tokenValue``/``access_token``/``refresh_token`` field with a value) that is
not a redaction (``***``). A finding names the file and line (or table, column and row) and shows
the line with every secret replaced by a marker such as ``<sentinel password>``; secrets are never
printed.

It cannot pass vacuously: it requires the files it read to include every component's output and
task logs of an Anaplan DAG with the operator's own lines (``Started Anaplan task``), a trigger log
with the provider trigger's poll lines, an XCom row of an Anaplan task, at least one minted token,
and the sentinel in the connection the stack's components were given. When no deferrable Anaplan run happened before it (run alone or with a
subset of the package), it first runs the deferrable import DAG itself.
"""

from __future__ import annotations

import base64
import re
import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from airflow_provider_anaplan.testing.airflow_stack import COMPONENTS, AirflowStack
from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle

from .helpers import report
from .recording_emulator import minted_tokens

#: The operator's own log line (``operators/base.py``): proof a task log of an Anaplan task was read.
OPERATOR_LINE = "Started Anaplan task"
NEWLINE = b"\n"
ANAPLAN_DAGS = ("it_anaplan_deferred_import", "it_anaplan_triggerer_crash", "it_anaplan_worker_crash")
#: A credential in the clear: a scheme or field name followed by a value that is not a redaction.
CLEAR_CREDENTIAL = re.compile(
    r"(?P<label>AnaplanAuthToken|Bearer)\s+(?P<value>(?!\*\*\*)[A-Za-z0-9._~+/=-]{8,})"
    r"|(?P<field>tokenValue|access_token|refresh_token)['\"]?\s*[:=]\s*['\"]?(?P<fvalue>(?!\*\*\*)[A-Za-z0-9._~+/=-]{8,})"
)


@dataclass
class Scan:
    """Searches texts for known secrets and clear credentials; findings are redacted."""

    secrets: Mapping[str, str]
    findings: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    bytes_read: int = 0
    cells: int = 0

    def redact(self, text: str) -> str:
        for name, secret in self.secrets.items():
            text = text.replace(secret, f"<{name}>")
        text = CLEAR_CREDENTIAL.sub(
            lambda m: f"{m.group('label') or m.group('field')} <redacted value>", text
        )
        return text[:240]

    def search(self, where: str, data: bytes, lines: bool = True) -> None:
        """Report every secret and clear credential in ``data``, located as ``where:line``."""

        def located(at: int) -> str:
            return f"{where}:{data.count(NEWLINE, 0, at) + 1}" if lines else where

        def line_at(at: int) -> str:
            start = data.rfind(NEWLINE, 0, at) + 1
            end = data.find(NEWLINE, at)
            return data[start : end if end != -1 else len(data)].decode("utf-8", "replace")

        for name, secret in self.secrets.items():
            needle = secret.encode()
            at = data.find(needle)
            while at != -1:
                self.findings.append(f"{located(at)}: {name}: {self.redact(line_at(at))!r}")
                at = data.find(needle, at + 1)
        text = data.decode("utf-8", "replace")
        for match in CLEAR_CREDENTIAL.finditer(text):
            at = len(text[: match.start()].encode("utf-8", "replace"))
            label = match.group("label") or match.group("field")
            self.findings.append(
                f"{located(at)}: {label} with a value in the clear: {self.redact(line_at(at))!r}"
            )

    def file(self, path: Path, root: Path) -> None:
        data = path.read_bytes()
        self.files.append(path)
        self.bytes_read += len(data)
        self.search(str(path.relative_to(root)), data)

    def database(self, db: Path) -> dict[str, list[tuple[object, ...]]]:
        """Every cell of every table (read-only); returns the rows of the ``xcom`` table."""
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        xcom: list[tuple[object, ...]] = []
        try:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                cursor = conn.execute(f'SELECT * FROM "{table}"')
                columns = [d[0] for d in cursor.description]
                for n, row in enumerate(cursor.fetchall(), 1):
                    if table == "xcom":
                        xcom.append(tuple(row))
                    for column, value in zip(columns, row, strict=True):
                        if value is None:
                            continue
                        self.cells += 1
                        raw = value if isinstance(value, bytes) else str(value).encode()
                        self.search(f"{db.name} table {table}.{column} row {n}", raw, lines=False)
        finally:
            conn.close()
        return {"xcom": xcom}


def secrets_of(password: str, user: str, minted: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """Name -> secret: the password, its ``Basic`` header value, every minted token."""
    out = {
        "sentinel password": password,
        "Basic header with the sentinel password": base64.b64encode(f"{user}:{password}".encode()).decode(),
    }
    for kind, tokens in minted.items():
        out.update({f"{kind} token #{i}": token for i, token in enumerate(tokens)})
    return out


def scan_home(
    stack: AirflowStack, secrets: Mapping[str, str]
) -> tuple[Scan, dict[str, list[tuple[object, ...]]]]:
    scan = Scan(secrets)
    for path in sorted(p for p in stack.home.rglob("*") if p.is_file()):
        scan.file(path, stack.home)
    tables = scan.database(stack.db_path)
    return scan, tables


def anaplan_task_logs(stack: AirflowStack) -> list[Path]:
    return sorted(
        p for dag in ANAPLAN_DAGS for p in (stack.logs_dir / f"dag_id={dag}").rglob("*") if p.is_file()
    )


def is_trigger_log(path: Path) -> bool:
    """The triggerer's log of a deferred try (``attempt=N.log.trigger.<job id>.log``)."""
    return ".log.trigger." in path.name


def run_deferred_import(stack: AirflowStack, emulator: EmulatorHandle) -> None:
    """When no deferrable Anaplan run happened before (this test run alone or with a subset):
    one deferrable import, so there are task and trigger logs to scan."""
    emulator.admin.reset()
    emulator.admin.configure(min_task_seconds=8.0)
    dag_id = "it_anaplan_deferred_import"
    run_id = stack.trigger_dag(dag_id)
    state = stack.wait_for_dag_run(dag_id, run_id, timeout=240)
    assert state == "success", stack.task_instances(dag_id, run_id)


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_no_secret_in_airflow_logs_or_metadata_db(
    airflow_stack_shared: AirflowStack, emulator_process: EmulatorHandle, sentinel_password: str
) -> None:
    """No password, Basic header, token or clear credential in any file of AIRFLOW_HOME or DB cell."""
    stack = airflow_stack_shared
    # The secret was in play: the components' connection carries the sentinel, not the seed's password.
    conn = stack.env["AIRFLOW_CONN_ANAPLAN_DEFAULT"]
    assert sentinel_password in conn and emulator_process.password == sentinel_password, "sentinel not in use"
    if not any(is_trigger_log(p) for p in anaplan_task_logs(stack)):
        run_deferred_import(stack, emulator_process)
    time.sleep(1.0)  # let the last log writes (task and trigger handlers) land

    minted = minted_tokens(emulator_process)
    assert minted["access"], "the emulator minted no access token: the Anaplan tasks never authenticated"
    started = time.monotonic()
    scan, tables = scan_home(stack, secrets_of(sentinel_password, emulator_process.user, minted))
    elapsed = time.monotonic() - started

    # Not vacuous: the scan read the components' output and real task logs of Anaplan tasks.
    scanned = set(scan.files)
    missing = [c for c in COMPONENTS if stack.components[c].log_path not in scanned]
    assert not missing, f"component logs not scanned: {missing}"
    task_logs = [p for p in anaplan_task_logs(stack) if p in scanned]
    with_operator_lines = [p for p in task_logs if OPERATOR_LINE.encode() in p.read_bytes()]
    assert with_operator_lines, f"no scanned task log has the operator's line {OPERATOR_LINE!r}: {task_logs}"
    trigger_logs = [p for p in task_logs if is_trigger_log(p)]
    assert any(b"Anaplan task " in p.read_bytes() for p in trigger_logs), (
        f"no scanned trigger log has the provider trigger's poll lines: {trigger_logs}"
    )
    xcom_rows = [row for row in tables["xcom"] if any("112000000000" in str(v) for v in row)]
    assert xcom_rows, "no XCom row of an Anaplan task in the metadata database"

    report(
        f"[secret scan] {len(scan.files)} files ({scan.bytes_read} bytes) under AIRFLOW_HOME, "
        f"{len(task_logs)} Anaplan task logs ({len(with_operator_lines)} with operator lines, "
        f"{len(trigger_logs)} trigger logs), {scan.cells} DB cells ({len(tables['xcom'])} XCom rows) "
        f"in {elapsed:.1f} s; secrets: sentinel password + Basic header + {len(minted['access'])} access "
        f"/ {len(minted['refresh'])} refresh tokens; findings: {len(scan.findings)}"
    )
    if scan.findings:
        pytest.fail(
            f"{len(scan.findings)} secret(s) or clear credential(s) found (values redacted):\n"
            + "\n".join(scan.findings[:100]),
            pytrace=False,
        )


def test_scan_reports_planted_secrets(tmp_path: Path) -> None:
    """Control: the scan finds a planted secret in a log file and in a DB cell, located, redacted."""
    secret = "pw-SENTINEL-planted0123456789"
    token = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCdEfGh"
    log = tmp_path / "logs" / "task.log"
    log.parent.mkdir()
    log.write_text(
        f"line one\nconnecting with {secret} now\nheader AnaplanAuthToken {token}\nmasked Bearer ***\n"
    )
    db = tmp_path / "airflow.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE xcom (key TEXT, value TEXT)")
        conn.execute("INSERT INTO xcom VALUES ('return_value', ?)", (f'{{"tokenValue": "{token}"}}',))
    conn.close()
    scan = Scan({"sentinel password": secret, "access token #0": token})
    scan.file(log, tmp_path)
    scan.database(db)
    text = "\n".join(scan.findings)
    assert "logs/task.log:2: sentinel password" in text, text
    assert "logs/task.log:3: access token #0" in text, text
    assert "logs/task.log:3: AnaplanAuthToken with a value in the clear" in text, text
    assert "airflow.db table xcom.value row 1: access token #0" in text, text
    assert "airflow.db table xcom.value row 1: tokenValue with a value in the clear" in text, text
    assert ":4:" not in text, text  # a masked value is not a finding
    assert secret not in text and token not in text, "a finding printed the secret"
