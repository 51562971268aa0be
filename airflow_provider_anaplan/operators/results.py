"""Result validation and the compact XCom result of Anaplan task operators."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_anaplan.client.status import TaskStatus


@dataclass(frozen=True)
class Verdict:
    """``ok``: the Airflow task succeeds; ``reason``: why it fails, or what was accepted."""

    ok: bool
    reason: str = ""


def evaluate(status: TaskStatus, *, fail_on_partial: bool = True) -> Verdict:
    """Decide the outcome of a COMPLETE task.

    * ``successful: true`` and no rejected rows -> ok.
    * ``successful: true`` with failed/ignored rows -> fails unless ``fail_on_partial`` is False.
    * ``successful: false`` (or missing) -> fails, unless ``fail_on_partial`` is False and some rows
      loaded (a partial import); a task that loaded nothing always fails.
    """
    counts = status.counts
    # Anaplan's ignored count includes the failed rows (plus blank ones): do not add them up.
    rejected = max(counts.failed or 0, counts.ignored or 0)
    rows = f"{rejected} row(s) rejected (failed {counts.failed or 0}, ignored {counts.ignored or 0})"
    if status.is_success:
        if not rejected:
            return Verdict(True)
        if fail_on_partial:
            return Verdict(False, f"{rows}; set fail_on_partial=False to accept partial loads")
        return Verdict(True, rows)
    if not fail_on_partial and (counts.successful or 0) > 0:
        return Verdict(True, f"{counts.successful} row(s) loaded, {rows}")
    messages = status.result.messages(3) if status.result else []
    detail = f" ({'; '.join(messages)})" if messages else ""
    return Verdict(False, f"Anaplan reported the task as not successful{detail}")


def result_dict(status: TaskStatus, *, dumps: list[str] | None = None, accepted_partial: bool = False) -> dict[str, Any]:
    """Compact JSON-safe XCom result: ids, state, counts, per-step summaries, dump locations."""
    data = status.to_dict()
    data["steps"] = data.pop("nested", [])
    data["dumps"] = list(dumps or [])
    data["accepted_partial"] = accepted_partial
    return data


def log_dumps(log: logging.Logger | Any, paths: list[str], preview_lines: int = 5) -> None:
    """Log each dump's location, row count and first lines (streamed: dumps can be large)."""
    for path in paths:
        head: list[str] = []
        count = 0
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                for count, line in enumerate(handle, start=1):  # noqa: B007
                    if len(head) < preview_lines:
                        head.append(line.rstrip("\r\n"))
        except OSError as exc:
            log.warning("Failure dump %s cannot be read: %s", path, exc)
            continue
        rows = max(count - 1, 0)
        log.warning(
            "Failure dump %s: %d rejected row(s); first lines:\n%s", path, rows, "\n".join(head)
        )
