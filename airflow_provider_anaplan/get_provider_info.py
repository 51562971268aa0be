"""Provider metadata for Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    """Return the provider description Airflow reads at startup (no I/O, no heavy imports)."""
    return {
        "package-name": "airflow-provider-anaplan",
        "name": "Anaplan",
        "description": "Anaplan bulk API: uploads, imports, exports, processes and actions.",
        "versions": ["0.1.0"],
    }
