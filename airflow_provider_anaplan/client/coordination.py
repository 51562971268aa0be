"""Coordination between the processes of one deployment: start claims and file leases.

Anaplan cannot say who created a task (a task list carries neither the creator nor the mapping
parameters) and has no locks on files. What the processes of a deployment *can* do is tell each other,
through a shared :class:`CoordinationStore`, what they are doing. One primitive does it:
**register, then look** — a process first writes its own record under a scope, then reads every record
of that scope. For any two processes, at least the later reader sees the other's record (each wrote
before it read), which is enough to prove:

* **Start claims** (:class:`StartClaims`): before POSTing a task, a start registers an intent (action,
  time, writer); once it knows its task id it *claims* it. After an ambiguous POST failure a new task in
  the action's list is ours only if every other intent that could have made it has claimed a task or
  ended: suppose another start B made task X and never claimed it; B registered before its POST, its
  POST preceded our listing that showed X, so our look (after the listing) sees B's open intent and we
  wait. So a single unclaimed new task, once no other open intent remains, is provably ours — unless
  something outside the deployment (a person in the UI, another tool) started the same action in the
  same seconds, which Anaplan gives no way to exclude.
* **File leases** (:class:`FileLeases`): at most one holder per file: a process registers, looks, and
  proceeds only if it saw no other live record; otherwise it withdraws and retries after a random
  backoff. If two both proceeded, the later reader would have seen the earlier writer: contradiction.

Records expire (``expires_at``) so a crashed process blocks nobody for longer than its lease. Stores:
:class:`MemoryCoordination` (one process; the default), :class:`DirectoryCoordination` (one machine),
and in the Airflow layer one on Airflow Variables (the whole deployment, see
``hooks/coordination.py``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from airflow_provider_anaplan.client.token_store import writer_id
from airflow_provider_anaplan.exceptions import AnaplanError

__all__ = [
    "CoordinationStore",
    "MemoryCoordination",
    "DirectoryCoordination",
    "StartIntent",
    "StartClaims",
    "FileLeases",
    "FileLeaseTimeout",
    "new_tasks",
    "find_started_job",
    "PROCESS_COORDINATION",
]

log = logging.getLogger(__name__)

#: Tasks created up to this many seconds before a start (clock skew against Anaplan's clock) count as new.
CLOCK_SKEW = 120.0


class CoordinationStore(Protocol):
    """Records (JSON text) by scope and record id, shared by the processes to coordinate."""

    name: str

    def put(self, scope: str, record_id: str, value: str) -> None: ...

    def scan(self, scope: str) -> dict[str, str]:
        """Every record of ``scope`` (record id -> value)."""
        ...

    def delete(self, scope: str, record_id: str) -> None: ...


class MemoryCoordination:
    """Records in this process's memory: coordinates the clients of one process only."""

    def __init__(self) -> None:
        self.name = "this process"
        self._data: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def put(self, scope: str, record_id: str, value: str) -> None:
        with self._lock:
            self._data.setdefault(scope, {})[record_id] = value

    def scan(self, scope: str) -> dict[str, str]:
        with self._lock:
            return dict(self._data.get(scope, {}))

    def delete(self, scope: str, record_id: str) -> None:
        with self._lock:
            self._data.get(scope, {}).pop(record_id, None)


PROCESS_COORDINATION = MemoryCoordination()
os.register_at_fork(after_in_child=lambda: PROCESS_COORDINATION.__init__())  # type: ignore[misc]


def _digest(scope: str) -> str:
    return hashlib.sha256(scope.encode()).hexdigest()[:24]


class DirectoryCoordination:
    """Records as files in a directory (one sub-directory per scope): the processes of one machine."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.name = f"directory {self.root}"

    def put(self, scope: str, record_id: str, value: str) -> None:
        folder = self.root / _digest(scope)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = folder / f".{record_id}.tmp"
        tmp.write_text(value)
        os.replace(tmp, folder / f"{record_id}.json")

    def scan(self, scope: str) -> dict[str, str]:
        folder = self.root / _digest(scope)
        records = {}
        for path in folder.glob("*.json") if folder.is_dir() else ():
            try:
                records[path.stem] = path.read_text()
            except FileNotFoundError:  # deleted meanwhile
                continue
        return records

    def delete(self, scope: str, record_id: str) -> None:
        (self.root / _digest(scope) / f"{record_id}.json").unlink(missing_ok=True)


async def _call(func: Any, *args: Any, attempts: int = 4) -> Any:
    """Run a store call in a worker thread; a store that fails is retried a few times."""
    for attempt in range(1, attempts + 1):
        try:
            return await asyncio.to_thread(func, *args)
        except Exception:
            if attempt == attempts:
                raise
            await asyncio.sleep(min(2.0, 0.2 * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0))
    return None  # pragma: no cover


# --------------------------------------------------------------------------------------- start claims
@dataclass
class StartIntent:
    """One start of an action, registered before its POST (JSON-safe; kept in Airflow's task state)."""

    id: str
    scope: str
    action_id: str
    since: float
    seen: list[str] = field(default_factory=list)
    writer: str = ""
    task_id: str | None = None
    expires_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StartIntent:
        return cls(
            id=str(data["id"]),
            scope=str(data["scope"]),
            action_id=str(data["action_id"]),
            since=float(data["since"]),
            seen=[str(t) for t in data.get("seen") or []],
            writer=str(data.get("writer") or ""),
            task_id=str(data["task_id"]) if data.get("task_id") else None,
            expires_at=float(data.get("expires_at") or 0.0),
        )


def new_tasks(tasks: Iterable[Mapping[str, Any]], seen: Iterable[str], since: float) -> list[dict[str, Any]]:
    """Tasks of an action that appeared after ``since`` (minus clock skew) and were not in ``seen``.

    THE rule for "which tasks are new since a start": the client's ambiguous-start resolution and an
    operator's reattach after a lost try both call it.
    """
    known = set(seen)
    fresh = []
    for task in tasks:
        task_id = str(task.get("taskId") or "")
        if not task_id or task_id in known:
            continue
        created = task.get("creationTime")
        if isinstance(created, (int, float)) and created / 1000.0 < since - CLOCK_SKEW:
            continue
        fresh.append(dict(task))
    fresh.sort(key=lambda t: (t.get("creationTime") or 0, str(t.get("taskId"))))
    return fresh


async def find_started_job(
    list_ids: Callable[[], Awaitable[list[str]]], seen: Iterable[str], window: float, what: str
) -> tuple[str | None, list[str]]:
    """After an ambiguous start (the reply was lost): look for the job it created, never send it again.

    THE rule for jobs whose start cannot be claimed (ALM syncs, CloudWorks runs and flow runs): poll
    ``list_ids()`` (the jobs of the target now, newest history) until exactly one id not in ``seen``
    (the ids before the start) appears — that one is ours — or more than one appears (not provably
    ours), or ``window`` seconds pass. Listing failures are retried until the window ends.
    Returns ``(the id, [it])`` or ``(None, the candidates)``; the caller raises with its own words.
    """
    known = set(seen)
    deadline = time.monotonic() + window
    delay = 0.25
    candidates: list[str] = []
    while True:
        try:
            candidates = [job_id for job_id in await list_ids() if job_id not in known]
        except Exception as exc:  # keep looking through transient failures until the deadline
            log.warning("Looking for the %s failed (%s); trying again", what, exc)
        if len(candidates) == 1:
            log.warning("%s is the one this start created; using it", candidates[0])
            return candidates[0], candidates
        if len(candidates) > 1 or time.monotonic() >= deadline:
            return None, candidates
        await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(5.0, delay * 2)


class StartClaims:
    """Start intents and claims of one deployment, in a :class:`CoordinationStore`."""

    def __init__(self, store: CoordinationStore, *, lifetime: float = 3600.0) -> None:
        self.store = store
        self.lifetime = lifetime

    @staticmethod
    def scope(workspace_id: str, model_id: str, action_id: str) -> str:
        return f"start:{workspace_id}:{model_id}:{action_id}"

    async def register(self, scope: str, action_id: str, since: float, seen: Iterable[str]) -> StartIntent:
        """Write a new intent (before the POST)."""
        intent = StartIntent(
            id=uuid.uuid4().hex,
            scope=scope,
            action_id=action_id,
            since=since,
            seen=sorted(set(seen)),
            writer=writer_id(),
            expires_at=time.time() + self.lifetime,
        )
        await _call(self.store.put, scope, intent.id, json.dumps(intent.to_dict()))
        return intent

    async def claim(self, intent: StartIntent, task_id: str) -> None:
        """Record that ``intent`` made ``task_id`` (kept until it expires, so others exclude it)."""
        intent.task_id = task_id
        intent.expires_at = time.time() + self.lifetime
        await _call(self.store.put, intent.scope, intent.id, json.dumps(intent.to_dict()))

    async def others(self, intent: StartIntent) -> list[StartIntent]:
        """Every live intent of the scope but ``intent`` (expired ones are removed on the way)."""
        now = time.time()
        result = []
        for record_id, text in (await _call(self.store.scan, intent.scope)).items():
            if record_id == intent.id:
                continue
            try:
                other = StartIntent.from_dict(json.loads(text))
            except (ValueError, KeyError, TypeError):
                continue
            if other.expires_at and other.expires_at < now:
                try:
                    await asyncio.to_thread(self.store.delete, intent.scope, record_id)
                except Exception:  # best-effort clean-up
                    log.debug("Could not delete an expired start record", exc_info=True)
                continue
            result.append(other)
        return result

    async def withdraw(self, intent: StartIntent) -> None:
        """Remove an intent that made no task (best effort)."""
        try:
            await asyncio.to_thread(self.store.delete, intent.scope, intent.id)
        except Exception:
            log.debug("Could not delete a start record", exc_info=True)


# ---------------------------------------------------------------------------------------- file leases
class FileLeaseTimeout(AnaplanError):
    """Another run of this deployment kept a file busy for longer than we may wait."""


@dataclass
class FileLease:
    """A held lease (JSON-safe ids, so an operator can release it from another process)."""

    scope: str
    id: str
    file_id: str


class FileLeases:
    """At most one holder per Anaplan file across the deployment (register, then look)."""

    def __init__(self, store: CoordinationStore) -> None:
        self.store = store

    @staticmethod
    def scope(workspace_id: str, model_id: str, file_id: str) -> str:
        return f"file:{workspace_id}:{model_id}:{file_id}"

    async def acquire(
        self, scope: str, file_id: str, *, hold_for: float, wait: float, owner: str = ""  # noqa: ASYNC109
    ) -> FileLease:
        """Take the lease, waiting up to ``wait`` seconds while another holder has it.

        :param hold_for: seconds the lease lives unless released (a crashed holder frees it then).
        :raises FileLeaseTimeout: still held by someone else after ``wait`` seconds.
        """
        lease = FileLease(scope=scope, id=uuid.uuid4().hex, file_id=file_id)
        deadline = time.monotonic() + wait
        backoff = 0.2
        announced = False
        while True:
            record = {"writer": writer_id(), "owner": owner, "expires_at": time.time() + hold_for}
            await _call(self.store.put, scope, lease.id, json.dumps(record))
            holders = await self._live_others(scope, lease.id)
            if not holders:
                return lease
            await self.release(lease)
            if time.monotonic() >= deadline:
                who = ", ".join(sorted({h.get("owner") or h.get("writer", "?") for h in holders}))
                raise FileLeaseTimeout(
                    f"Anaplan file {file_id} is in use by another run of this deployment ({who}) for more "
                    f"than {wait:g} s: files are per user and not safe for concurrent writers, so this run "
                    "did not upload. Serialise the runs (e.g. an Airflow pool of one slot) or raise the wait.",
                    object_id=file_id,
                )
            if not announced:
                log.info("Anaplan file %s is in use by another run; waiting for it", file_id)
                announced = True
            await asyncio.sleep(random.uniform(0.5, 1.0) * backoff)
            backoff = min(5.0, backoff * 2)

    async def _live_others(self, scope: str, own: str) -> list[dict[str, Any]]:
        now = time.time()
        live = []
        for record_id, text in (await _call(self.store.scan, scope)).items():
            if record_id == own:
                continue
            try:
                record = json.loads(text)
            except ValueError:
                continue
            if float(record.get("expires_at") or 0) < now:
                try:
                    await asyncio.to_thread(self.store.delete, scope, record_id)
                except Exception:
                    log.debug("Could not delete an expired file lease", exc_info=True)
                continue
            live.append(record)
        return live

    async def release(self, lease: FileLease) -> None:
        """Give the lease back (best effort: an unreleased lease expires)."""
        try:
            await _call(self.store.delete, lease.scope, lease.id)
        except Exception:
            log.warning("Could not release the lease on Anaplan file %s; it expires by itself", lease.file_id)
