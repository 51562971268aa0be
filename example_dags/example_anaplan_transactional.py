"""The transactional API: no import or export action needed.

1. wake the model (a no-op when it is open; waits while a closed model loads),
2. upsert list items from a CSV in object storage (``file://`` here; ``s3://``/``gs://`` work the same):
   new stores are added, existing ones (matched by code) updated — safe to re-run,
3. write cells of a module directly (batched under Anaplan's 100,000 cells / 15 MB per call),
4. read a saved view to a file through a large-volume read request (deferred to the triggerer while
   Anaplan prepares the pages; the request is always deleted afterwards).
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime

from airflow.sdk import DAG, ObjectStoragePath, task

from airflow_provider_anaplan.operators.cells import AnaplanWriteCellsOperator
from airflow_provider_anaplan.operators.lists import AnaplanListItemsOperator
from airflow_provider_anaplan.operators.model import AnaplanWakeModelOperator
from airflow_provider_anaplan.operators.views import AnaplanReadViewOperator

CONN_ID = os.environ.get("ANAPLAN_CONN_ID", "anaplan_default")
WORKSPACE_ID = os.environ.get("ANAPLAN_WORKSPACE_ID", "8a868cd985f53e7701860542f59e276e")
MODEL_ID = os.environ.get("ANAPLAN_MODEL_ID", "75A40874E6B64FA3AE0B4E5D5B4B9A0B")
STORES_LIST, REVENUE_MODULE, REVENUE_BY_VERSION_VIEW = "101000000004", "102000000001", "203000000001"
OUT = os.environ.get("ANAPLAN_EXAMPLE_OUT", os.path.join(tempfile.gettempdir(), "anaplan_examples", "transactional"))
STORES_CSV = f"file://{OUT}/incoming/stores.csv"

with DAG(
    dag_id="example_anaplan_transactional",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["anaplan", "example"],
    default_args={"anaplan_conn_id": CONN_ID, "workspace_id": WORKSPACE_ID, "model_id": MODEL_ID},
    doc_md=__doc__,
) as dag:

    @task
    def land_stores_csv() -> str:
        """Stands in for an upstream system dropping a file into object storage."""
        path = ObjectStoragePath(STORES_CSV)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "name,code,parent,Manager,Size,subset:Flagship\n"
            "London,ST01,North,Ann,125,true\n"  # existing (code ST01): updated
            "Cardiff,ST06,South,Fay,40,false\n"  # new: added
            "Glasgow,ST07,North,Gus,55,false\n"  # new: added
        )
        return STORES_CSV

    wake = AnaplanWakeModelOperator(task_id="wake_model", poll_interval=1, timeout=1800)
    upsert = AnaplanListItemsOperator(
        task_id="upsert_stores",
        list_id=STORES_LIST,
        source="{{ ti.xcom_pull(task_ids='land_stores_csv') }}",
        action="upsert",
        key="code",
    )
    write_budget = AnaplanWriteCellsOperator(
        task_id="write_budget",
        module_id=REVENUE_MODULE,
        line_item="Revenue",
        cells=[
            {"Product": product, "Month": month, "Version": "Budget", "value": value}
            for product, month, value in [("P001", "Jan 26", 1200), ("P002", "Jan 26", 900), ("P001", "Feb 26", 1250)]
        ],
    )
    read_view = AnaplanReadViewOperator(
        task_id="read_revenue_by_version",
        view_id=REVENUE_BY_VERSION_VIEW,
        destination=f"file://{OUT}/{{{{ ds_nodash }}}}/revenue_by_version.csv",
        large=True,
        deferrable=True,
        poll_interval=1,
    )
    wake >> [land_stores_csv() >> upsert, write_budget] >> read_view
