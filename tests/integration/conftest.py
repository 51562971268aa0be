"""Fixtures for the real-Airflow integration tests: one emulator process and one Airflow stack.

Starting Airflow (``db migrate`` plus four components) costs ~25-35 s on a 2-core machine, so the stack
is shared by the tests of this package (``tests/integration``) and stopped as soon as they are done,
so it never runs beside the rest of the suite; ``airflow_stack`` (function scope) restarts any
component a previous test killed, resets the emulator, and prints every component's log when the
test fails.

The emulator's user has a long random sentinel password (generated per session) in place of the
seed's ``emulator-demo-pw``, and the emulator remembers every token it mints (``recording_emulator.py``): after
the real runs, ``test_secret_scan_logs.py`` (ordered last in this package, see
``pytest_collection_modifyitems``) scans the stack's logs and metadata database for them before
the stack is torn down.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_anaplan.testing.airflow_stack import COMPONENTS, AirflowStack
from airflow_provider_anaplan.testing.emulator.seed import default_fixture
from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle

from .helpers import IMPORT_SECONDS, REPORT
from .recording_emulator import run_recording_emulator

DAGS_FOLDER = Path(__file__).parent / "dags"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Show what the real-Airflow tests measured (deferred interval, crash timings) after the run."""
    if REPORT:
        terminalreporter.section("real Airflow runs")
        for line in REPORT:
            terminalreporter.write_line(line)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the log secret scan after every other test of this package (still inside the package,
    so it sees the same stack before the package-scoped fixtures tear it down)."""
    here = Path(__file__).parent
    positions = [i for i, item in enumerate(items) if here in item.path.parents]
    if not positions:
        return
    last = [
        item for item in items if item.path.name == "test_secret_scan_logs.py" and here in item.path.parents
    ]
    if not last:
        return
    end = positions[-1]
    rest = [item for item in items[: end + 1] if item not in last]
    items[: end + 1] = rest + last


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="package")
def sentinel_password() -> str:
    """The emulator user's password for this session: random, so any copy of it is a leak."""
    return "pw-SENTINEL-" + secrets.token_urlsafe(24)


@pytest.fixture(scope="package")
def emulator_process(sentinel_password: str) -> Iterator[EmulatorHandle]:
    """The emulator as a separate process (Airflow's components are separate processes too).

    Its fixture is the default seed with the user's password replaced by ``sentinel_password``
    (``reset()`` returns to this fixture), and it records every token it mints.
    """
    fixture = default_fixture()
    (user,) = fixture["users"]
    user["password"] = sentinel_password
    with run_recording_emulator(fixture, user=user["email"], password=sentinel_password) as emulator:
        yield emulator


@pytest.fixture(scope="package")
def airflow_stack_shared(emulator_process: EmulatorHandle) -> Iterator[AirflowStack]:
    """A real scheduler, triggerer, dag-processor and api-server (LocalExecutor, SQLite)."""
    stack = AirflowStack(
        DAGS_FOLDER,
        env={"AIRFLOW_CONN_ANAPLAN_DEFAULT": emulator_process.airflow_connection()},
    )
    started = time.monotonic()
    try:
        stack.start(timeout=240)
    except BaseException:
        print(stack.dump_logs())
        stack.stop()
        raise
    REPORT.append(
        f"[stack] healthy {time.monotonic() - started:.1f} s after start (db migrate + 4 components)"
    )
    try:
        yield stack
    finally:
        stack.stop()
        assert not stack.orphans, f"processes left after teardown: {stack.orphans}"


@pytest.fixture
def airflow_stack(
    request: pytest.FixtureRequest, airflow_stack_shared: AirflowStack, emulator_process: EmulatorHandle
) -> Iterator[AirflowStack]:
    """The shared stack with every component running, the emulator reset; logs printed on failure."""
    stack = airflow_stack_shared
    restarted = False
    for name in COMPONENTS:
        component = stack.components.get(name)
        if component is None or not component.alive():
            stack.restart_component(name)
            restarted = True
    if restarted:
        stack.wait_healthy(timeout=120)
    emulator_process.admin.reset()
    emulator_process.admin.configure(min_task_seconds=IMPORT_SECONDS)
    yield stack
    failed = any(
        getattr(getattr(request.node, f"rep_{when}", None), "failed", False) for when in ("setup", "call")
    )
    if failed:
        print("\n===== Airflow stack logs (test failed)\n" + stack.dump_logs(lines=120))
