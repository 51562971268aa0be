"""CloudWorks state of the emulator: connections, integrations, flows and runs (plus the seed).

Like the ALM state it hangs off the :class:`~.store.EmulatorState` (created on first use by
:func:`cloudworks_state`), so a reset starts from the seed again. Seed objects in the object store
are written only when absent (a reset never overwrites a file a test put there).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from .alm import PROD_MODEL_ID, iso_now
from .store import EmulatorState

WORKSPACE_ID = "8a868cd985f53e7701860542f59e276e"
CONNECTION_ID = "0c0000000000000000000000000000a1"
BUCKET = "emulator-bucket"
IMPORT_PRODUCTS_ID = "1a000000000000000000000000000001"
IMPORT_REVENUE_ID = "1a000000000000000000000000000002"
EXPORT_REVENUE_ID = "1a000000000000000000000000000003"
PROCESS_LOAD_ALL_ID = "1a000000000000000000000000000004"
IMPORT_PARTIAL_ID = "1a000000000000000000000000000005"
FLOW_ID = "f1000000000000000000000000000001"
NOTIFICATION_PREFIX = "a0"

#: Seed objects of the bucket (key -> content), written when absent.
SEED_OBJECTS: dict[str, str] = {
    "inbound/products.csv": "Product,Category,Discontinued\nP006,Hardware,false\nP007,Software,false\n",
    "inbound/revenue.csv": "Product,Month,Revenue\nP001,Jan 26,1200\nP002,Jan 26,800\nP003,Feb 26,450.5\n",
    "inbound/revenue_with_errors.csv": "Product,Month,Revenue\nP001,Mar 26,10\nP999,Mar 26,20\nP002,Mar 26,abc\n",
}
SEED_TIME = "2026-01-01T00:00:00.000Z"


def step_time(iso: str) -> str:
    """Flow-step timestamps: ``YYYY-MM-DD HH:MM:SS.ffffff+00:00`` (not ISO 8601, as Anaplan)."""
    parsed = dt.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    return parsed.strftime("%Y-%m-%d %H:%M:%S.%f+00:00")


@dataclass
class Connection:
    """A connection to a bucket of the emulated object store (secrets are never returned)."""

    id: str
    type: str  # AmazonS3 | AzureBlob
    name: str
    bucket: str
    public: dict[str, Any]  # the body fields a GET shows
    workspace_id: str | None
    created: str
    created_by: str

    def to_api(self) -> dict[str, Any]:
        return {
            "connectionId": self.id,
            "connectionType": self.type,
            "body": dict(self.public),
            "creationDate": self.created,
            "modificationDate": self.created,
            "createdBy": self.created_by,
            "modifiedBy": self.created_by,
            "status": 1,
            "integrationErrorCode": None,
            "workspaceId": self.workspace_id,
            "authMethod": self.public.get("authMethod"),
        }


@dataclass
class Integration:
    """An import, export or process integration on one model."""

    id: str
    name: str
    type: str  # Import | Export | Process
    workspace_id: str
    model_id: str
    jobs: list[dict[str, Any]]
    process_id: str | None
    created: str
    created_by: str
    notification_id: str
    nux_visible: bool = False


@dataclass
class FlowStep:
    referrer: str
    depends_on: list[str]
    is_skipped: bool
    exception_behavior: list[dict[str, str]]
    created: str

    def strategy(self, kind: str) -> str:
        """``stop``/``continue`` for ``failure`` (default stop) or ``partial_success`` (default continue)."""
        for rule in self.exception_behavior:
            if rule.get("type") == kind and rule.get("strategy") in ("stop", "continue"):
                return str(rule["strategy"])
        return "stop" if kind == "failure" else "continue"


@dataclass
class Flow:
    id: str
    name: str
    steps: list[FlowStep]
    created: str
    created_by: str


@dataclass
class Run:
    """A run of an integration or a flow (``owner_id``)."""

    id: str
    owner_id: str
    kind: str  # integration | flow
    trace_id: str
    start: str
    created_by: str
    flow_group_id: str | None = None
    trigger_source: str = "manual"
    phase: str = "Queued"  # Queued | Running | done
    end: str | None = None
    end_epoch: int | None = None
    success: bool = False
    message: str = "Queued"
    error_code: int | None = None
    cancel_requested: bool = False
    task_ids: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)  # runerror errorMessages entries
    dumps: dict[str, bytes] = field(default_factory=dict)  # import action id -> dump CSV
    step_runs: list[str] = field(default_factory=list)
    worker: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.phase == "done"

    def finish(self, success: bool, message: str, code: int | None = None) -> None:
        self.success, self.message, self.error_code = success, message, code
        self.end = iso_now()
        self.end_epoch = int(time.time())
        self.phase = "done"

    def latest_api(self) -> dict[str, Any]:
        """``latestRun`` of an integration or flow summary."""
        body: dict[str, Any] = {"triggeredBy": self.created_by, "startDate": self.start}
        if self.end:
            body["endDate"] = self.end
        body.update(
            success=self.success,
            message=self.message,
            executionErrorCode=self.error_code,
            triggerSource=self.trigger_source,
        )
        return body

    def record_api(self) -> dict[str, Any]:
        """A ``RunRecord`` of the run history."""
        body: dict[str, Any] = {"id": self.id, "triggeredBy": self.created_by}
        if self.end_epoch is not None:
            body["lastRun"] = self.end_epoch
        body.update(self.latest_api())
        body["traceId"] = self.trace_id
        return body

    def status_api(self) -> dict[str, Any]:
        """The ``RunStatus`` of ``GET /integrations/run/{runId}``."""
        body: dict[str, Any] = {
            "id": self.id,
            "integrationId": self.owner_id,
            "traceId": self.trace_id,
            "startDate": self.start,
        }
        if self.end:
            body["endDate"] = self.end
        body.update(
            success=self.success,
            message=self.message,
            creationDate=self.start,
            modificationDate=self.end or self.start,
            createdBy=self.created_by,
            modifiedBy=self.created_by,
            executionErrorCode=self.error_code,
            flowGroupId=self.flow_group_id,
            triggerSource=self.trigger_source,
        )
        return body

    def to_admin(self) -> dict[str, Any]:
        return {
            **self.status_api(),
            "kind": self.kind,
            "taskIds": list(self.task_ids),
            "stepRuns": self.step_runs,
        }


@dataclass
class CloudWorksSettings:
    """Durations (admin ``POST /_emulator/cloudworks/config``)."""

    #: Time a run spends queued plus moving objects, on top of the Anaplan task's own time.
    run_seconds: float = 0.2


@dataclass
class CloudWorksState:
    connections: dict[str, Connection] = field(default_factory=dict)
    integrations: dict[str, Integration] = field(default_factory=dict)
    flows: dict[str, Flow] = field(default_factory=dict)
    runs: dict[str, Run] = field(default_factory=dict)  # oldest first
    settings: CloudWorksSettings = field(default_factory=CloudWorksSettings)
    tenant_max: int = 100

    def runs_of(self, owner_id: str) -> list[Run]:
        """Runs of an integration or flow, newest first."""
        return [r for r in reversed(self.runs.values()) if r.owner_id == owner_id]

    def active_run(self, owner_id: str) -> Run | None:
        return next((r for r in self.runs_of(owner_id) if not r.finished), None)


def _s3_import(file: str, action_id: str, file_id: str) -> dict[str, Any]:
    return {
        "type": "AmazonS3ToAnaplan",
        "sources": [{"type": "AmazonS3", "connectionId": CONNECTION_ID, "file": file}],
        "targets": [{"type": "Anaplan", "actionId": action_id, "fileId": file_id}],
    }


def seed_objects(store: Any, *, restore: bool = False) -> None:
    """Write the seed objects of :data:`BUCKET` that are absent (an existing file is never replaced),
    or with ``restore`` (an admin reset) rewrite them with their seed content."""
    try:
        store.ensure_bucket(BUCKET)
        for key, content in SEED_OBJECTS.items():
            if restore or not store.exists(BUCKET, key):
                store.write(BUCKET, key, content.encode())
    except OSError:  # pragma: no cover - an unwritable directory leaves the seed files out
        pass


def _seed(cw: CloudWorksState, state: EmulatorState) -> None:
    from ..objectstore import object_store

    prod = state.models.get(PROD_MODEL_ID)
    user = next(iter(state.users.values()), None)
    who = f"{user.first_name} {user.last_name}" if user else "Emulator"
    cw.connections[CONNECTION_ID] = Connection(
        id=CONNECTION_ID,
        type="AmazonS3",
        name="Emulator object store",
        bucket=BUCKET,
        public={"name": "Emulator object store", "accessKeyId": "EMULATORACCESSKEY", "bucketName": BUCKET},
        workspace_id=WORKSPACE_ID,
        created=SEED_TIME,
        created_by=who,
    )
    seed_objects(object_store())
    if prod is None:
        return
    export_job = {
        "type": "AnaplanToAmazonS3",
        "sources": [{"type": "Anaplan", "actionId": "116000000000"}],
        "targets": [
            {
                "type": "AmazonS3",
                "connectionId": CONNECTION_ID,
                "file": "outbound/revenue.csv",
                "overwrite": True,
            }
        ],
    }
    specs: list[tuple[str, str, str, list[dict[str, Any]], str | None]] = [
        (IMPORT_PRODUCTS_ID, "Load products from S3", "Import",
         [_s3_import("inbound/products.csv", "112000000000", "113000000000")], None),
        (IMPORT_REVENUE_ID, "Load revenue from S3", "Import",
         [_s3_import("inbound/revenue.csv", "112000000001", "113000000001")], None),
        (EXPORT_REVENUE_ID, "Publish revenue to S3", "Export", [export_job], None),
        (PROCESS_LOAD_ALL_ID, "Load all from S3 (process)", "Process",
         [_s3_import("inbound/products.csv", "112000000000", "113000000000"),
          _s3_import("inbound/revenue.csv", "112000000001", "113000000001")], "118000000000"),
        (IMPORT_PARTIAL_ID, "Load revenue with a rejected row", "Import",
         [_s3_import("inbound/revenue_with_errors.csv", "112000000001", "113000000001")], None),
    ]  # fmt: skip
    for number, (iid, name, kind, jobs, process_id) in enumerate(specs, start=1):
        cw.integrations[iid] = Integration(
            id=iid,
            name=name,
            type=kind,
            workspace_id=prod.workspace_id,
            model_id=prod.id,
            jobs=jobs,
            process_id=process_id,
            created=SEED_TIME,
            created_by=who,
            notification_id=f"{NOTIFICATION_PREFIX}{number:030x}",
        )
    rules = [{"type": "failure", "strategy": "stop"}, {"type": "partial_success", "strategy": "continue"}]
    cw.flows[FLOW_ID] = Flow(
        id=FLOW_ID,
        name="Load and publish",
        steps=[
            FlowStep(IMPORT_PRODUCTS_ID, [], False, list(rules), SEED_TIME),
            FlowStep(IMPORT_REVENUE_ID, [IMPORT_PRODUCTS_ID], False, list(rules), SEED_TIME),
            FlowStep(EXPORT_REVENUE_ID, [IMPORT_REVENUE_ID], False, list(rules), SEED_TIME),
        ],
        created=SEED_TIME,
        created_by=who,
    )


def cloudworks_state(state: EmulatorState) -> CloudWorksState:
    """The CloudWorks state of ``state`` (seeded on first use)."""
    existing = vars(state).get("_cloudworks_state")
    if isinstance(existing, CloudWorksState):
        return existing
    cw = CloudWorksState()
    vars(state)["_cloudworks_state"] = cw
    _seed(cw, state)
    return cw
