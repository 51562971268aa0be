"""The emulator's whole state: data, credentials, configuration and request counters."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .model import Model, User, Workspace
from .security import SecurityState
from .storage import SPOOL


@dataclass
class EmulatorConfig:
    """Tunables (admin ``POST /_emulator/config``); defaults mimic Anaplan but run fast."""

    rows_per_second: float = 200_000.0
    min_task_seconds: float = 0.0
    cancel_delay_seconds: float = 0.05
    token_ttl_seconds: float = 2100.0
    refresh_token_ttl_seconds: float = 12 * 3600.0
    device_code_ttl_seconds: float = 900.0
    device_poll_interval: float = 5.0
    device_slow_down_increment: float = 5.0
    certificate_v1_allowed: bool = True
    certificate_v2_max_skew_seconds: float = 300.0
    export_chunk_size: int = 10 * 1024 * 1024
    max_chunk_bytes: int = 50 * 1024 * 1024
    max_chunks: int = 1000
    max_queued_tasks: int = 100
    dump_ttl_seconds: float = 48 * 3600.0
    default_page_size: int = 5000
    spool_threshold_bytes: int = 64 * 1024 * 1024
    #: Keep gzip chunks as received and inflate them when read. Faster intake (benchmarks, where the
    #: emulator shares the client's cores); a corrupt gzip body then fails when the file is read
    #: instead of at ``PUT``. Off by default: Anaplan validates at upload.
    lazy_gzip: bool = False

    def update(self, values: dict[str, Any]) -> None:
        """Apply known keys with their declared types; unknown keys raise ``KeyError``."""
        known = {f.name: f for f in fields(self)}
        for key, value in values.items():
            if key not in known:
                raise KeyError(key)
            current = getattr(self, key)
            if isinstance(current, bool):
                value = bool(value)
            elif isinstance(current, int):
                value = int(value)
            elif isinstance(current, float):
                value = float(value)
            setattr(self, key, value)
        SPOOL.threshold_bytes = self.spool_threshold_bytes

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Counters:
    """Request and event counters (admin ``GET /_emulator/counters``)."""

    requests: Counter[str] = field(default_factory=Counter)  # "METHOD /route/{template}"
    statuses: Counter[str] = field(default_factory=Counter)  # "METHOD /route/{template} -> 200"
    tasks_created: Counter[str] = field(default_factory=Counter)  # action id
    #: action id -> [{"task_id", "mapping", "created_at" (epoch ms = creationTime), "user_id"}], oldest first
    tasks_created_detail: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    authentications: Counter[str] = field(default_factory=Counter)  # basic|certificate|refresh|...
    auth_failures: Counter[str] = field(default_factory=Counter)
    oauth_refresh_grants: Counter[str] = field(default_factory=Counter)  # client id -> tokens issued
    refresh_token_reuse: Counter[str] = field(default_factory=Counter)  # client id -> spent token replayed
    faults: Counter[str] = field(default_factory=Counter)  # fault kind/rule -> times fired
    #: "METHOD /template -> status" of handler replies the client never got (faults after, holds)
    lost_replies: Counter[str] = field(default_factory=Counter)
    bytes_received: int = 0

    def task_created(
        self, action_id: str, task_id: str, mapping: dict[str, str], created_ms: int, user_id: str
    ) -> None:
        """Count a new task and remember its mapping parameters (which client's task is which)."""
        self.tasks_created[action_id] += 1
        self.tasks_created_detail.setdefault(action_id, []).append(
            {"task_id": task_id, "mapping": dict(mapping), "created_at": created_ms, "user_id": user_id}
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "statuses": dict(self.statuses),
            "tasks_created": dict(self.tasks_created),
            "tasks_created_detail": {
                a: [{**d, "mapping": dict(d["mapping"])} for d in ds]
                for a, ds in self.tasks_created_detail.items()
            },
            "authentications": dict(self.authentications),
            "auth_failures": dict(self.auth_failures),
            "oauth_refresh_grants": dict(self.oauth_refresh_grants),
            "refresh_token_reuse": dict(self.refresh_token_reuse),
            "faults": dict(self.faults),
            "lost_replies": dict(self.lost_replies),
            "bytes_received": self.bytes_received,
        }


@dataclass
class EmulatorState:
    """Root object shared by every route handler (``request.app.state.emulator``)."""

    users: dict[str, User] = field(default_factory=dict)  # by email (lower case)
    workspaces: dict[str, Workspace] = field(default_factory=dict)
    models: dict[str, Model] = field(default_factory=dict)
    security: SecurityState = field(default_factory=SecurityState)
    config: EmulatorConfig = field(default_factory=EmulatorConfig)
    counters: Counters = field(default_factory=Counters)

    def user_by_id(self, user_id: str) -> User | None:
        for user in self.users.values():
            if user.id == user_id:
                return user
        return None

    def default_model(self) -> Model:
        """The first model (admin endpoints use it when no model id is given)."""
        return next(iter(self.models.values()))
