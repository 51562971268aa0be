"""The runtime install has no pytest: every module imports without it, except the pytest plugin, which
says what to install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PLUGIN = "airflow_provider_anaplan.testing.pytest_plugin"

# pytest and what only the `testing`/`test` extras bring; a fresh interpreter cannot import them.
_SCRIPT = r"""
import importlib, importlib.abc, json, pkgutil, sys, traceback

HIDDEN = {"pytest", "_pytest", "pytest_asyncio", "pytest_timeout", "iniconfig"}


class HideTestTools(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)", name=name)
        return None


sys.meta_path.insert(0, HideTestTools())
assert not any(m.split(".")[0] in HIDDEN for m in sys.modules), "imported before the blocker"

import airflow_provider_anaplan

names = sorted(
    info.name
    for info in pkgutil.walk_packages(airflow_provider_anaplan.__path__, "airflow_provider_anaplan.")
)
imported, failed = [], {}
for name in names:
    if name == PLUGIN:
        continue
    try:
        importlib.import_module(name)
        imported.append(name)
    except BaseException:
        failed[name] = traceback.format_exc(limit=3)
try:
    importlib.import_module(PLUGIN)
    plugin_error = None
except ImportError as exc:
    plugin_error = str(exc)
leaked = sorted(m for m in sys.modules if m.split(".")[0] in HIDDEN)
print("RESULT" + json.dumps({"imported": imported, "failed": failed, "plugin_error": plugin_error,
                             "leaked": leaked}))
""".replace("PLUGIN", repr(PLUGIN))


def test_every_module_but_the_plugin_imports_without_pytest(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST"))}
    env.update(
        {
            "AIRFLOW_HOME": str(tmp_path),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/airflow.db",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }
    )
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    [line] = [line for line in out.stdout.splitlines() if line.startswith("RESULT")]
    result = json.loads(line[len("RESULT") :])
    assert result["failed"] == {}, "\n".join(result["failed"].values())
    imported = set(result["imported"])
    for module in (
        "airflow_provider_anaplan.get_provider_info",
        "airflow_provider_anaplan.hooks.anaplan",
        "airflow_provider_anaplan.operators.imports",
        "airflow_provider_anaplan.sensors.task",
        "airflow_provider_anaplan.triggers.task",
        "airflow_provider_anaplan.testing",
        "airflow_provider_anaplan.testing.handle",
        "airflow_provider_anaplan.testing.airflow_home",
        "airflow_provider_anaplan.testing.emulator.server",
    ):
        assert module in imported
    assert len(imported) >= 40
    assert result["leaked"] == []
    assert result["plugin_error"] and "airflow-provider-anaplan[testing]" in result["plugin_error"]
