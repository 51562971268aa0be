"""One client-side wait loop for the ALM and CloudWorks jobs (sync tasks, report tasks, runs).

The same deadline and poll rules as :meth:`AnaplanAsyncClient.wait_for_task` (bulk tasks): poll
every ``poll_interval`` seconds (>= 0.1, default ``config.poll_interval``) until THE outcome rule
(:attr:`TaskStatus.outcome`) calls the status terminal; at ``timeout`` raise
:class:`AnaplanTaskTimeoutError` (the job is left running). Each poll's HTTP request has the client's
retry policy (backoff with jitter, ``Retry-After``). Leaf module apart from the client's own helpers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from airflow_provider_anaplan.client.config import MIN_POLL_INTERVAL, validate_seconds
from airflow_provider_anaplan.client.status import TaskStatus
from airflow_provider_anaplan.exceptions import AnaplanTaskTimeoutError

__all__ = ["poll_job"]

log = logging.getLogger(__name__)


async def poll_job(
    read: Callable[[], Awaitable[TaskStatus]],
    *,
    label: str,
    poll_interval: float,
    timeout: float | None,  # noqa: ASYNC109 - the wait's budget
) -> TaskStatus:
    """Poll ``read()`` until terminal; raise :class:`AnaplanTaskTimeoutError` after ``timeout`` s."""
    interval = validate_seconds(poll_interval, "poll_interval", minimum=MIN_POLL_INTERVAL, inclusive=True)
    limit = validate_seconds(timeout, "timeout", allow_none=True)
    assert interval is not None
    deadline = None if limit is None else time.monotonic() + limit
    last_state = ""
    while True:
        status = await read()
        if status.outcome.is_terminal:
            log.info("%s: %s", label, status.summary())
            return status
        if status.state.value != last_state:
            log.info("%s: %s", label, status.state.value)
            last_state = status.state.value
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise AnaplanTaskTimeoutError(
                f"{label} is still {status.state.value} after {limit:g} s (it was not cancelled)",
                status=status,
                object_id=status.task_id,
            )
        await asyncio.sleep(interval if remaining is None else min(interval, remaining))
