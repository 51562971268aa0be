"""The pytest plugin's Airflow pieces, in this session: isolated home, connection, fast polling, DAG runs."""

from __future__ import annotations

import json
import os
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_anaplan.testing.airflow_home import (
    DEFAULT_FAST_POLL_INTERVAL,
    fast_polling,
    is_isolated,
    load_dag_file,
)

IMPORT_PRODUCTS, FILE_PRODUCTS, PRODUCTS_LIST = "112000000000", "113000000000", "101000000001"


def test_the_session_runs_in_an_isolated_home(anaplan_airflow_db: Path) -> None:
    from airflow.configuration import conf

    assert is_isolated()
    assert os.environ["AIRFLOW_HOME"] == str(anaplan_airflow_db)
    assert anaplan_airflow_db.is_relative_to(Path(tempfile.gettempdir()).resolve())
    assert (anaplan_airflow_db / "airflow.db").is_file() and (anaplan_airflow_db / "dags").is_dir()
    assert conf.get("database", "sql_alchemy_conn") == f"sqlite:///{anaplan_airflow_db}/airflow.db"
    assert conf.getboolean("core", "load_examples") is False


def test_anaplan_connection_points_at_the_emulator(anaplan_connection: Any) -> None:
    from airflow_provider_anaplan.hooks.anaplan import AnaplanHook

    conn = json.loads(os.environ["AIRFLOW_CONN_ANAPLAN_DEFAULT"])
    assert conn["login"] == anaplan_connection.user and conn["password"] == anaplan_connection.password
    assert conn["extra"]["api_url"] == anaplan_connection.api_url
    assert conn["extra"]["workspace_id"] == anaplan_connection.workspace_id
    extra = json.loads(anaplan_connection.airflow_connection(timeout=7, model_id="0" * 32))["extra"]
    assert extra["timeout"] == 7 and extra["model_id"] == "0" * 32  # keyword arguments override extras
    ok, message = AnaplanHook().test_connection()
    assert ok, message


def _operators() -> tuple[Any, Any]:
    from airflow_provider_anaplan.operators.imports import AnaplanImportOperator
    from airflow_provider_anaplan.sensors.task import AnaplanTaskSensor

    op = AnaplanImportOperator(task_id="load", import_id=IMPORT_PRODUCTS)  # default poll_interval 5
    sensor = AnaplanTaskSensor(task_id="watch", action_id=IMPORT_PRODUCTS, task_id_to_watch="x", poke_interval=60)
    return op, sensor


def test_fast_polling_caps_operators_and_sensors_built_before_and_inside() -> None:
    from airflow_provider_anaplan.operators.imports import AnaplanImportOperator

    before, sensor = _operators()
    assert (before.poll_interval, sensor.poke_interval) == (5.0, 60.0)
    with fast_polling(0.3) as interval:
        assert interval == 0.3
        assert (before.poll_interval, sensor.poke_interval) == (0.3, 0.3)
        quicker = AnaplanImportOperator(task_id="quick", import_id=IMPORT_PRODUCTS, poll_interval=0.1)
        assert quicker.poll_interval == 0.1  # smaller explicit values are kept
        with fast_polling(0.2):
            assert before.poll_interval == 0.2
        assert before.poll_interval == 0.3
    assert (before.poll_interval, sensor.poke_interval, quicker.poll_interval) == (5.0, 60.0, 0.1)
    assert "poll_interval" not in type(before).__dict__  # the class is as it was
    for bad in (0, 0.05, float("nan")):
        with pytest.raises(ValueError, match=">= 0.1 seconds"):
            with fast_polling(bad):
                pass


def test_anaplan_fast_polling_fixture(anaplan_fast_polling: float) -> None:
    assert anaplan_fast_polling == DEFAULT_FAST_POLL_INTERVAL
    op, sensor = _operators()
    assert op.poll_interval == sensor.poke_interval == DEFAULT_FAST_POLL_INTERVAL


def test_load_dag_file_finds_unassigned_dags_and_asks_for_a_dag_id(tmp_path: Path) -> None:
    file = tmp_path / "two_dags.py"
    file.write_text(
        textwrap.dedent(
            """
            from airflow.sdk import DAG, dag, task

            with DAG(dag_id="first", schedule=None):
                pass

            @dag(dag_id="second", schedule=None)
            def second():
                @task
                def hello():
                    return 1
                hello()

            second()
            """
        )
    )
    with pytest.raises(LookupError, match=r"defines 2 DAGs \['first', 'second'\]: pass dag_id"):
        load_dag_file(file)
    second = load_dag_file(file, dag_id="second")
    assert second.dag_id == "second" and list(second.task_dict) == ["hello"]
    assert second.fileloc == str(file)
    with pytest.raises(LookupError, match="no DAG 'third'"):
        load_dag_file(file, dag_id="third")
    with pytest.raises(FileNotFoundError):
        load_dag_file(tmp_path / "missing.py")


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_dag_runner_runs_a_dag_object_with_fast_polls(
    anaplan_dag_runner: Any, anaplan_emulator: Any, deferrable: bool
) -> None:
    from airflow.sdk import DAG

    from airflow_provider_anaplan.operators.imports import AnaplanImportOperator

    anaplan_emulator.admin.configure(min_task_seconds=2.0)  # the first status polls see it running
    with DAG(dag_id=f"plugin_fast_polls_{deferrable}", schedule=None) as dag:
        AnaplanImportOperator(
            task_id="load",
            import_id=IMPORT_PRODUCTS,
            uploads={FILE_PRODUCTS: b"Product,Category,Discontinued\nP950,Services,false\n"},
            deferrable=deferrable,
        )  # default poll_interval: 5 s
    dag_run = anaplan_dag_runner.run(dag, run_conf={"any": "conf"})
    assert anaplan_dag_runner.states(dag_run) == {"load": "success"}
    assert anaplan_dag_runner.xcom(dag_run, "load")["rows"]["successful"] == 1
    assert "P950" in {item["name"] for item in anaplan_emulator.admin.list_items(PRODUCTS_LIST)}
    [ti] = dag_run.get_task_instances()
    [created] = anaplan_emulator.admin.counters()["tasks_created_detail"][IMPORT_PRODUCTS]
    # from the Anaplan task's creation to the end of the Airflow task: one 5 s poll would make it
    # >= 5 s; polls every 0.2 s end it soon after the 2 s the emulator's task takes
    assert ti.end_date.timestamp() - created["created_at"] / 1000 < 4.5


def test_reset_provider_state_forgets_coordination_variables_only(anaplan_airflow_db: Path) -> None:
    from airflow.models.variable import Variable

    from airflow_provider_anaplan.hooks.coordination import COORDINATION_PREFIX
    from airflow_provider_anaplan.testing.airflow_home import reset_provider_state

    lease_dir = anaplan_airflow_db / "anaplan" / "coordination"
    lease_dir.mkdir(parents=True, exist_ok=True)
    Variable.set(f"{COORDINATION_PREFIX}plugin_test", "1")
    Variable.set("plugin_test_unrelated", "1")
    try:
        reset_provider_state()
        assert Variable.get(f"{COORDINATION_PREFIX}plugin_test", default_var=None) is None
        assert Variable.get("plugin_test_unrelated") == "1"
        assert not lease_dir.exists()
    finally:
        Variable.delete("plugin_test_unrelated")
