"""Security tests: a throw-away AIRFLOW_HOME when run alone (tests/airflow/conftest.py sets one otherwise)."""

from __future__ import annotations

import os
import sys
import tempfile

if "airflow" not in sys.modules and "AIRFLOW_HOME" not in os.environ:
    _home = tempfile.mkdtemp(prefix="anaplan-security-airflow-")
    os.environ.update(
        {
            "AIRFLOW_HOME": _home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_home}/airflow.db",
        }
    )
