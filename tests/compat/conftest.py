"""The compat tests run real Airflow (``dag.test()``, the Task SDK): an isolated AIRFLOW_HOME first."""

from __future__ import annotations

from airflow_provider_anaplan.testing.airflow_home import isolate_airflow_home

isolate_airflow_home()
