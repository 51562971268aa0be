"""Test helpers shipped with the provider: the Anaplan emulator and its pytest plugin.

Nothing in here is imported by the provider at run time; users import it from their own DAG tests
(``pytest_plugins = ["airflow_provider_anaplan.testing.pytest_plugin"]``).
"""

from __future__ import annotations
