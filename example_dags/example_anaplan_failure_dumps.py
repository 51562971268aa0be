"""Handle rejected rows: accept a partial import and read its failure dump.

The import source has rows Anaplan rejects (a non-boolean ``Discontinued``). With
``fail_on_partial=False`` the task succeeds as long as some rows loaded; the rejected rows are
written to ``dump_dir`` (one CSV per dump, first lines logged) and listed in the XCom result under
``dumps``. ``report`` reads them back, as a real pipeline would to alert or to fix and reload.
"""

from __future__ import annotations

import csv
import os
import tempfile
from datetime import datetime

from airflow.sdk import DAG, task

from airflow_provider_anaplan.operators.imports import AnaplanImportOperator

CONN_ID = os.environ.get("ANAPLAN_CONN_ID", "anaplan_default")
WORKSPACE_ID = os.environ.get("ANAPLAN_WORKSPACE_ID", "8a868cd985f53e7701860542f59e276e")
MODEL_ID = os.environ.get("ANAPLAN_MODEL_ID", "75A40874E6B64FA3AE0B4E5D5B4B9A0B")
PRODUCTS_FILE, IMPORT_PRODUCTS = "113000000000", "112000000000"
DUMP_DIR = os.environ.get("ANAPLAN_EXAMPLE_DUMPS", os.path.join(tempfile.gettempdir(), "anaplan_examples", "dumps"))

SOURCE = (
    b"Product,Category,Discontinued\n"
    b"P401,Hardware,false\n"
    b"P402,Software,maybe\n"  # rejected: not a boolean
    b"P403,Services,true\n"
    b"P404,Hardware,perhaps\n"  # rejected
)

with DAG(
    dag_id="example_anaplan_failure_dumps",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["anaplan", "example"],
    doc_md=__doc__,
) as dag:
    load = AnaplanImportOperator(
        task_id="load_products",
        anaplan_conn_id=CONN_ID,
        workspace_id=WORKSPACE_ID,
        model_id=MODEL_ID,
        import_id=IMPORT_PRODUCTS,
        uploads={PRODUCTS_FILE: SOURCE},
        fail_on_partial=False,
        dump_dir=DUMP_DIR + "/{{ run_id | replace(':', '_') }}",
        poll_interval=1,
    )

    @task
    def report(result: dict) -> dict:
        """Read the dumps listed in the import result; return what was rejected."""
        rejected = []
        for path in result["dumps"]:
            with open(path, newline="", encoding="utf-8") as handle:
                rejected.extend(csv.DictReader(handle))
        print(f"{result['rows']} — {len(rejected)} rejected row(s) in {result['dumps']}")
        return {"loaded": result["rows"].get("successful", 0), "rejected": rejected}

    report(load.output)
