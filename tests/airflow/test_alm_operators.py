"""ALM operators (create revision, model sync) over real HTTP against the emulator."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_anaplan.compat import TaskDeferred
from airflow_provider_anaplan.exceptions import (
    AnaplanBadRequestError,
    AnaplanModelLockedError,
    AnaplanNothingToSyncError,
    AnaplanTaskTimeoutError,
)
from airflow_provider_anaplan.hooks.anaplan import AnaplanHook
from airflow_provider_anaplan.links.model import XCOM_MODEL_LINK_KEY
from airflow_provider_anaplan.operators.alm import (
    REVISION_STATE_KEY,
    AnaplanCreateRevisionOperator,
    AnaplanModelSyncOperator,
)
from airflow_provider_anaplan.operators.jobs import JOB_STATE_KEY
from airflow_provider_anaplan.triggers.task import AnaplanTaskTrigger

DEV = "75A40874E6B64FA3AE0B4E5D5B4B9A0B"
PROD = "D3A1B5C7E9F24680ACE13579BDF02468"
WS = "8a868cd985f53e7701860542f59e276e"
REVENUE = "102000000001"
START = datetime.datetime(2026, 1, 1)


@pytest.fixture
def alm(emulator: Any) -> Any:
    emulator.admin._call("POST", "/alm/config", {"sync_seconds": 0.5, "report_seconds": 0.2})
    return emulator


def add_line_item(emulator: Any, name: str) -> None:
    emulator.admin._call(
        "POST",
        "/alm/structure",
        {"lineItem": {"module": REVENUE, "name": name, "dataType": "number"}},
        {"model": DEV},
    )


def prod_structure(emulator: Any) -> str:
    return str(emulator.admin._call("GET", "/alm/structure", params={"model": PROD}))


def sync_tasks() -> list[dict[str, Any]]:
    with AnaplanHook(model_id=PROD) as hook:
        return hook.get_sync_tasks()


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_create_revision_then_sync_in_dag_test(dag_runner: Any, alm: Any, deferrable: bool) -> None:
    add_line_item(alm, "Margin")
    with DAG(f"alm_{deferrable}", schedule=None, start_date=START) as dag:
        revision = AnaplanCreateRevisionOperator(task_id="revision", model_id=DEV, name="Release {{ ds }}")
        sync = AnaplanModelSyncOperator(
            task_id="sync",
            workspace_id=WS,
            model_id=PROD,
            source_model_id=DEV,
            deferrable=deferrable,
            poll_interval=0.1,
        )
        revision >> sync
    dr = dag_runner.run(dag)
    assert dag_runner.states(dr) == {"revision": "success", "sync": "success"}
    created = dag_runner.xcom(dr, "revision")
    synced = dag_runner.xcom(dr, "sync")
    assert (
        created["created"] is True and created["name"].startswith("Release ") and created["model_id"] == DEV
    )
    assert synced["revision_id"] == created["revision_id"] and synced["target_model_id"] == PROD
    assert synced["state"] == "COMPLETE" and synced["kind"] == "alm_sync"
    assert "Margin" in prod_structure(alm)
    assert PROD in dag_runner.xcom(dr, "sync", key=XCOM_MODEL_LINK_KEY)
    assert [o.uri for o in sync.outlets] == [f"anaplan://{WS}/{PROD}"]


def test_nothing_to_sync_refuses_clearly_or_skips(alm: Any, make_context: Any) -> None:
    op = AnaplanModelSyncOperator(
        task_id="sync", model_id=PROD, source_model_id=DEV, deferrable=False, poll_interval=0.1
    )
    with pytest.raises(
        AnaplanNothingToSyncError, match=f"Nothing to sync from model {DEV} into model {PROD}"
    ):
        op.execute(make_context())
    skip = AnaplanModelSyncOperator(
        task_id="sync", model_id=PROD, source_model_id=DEV, nothing_to_sync="skip", deferrable=False
    )
    with pytest.raises(Exception, match="Nothing to sync") as info:
        skip.execute(make_context())
    assert type(info.value).__name__ == "AirflowSkipException"
    assert sync_tasks() == []


def test_sync_to_a_locked_model_fails_before_starting(alm: Any, make_context: Any) -> None:
    add_line_item(alm, "Margin")
    with AnaplanHook(model_id=DEV) as hook:
        hook.create_revision("R2")
    alm.admin._call("POST", f"/alm/models/{PROD}/state", {"activeState": "LOCKED"})
    op = AnaplanModelSyncOperator(
        task_id="sync", model_id=PROD, source_model_id=DEV, deferrable=False, poll_interval=0.1
    )
    ctx = make_context()
    with pytest.raises(AnaplanModelLockedError, match="locked"):
        op.execute(ctx)
    assert ctx["task_state_store"].get(JOB_STATE_KEY) is None and sync_tasks() == []


def test_deferred_sync_is_reattached_on_retry(alm: Any, make_context: Any) -> None:
    alm.admin._call("POST", "/alm/config", {"sync_seconds": 2})
    add_line_item(alm, "Margin")
    with AnaplanHook(model_id=DEV) as hook:
        hook.create_revision("R2")
    ctx = make_context()
    op = AnaplanModelSyncOperator(
        task_id="sync", model_id=PROD, source_model_id=DEV, deferrable=True, poll_interval=0.1
    )
    with pytest.raises(TaskDeferred) as info:
        op.execute(ctx)
    trigger = info.value.trigger
    assert isinstance(trigger, AnaplanTaskTrigger) and trigger.kind.value == "alm_sync"
    assert trigger.serialize()[1]["model_id"] == PROD  # the trigger polls the target model
    # the worker died while deferred: the retry reattaches instead of starting a second sync
    retry = AnaplanModelSyncOperator(
        task_id="sync", model_id=PROD, source_model_id=DEV, deferrable=False, poll_interval=0.1
    )
    result = retry.execute(ctx)
    assert result["task_id"] == trigger.job["task_id"] and len(sync_tasks()) == 1
    assert "Margin" in prod_structure(alm)


def test_sync_deadline(alm: Any, make_context: Any) -> None:
    alm.admin._call("POST", "/alm/config", {"sync_seconds": 5})
    add_line_item(alm, "Margin")
    with AnaplanHook(model_id=DEV) as hook:
        hook.create_revision("R2")
    op = AnaplanModelSyncOperator(
        task_id="sync", model_id=PROD, source_model_id=DEV, deferrable=False, poll_interval=0.1, timeout=0.5
    )
    with pytest.raises(AnaplanTaskTimeoutError, match="cannot be cancelled"):
        op.execute(make_context())


def test_create_revision_retry_and_unchanged_model(alm: Any, make_context: Any) -> None:
    add_line_item(alm, "Margin")
    ctx = make_context()
    first = AnaplanCreateRevisionOperator(task_id="revision", model_id=DEV, name="R2").execute(ctx)
    assert ctx["task_state_store"].get(REVISION_STATE_KEY) == {"revision_id": first["revision_id"]}
    again = AnaplanCreateRevisionOperator(task_id="revision", model_id=DEV, name="R2").execute(ctx)
    assert again == first  # a retry returns the revision its previous try made
    with pytest.raises(AnaplanBadRequestError, match="no structural changes"):
        AnaplanCreateRevisionOperator(task_id="revision", model_id=DEV, name="R3").execute(make_context())
    latest = AnaplanCreateRevisionOperator(task_id="revision", model_id=DEV, name="R3", if_unchanged="latest")
    result = latest.execute(make_context())
    assert result["revision_id"] == first["revision_id"] and result["created"] is False
