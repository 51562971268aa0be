"""The pytest plugin as a user gets it: a fresh project directory, a child pytest, documented fixtures only.

The project is made of the "Testing your DAGs" section of the README and the pytest section of
docs/emulator.md (every ``python`` block whose first line is ``# <path>.py`` becomes that file), plus a
test file of our own that uses the other documented fixtures and options.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SECTIONS = [
    (REPO / "README.md", "## Testing your DAGs"),
    (REPO / "docs" / "emulator.md", "## Using it in your own DAG tests (pytest)"),
]
BLOCK = re.compile(r"^```python\n# (?P<path>[\w./-]+\.py)\n(?P<body>.*?)^```", re.S | re.M)

OUR_TESTS = '''
import json
import os
from pathlib import Path

DAGS = Path(__file__).parents[1] / "dags"


def test_home_and_database(anaplan_airflow_home, anaplan_airflow_db):
    from airflow.configuration import conf

    assert anaplan_airflow_db == anaplan_airflow_home and os.environ["AIRFLOW_HOME"] == str(anaplan_airflow_home)
    assert conf.get("database", "sql_alchemy_conn") == f"sqlite:///{anaplan_airflow_home}/airflow.db"
    assert (anaplan_airflow_home / "airflow.db").stat().st_size > 0
    print("HOME=" + str(anaplan_airflow_home))


def test_dag_file_with_two_dags(anaplan_dag_runner, anaplan_emulator, anaplan_fast_polling):
    assert anaplan_fast_polling == 0.25  # from pytest.ini
    dag = anaplan_dag_runner.load(DAGS / "two_dags.py", dag_id="export_revenue")
    assert dag.task_dict["export"].poll_interval == 0.25
    dag_run = anaplan_dag_runner.run(DAGS / "two_dags.py", dag_id="export_revenue", run_conf={"x": 1})
    assert anaplan_dag_runner.states(dag_run) == {"export": "success"}
    result = anaplan_dag_runner.xcom(dag_run, "export")
    assert result["bytes"] > 0 and Path(result["destination"]).read_bytes().startswith(b"Product")


def test_connection_only(anaplan_connection, monkeypatch):
    conn = json.loads(os.environ["AIRFLOW_CONN_ANAPLAN_DEFAULT"])
    assert conn["conn_type"] == "anaplan" and conn["extra"]["api_url"] == anaplan_connection.api_url
'''

TWO_DAGS = '''
import tempfile
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_anaplan.operators.export import AnaplanExportOperator

with DAG(dag_id="export_revenue", schedule=None, start_date=datetime(2026, 1, 1)):
    AnaplanExportOperator(
        task_id="export", export_id="116000000000", destination=tempfile.mkdtemp() + "/revenue.csv"
    )

with DAG(dag_id="another", schedule=None, start_date=datetime(2026, 1, 1)):
    pass
'''

HOME_ONLY = '''
import os


def test_home_only(anaplan_airflow_home):
    print("HOME=" + str(anaplan_airflow_home))
    assert os.environ["AIRFLOW_HOME"] == str(anaplan_airflow_home)
'''


def documented_files() -> dict[str, str]:
    files: dict[str, str] = {}
    for doc, heading in SECTIONS:
        text = doc.read_text(encoding="utf-8")
        start = text.index(heading + "\n")
        end = text.find("\n## ", start + len(heading))
        for block in BLOCK.finditer(text[start : end if end > 0 else None]):
            path, body = block["path"], block["body"]
            assert files.get(path, body) == body, f"{path} is documented twice, differently"
            files[path] = body
    return files


def child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST", "_AIRFLOW"))}


def run_pytest(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", *args],
        cwd=project,
        env=env or child_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )


def homes(output: str) -> list[Path]:
    return [Path(m) for m in re.findall(r"HOME=(\S+)$", output, re.M)]


def test_documented_project_passes_in_a_fresh_directory(tmp_path: Path) -> None:
    files = documented_files()
    assert {"tests/conftest.py", "dags/load_products.py", "tests/test_load_products.py"} <= set(files)
    assert "tests/test_with_faults.py" in files
    for path, body in {
        **files,
        "dags/two_dags.py": TWO_DAGS,
        "tests/test_our_fixtures.py": OUR_TESTS,
        "pytest.ini": "[pytest]\nanaplan_poll_interval = 0.25\n",
    }.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(body), encoding="utf-8")

    out = run_pytest(tmp_path, "-s", "tests")
    report = out.stdout[-6000:] + out.stderr[-3000:]
    assert out.returncode == 0, report
    passed = set(re.findall(r"^PASSED (\S+)", out.stdout, re.M))
    expected = {
        "tests/test_load_products.py::test_load_products",
        "tests/test_load_products.py::test_a_second_connection",
        "tests/test_with_faults.py::test_status_polls_survive_rate_limiting",
        "tests/test_with_faults.py::test_operator_execute_without_a_dag_run",
        "tests/test_our_fixtures.py::test_home_and_database",
        "tests/test_our_fixtures.py::test_dag_file_with_two_dags",
        "tests/test_our_fixtures.py::test_connection_only",
    }
    assert expected <= passed, report
    header = re.search(r"^anaplan: AIRFLOW_HOME=(\S+) \(isolated, SQLite\)$", out.stdout, re.M)
    assert header, out.stdout[:3000]
    [home] = homes(out.stdout)
    assert str(home) == header[1] and home.name.startswith("anaplan-airflow-home-")
    assert not home.exists()  # deleted after the run


def test_keep_and_inherit_options(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text(
        'pytest_plugins = ["airflow_provider_anaplan.testing.pytest_plugin"]\n'
    )
    (tmp_path / "tests" / "test_home_only.py").write_text(textwrap.dedent(HOME_ONLY))

    kept = run_pytest(tmp_path, "-s", "--anaplan-keep-airflow-home", "tests")
    assert kept.returncode == 0, kept.stdout[-3000:] + kept.stderr[-3000:]
    [home] = homes(kept.stdout)
    try:
        assert (home / "dags").is_dir()
    finally:
        import shutil

        shutil.rmtree(home, ignore_errors=True)

    mine = tmp_path / "my-airflow-home"
    inherit = run_pytest(
        tmp_path, "-s", "-o", "anaplan_airflow_home=inherit", "tests", env={**child_env(), "AIRFLOW_HOME": str(mine)}
    )
    assert inherit.returncode == 0, inherit.stdout[-3000:] + inherit.stderr[-3000:]
    assert homes(inherit.stdout) == [mine]
    assert "anaplan: AIRFLOW_HOME" not in inherit.stdout

    bad = run_pytest(tmp_path, "-o", "anaplan_airflow_home=elsewhere", "tests")
    assert bad.returncode != 0 and "anaplan_airflow_home must be one of" in bad.stderr
