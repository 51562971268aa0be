"""Which threads are blocked in a sync :class:`~airflow_provider_anaplan.client.sync.AnaplanClient` call.

A thread blocked in a sync call waits for the client's private loop thread. If that thread also runs
an event loop (a sync call made from a coroutine), nothing else progresses on its loop until the call
returns: whoever waits for something that loop holds (the process-wide token lock of one identity,
see ``tokens.py``) must not wait for it, or both wait forever. :func:`is_blocked_in_sync_call` lets
such a waiter tell. Leaf module: imports nothing from the client.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["blocked_in_sync_call", "is_blocked_in_sync_call"]

_blocked: dict[int, int] = {}
_guard = threading.Lock()


@contextmanager
def blocked_in_sync_call() -> Iterator[None]:
    """Mark the calling thread as blocked in a sync client call for the duration of the block."""
    ident = threading.get_ident()
    with _guard:
        _blocked[ident] = _blocked.get(ident, 0) + 1
    try:
        yield
    finally:
        with _guard:
            left = _blocked.get(ident, 1) - 1
            if left > 0:
                _blocked[ident] = left
            else:
                _blocked.pop(ident, None)


def is_blocked_in_sync_call(ident: int | None) -> bool:
    """Whether thread ``ident`` is currently blocked in a sync client call (None: False)."""
    if ident is None:
        return False
    with _guard:
        return ident in _blocked


def _reset_after_fork() -> None:
    global _guard
    _blocked.clear()
    _guard = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)
