"""Test helpers shipped with the provider: the Anaplan emulator, its pytest plugin and DAG-test helpers.

Nothing in here is imported by the provider at run time. Only
:mod:`~airflow_provider_anaplan.testing.pytest_plugin` needs pytest (the ``testing`` extra); the rest
(:mod:`.handle`, :mod:`.airflow_home`, :mod:`.emulator`, :mod:`.certificates`, :mod:`.context`, ...)
imports without it. Users enable the fixtures with
``pytest_plugins = ["airflow_provider_anaplan.testing.pytest_plugin"]``.
"""

from __future__ import annotations
