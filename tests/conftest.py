"""Shared test configuration: the emulator fixtures come from the provider's own pytest plugin."""

from __future__ import annotations

pytest_plugins = ["airflow_provider_anaplan.testing.pytest_plugin"]
