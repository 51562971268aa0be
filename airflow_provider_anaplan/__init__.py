"""Apache Airflow provider for Anaplan."""

from __future__ import annotations

#: The one source of the version: ``pyproject.toml`` reads it (``[tool.setuptools.dynamic]``) and so
#: does ``get_provider_info()``. Keep it a plain string literal (setuptools reads it without importing).
__version__ = "0.1.0"
