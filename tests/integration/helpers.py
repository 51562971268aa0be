"""Shared constants and assertions of the real-Airflow integration tests."""

from __future__ import annotations

from airflow_provider_anaplan.testing.airflow_stack import TaskSample

#: Every Anaplan task the emulator runs lasts at least this long (the issue asks for >= 30 s).
IMPORT_SECONDS = 35.0
#: Import "Products from products.csv" of the default seed, and the Products list it loads.
IMPORT_ID = "112000000000"
PRODUCTS_LIST = "101000000001"
PRODUCT_NAMES = {"Widget", "Gadget", "Gizmo", "Doohickey", "Thingamajig"}
#: Lines for the end-of-session summary (deferred intervals, crash timings), printed by conftest.
REPORT: list[str] = []
#: After the task instance turns ``deferred`` its task process still has to exit and the
#: LocalExecutor worker to report back; process-table checks start this many seconds later.
SETTLE_SECONDS = 5.0


def report(line: str) -> None:
    """Print a measurement (seen with ``-s``) and keep it for the end-of-session summary."""
    print(f"\n{line}")
    REPORT.append(line)


def summarize(samples: list[TaskSample]) -> list[tuple[str, str | None, int]]:
    """``(time, state, try)`` at each change, for messages."""
    out: list[tuple[str, str | None, int]] = []
    for s in samples:
        if not out or out[-1][1:] != (s.state, s.try_number):
            out.append((s.wall, s.state, s.try_number))
    return out


def deferred_interval(samples: list[TaskSample]) -> tuple[list[TaskSample], str]:
    """The deferred samples and a printable summary of the interval they cover."""
    deferred = [s for s in samples if s.state == "deferred"]
    assert deferred, f"the task was never seen deferred: {summarize(samples)}"
    first, last = deferred[0], deferred[-1]
    text = (
        f"deferred from {first.wall} to {last.wall} (first/last seen): "
        f"{last.at - first.at:.1f} s over {len(deferred)} samples"
    )
    return deferred, text


def assert_no_worker_held(deferred: list[TaskSample]) -> list[TaskSample]:
    """Evidence that a deferred task holds no worker slot; returns the settled samples checked.

    * Pool slots (REST API ``/api/v2/pools/default_pool``, computed by Airflow from the task
      instance table): the deferred task counts in ``deferred_slots`` only; ``running_slots``,
      ``queued_slots`` and ``occupied_slots`` are 0 (``include_deferred`` is off on default_pool).
    * Process table: once the deferral has settled, no task process (``airflow worker -- <ti id>``)
      exists and every LocalExecutor worker process is titled ``<idle>`` (a busy one carries the
      workload's id): nothing on the worker side waits for Anaplan.

    Only samples during which the task instance stayed ``deferred`` are checked (the last one may
    straddle the trigger's event and the task's resumption).
    """
    for s in deferred:
        assert s.trigger_id is not None, f"deferred without a trigger row: {s}"
        if s.consistent and s.running_slots is not None:
            assert (s.running_slots, s.queued_slots, s.occupied_slots) == (0, 0, 0), s
            assert s.deferred_slots == 1, s
    settled = [s for s in deferred if s.consistent and s.at - deferred[0].at >= SETTLE_SECONDS]
    assert settled, "the deferral was too short to check the process table"
    for s in settled:
        assert s.task_processes == (), f"a task process is alive while deferred: {s}"
        assert s.busy_workers == (), f"a LocalExecutor worker is busy while deferred: {s}"
    return settled
