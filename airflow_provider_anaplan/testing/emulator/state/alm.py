"""ALM state of the emulator: revisions (structure snapshots), applications, sync and report tasks.

The state hangs off the :class:`~.store.EmulatorState` it belongs to (created on first use by
:func:`alm_state`), so a reset or a new fixture starts from the seed again.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any

from .store import EmulatorState

#: The seed's development (standard mode) and production (deployed) models, and their shared revision.
DEV_MODEL_ID = "75A40874E6B64FA3AE0B4E5D5B4B9A0B"
PROD_MODEL_ID = "D3A1B5C7E9F24680ACE13579BDF02468"
SEED_REVISION_ID = "0A1A0000000000000000000000000001"
SEED_REVISION_NAME = "Initial release"
SEED_TIME = "2026-01-01T00:00:00.000Z"


def iso_now() -> str:
    """``YYYY-MM-DDTHH:MM:SS.sssZ`` (UTC, milliseconds)."""
    now = dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


@dataclass
class Revision:
    """A revision tag: a snapshot of a source model's structure."""

    id: str
    name: str
    description: str | None
    created_on: str
    created_by: str
    source_model_id: str
    structure: dict[str, Any]
    seq: int
    creation_method: str = "user"


@dataclass
class Application:
    """One model a revision is in (the model it was created in, or one it was synced to)."""

    model_id: str
    applied_on: str
    applied_by: str
    method: str  # "Created" in the source model, "Sync" in a target


@dataclass
class AlmTask:
    """A sync task or a comparison/summary report task."""

    id: str
    kind: str  # sync | comparison | summary
    model_id: str  # the request-path (target) model
    source_model_id: str
    source_revision_id: str
    target_revision_id: str
    user_id: str
    created: str
    due: float  # time.monotonic() when it completes
    state: str = "IN_PROGRESS"
    result: dict[str, Any] | None = None

    def to_api(self, task_url: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "taskId": self.id,
            "taskUrl": task_url,
            "taskState": self.state,
            "creationTime": self.created,
            "currentStep": "Complete." if self.state == "COMPLETE" else "Running.",
        }
        if self.result is not None and self.state == "COMPLETE":
            body["result"] = self.result
        return body


@dataclass
class AlmSettings:
    """Durations (admin ``POST /_emulator/alm/config``)."""

    sync_seconds: float = 0.3
    report_seconds: float = 0.1


@dataclass
class AlmState:
    """Revisions by id, each model's history, and the tasks."""

    revisions: dict[str, Revision] = field(default_factory=dict)
    #: model id -> revision ids in the order they reached the model (oldest first)
    history: dict[str, list[str]] = field(default_factory=dict)
    #: revision id -> the models it is in (the source model first)
    applied: dict[str, list[Application]] = field(default_factory=dict)
    tasks: dict[str, AlmTask] = field(default_factory=dict)
    #: (model id, target revision id, source revision id, kind) -> report (bytes for comparison, dict for summary)
    reports: dict[tuple[str, str, str, str], Any] = field(default_factory=dict)
    settings: AlmSettings = field(default_factory=AlmSettings)
    _seq: itertools.count = field(default_factory=lambda: itertools.count(1), repr=False)

    def next_seq(self) -> int:
        return next(self._seq)

    def latest(self, model_id: str) -> Revision | None:
        ids = self.history.get(model_id) or []
        return self.revisions[ids[-1]] if ids else None

    def record(self, revision: Revision, model_id: str, when: str, user: str, method: str) -> None:
        """Note that ``revision`` is now in ``model_id``."""
        self.revisions[revision.id] = revision
        self.history.setdefault(model_id, []).append(revision.id)
        self.applied.setdefault(revision.id, []).append(Application(model_id, when, user, method))

    def applied_on(self, revision_id: str, model_id: str) -> Application | None:
        for app in self.applied.get(revision_id, []):
            if app.model_id == model_id:
                return app
        return None


def alm_state(state: EmulatorState) -> AlmState:
    """The ALM state of ``state`` (seeded on first use: the development model's first revision,
    already applied to the production model, when both models exist)."""
    existing = vars(state).get("_alm_state")
    if isinstance(existing, AlmState):
        return existing
    from ..alm_structure import snapshot  # local: alm_structure imports this module's types

    alm = AlmState()
    vars(state)["_alm_state"] = alm
    dev = state.models.get(DEV_MODEL_ID)
    prod = state.models.get(PROD_MODEL_ID)
    if dev is not None and prod is not None:
        user = next(iter(state.users.values())).id if state.users else ""
        revision = Revision(
            id=SEED_REVISION_ID,
            name=SEED_REVISION_NAME,
            description="Seed revision: the structure production was deployed from",
            created_on=SEED_TIME,
            created_by=user,
            source_model_id=dev.id,
            structure=snapshot(dev),
            seq=alm.next_seq(),
        )
        alm.record(revision, dev.id, SEED_TIME, user, "Created")
        alm.record(revision, prod.id, SEED_TIME, user, "Sync")
    return alm
