"""Export to a local path and to an ObjectStoragePath; download a file with the download operator.

``AnaplanExportOperator`` streams the exported file to its destination through a temporary file and a
rename, so readers never see half a file. ``destination`` may be a local path or any object-storage
URI Airflow knows (``s3://``, ``gs://``, ``file://`` …, via ``ObjectStoragePath``).
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime

from airflow.sdk import DAG, ObjectStoragePath

from airflow_provider_anaplan.operators.download import AnaplanDownloadFileOperator
from airflow_provider_anaplan.operators.export import AnaplanExportOperator

CONN_ID = os.environ.get("ANAPLAN_CONN_ID", "anaplan_default")
WORKSPACE_ID = os.environ.get("ANAPLAN_WORKSPACE_ID", "8a868cd985f53e7701860542f59e276e")
MODEL_ID = os.environ.get("ANAPLAN_MODEL_ID", "75A40874E6B64FA3AE0B4E5D5B4B9A0B")
EXPORT_PRODUCTS, EXPORT_REVENUE = "116000000001", "116000000000"
OUT = os.environ.get("ANAPLAN_EXAMPLE_OUT", os.path.join(tempfile.gettempdir(), "anaplan_examples", "export"))

with DAG(
    dag_id="example_anaplan_export",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["anaplan", "example"],
    default_args={"anaplan_conn_id": CONN_ID, "workspace_id": WORKSPACE_ID, "model_id": MODEL_ID},
    doc_md=__doc__,
) as dag:
    to_local = AnaplanExportOperator(
        task_id="export_products_local",
        export_id=EXPORT_PRODUCTS,
        destination=os.path.join(OUT, "{{ ds_nodash }}", "products.csv"),
        poll_interval=1,
    )
    to_object_storage = AnaplanExportOperator(
        task_id="export_revenue_object_storage",
        export_id=EXPORT_REVENUE,
        destination=ObjectStoragePath(f"file://{OUT}/object_storage/revenue.csv"),
        poll_interval=1,
    )
    download_again = AnaplanDownloadFileOperator(
        task_id="download_products_file",
        file_id=EXPORT_PRODUCTS,
        destination=f"file://{OUT}/download/products.csv",
    )
    to_local >> download_again
