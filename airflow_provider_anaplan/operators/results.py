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
    """Decide the outcome of a terminal task with THE rule of the client
    (:meth:`~airflow_provider_anaplan.client.status.TaskStatus.verdict`), never a rule of its own.

    * ``successful: true`` and no rejected rows -> ok.
    * ``successful: true`` with failed/ignored rows -> fails unless ``fail_on_partial`` is False.
    * ``successful: false`` -> fails, unless ``fail_on_partial`` is False and some rows loaded (a
      partial import); a task that loaded nothing always fails.
    * ``successful`` missing or odd (Anaplan gave no verdict), or no result -> fails.
    * CANCELLED or not finished -> fails.
    """
    verdict = status.verdict(fail_on_partial=fail_on_partial)
    return Verdict(verdict.ok, verdict.reason)


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
