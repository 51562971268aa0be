"""The in-memory Anaplan model: users, workspaces, models and the objects inside a model.

Everything here is plain data; the behaviour (imports, exports, ...) lives in ``engine.py`` and the
HTTP layer in the ``bulk_*`` modules. All mutation happens on the server's event loop, so no locks.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from .storage import ChunkSet
from .transactional import TxModelState

# Object-type prefixes of 12-digit model object ids.
PREFIX_LIST = "101"
PREFIX_MODULE = "102"
PREFIX_IMPORT = "112"
PREFIX_FILE = "113"
PREFIX_EXPORT = "116"
PREFIX_ACTION = "117"
PREFIX_PROCESS = "118"


@dataclass
class User:
    """An Anaplan user that can authenticate with basic credentials (or a certificate)."""

    id: str
    email: str
    password: str
    first_name: str = "Demo"
    last_name: str = "User"
    customer_id: str = "8a868cd97b120fc7017b36d7331d74be"

    def to_api(self) -> dict[str, Any]:
        """The ``user`` object of ``GET /users/me``."""
        return {
            "id": self.id,
            "active": True,
            "email": self.email,
            "emailOptIn": False,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "customerId": self.customer_id,
            "lastLoginDate": "2026-01-01T00:00:00.000+0000",
        }


@dataclass
class Workspace:
    """A workspace (id is 32 hex, lower case)."""

    id: str
    name: str
    size_allowance: int = 1073741824

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "active": True,
            "sizeAllowance": self.size_allowance,
            "currentSize": 0,
        }


@dataclass
class SourceFormat:
    """How a delimited file is laid out (used by import definitions, files and exports)."""

    header_row: int = 1
    first_data_row: int = 2
    separator: str = ","
    delimiter: str = '"'
    encoding: str = "UTF-8"

    def to_file_api(self) -> dict[str, Any]:
        return {
            "delimiter": self.delimiter,
            "encoding": self.encoding,
            "firstDataRow": self.first_data_row,
            "format": "txt",
            "headerRow": self.header_row,
            "separator": self.separator,
        }


@dataclass
class ListDef:
    """A list: ordered members keyed by name, each with typed properties."""

    id: str
    name: str
    properties: dict[str, str] = field(default_factory=dict)  # property name -> text|boolean|number
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # member name -> {code, prop: value}
    _next_code: itertools.count = field(default_factory=lambda: itertools.count(1), repr=False)

    def item_api(self, name: str) -> dict[str, Any]:
        """One member as the admin API shows it."""
        data = self.items[name]
        return {"name": name, "code": data.get("code", ""), **{p: data.get(p) for p in self.properties}}

    def default_value(self, prop: str) -> Any:
        kind = self.properties.get(prop, "text")
        return False if kind == "boolean" else (None if kind == "number" else "")


@dataclass
class Dimension:
    """One dimension of a module: a list (by id) or a fixed item sequence (e.g. months)."""

    name: str
    list_id: str | None = None
    items: list[str] | None = None


@dataclass
class ModuleDef:
    """A module with a single line item; cells are keyed by one item name per dimension."""

    id: str
    name: str
    dimensions: list[Dimension]
    line_item: str = "Value"
    data_type: str = "number"  # number | text | boolean
    cells: dict[tuple[str, ...], Any] = field(default_factory=dict)
    #: Structure-only line items beyond ``line_item`` (name -> data type), e.g. added in development
    #: through the admin API and carried to production by an ALM sync; they hold no cells.
    extra_line_items: dict[str, str] = field(default_factory=dict)

    def dim_index(self, name: str) -> int:
        for index, dim in enumerate(self.dimensions):
            if dim.name == name:
                return index
        raise KeyError(name)


@dataclass
class ImportDef:
    """A file import into a list (``target_kind='list'``) or a module (``'module'``).

    ``columns`` maps a file header to a target field: for lists ``"name"`` or a property name; for
    modules a dimension name or ``"value"``. ``fixed`` pins module dimensions to an item;
    ``mapping_parameters`` names dimensions whose item is chosen per task (``mappingParameters``).
    """

    id: str
    name: str
    file_id: str
    target_id: str
    target_kind: str
    columns: dict[str, str]
    fixed: dict[str, str] = field(default_factory=dict)
    mapping_parameters: list[str] = field(default_factory=list)
    source: SourceFormat = field(default_factory=SourceFormat)


@dataclass
class ExportDef:
    """A tabular export of a module (filtered by ``filter``) or of a list, rendered as delimited text."""

    id: str
    name: str
    source_id: str
    source_kind: str
    columns: dict[str, str]
    filter: dict[str, str] = field(default_factory=dict)
    format: SourceFormat = field(default_factory=SourceFormat)


@dataclass
class ActionDef:
    """A delete-by-selection action: removes list members whose properties match ``where``."""

    id: str
    name: str
    list_id: str
    where: dict[str, Any]
    action_type: str = "DELETE_BY_SELECTION"


@dataclass
class ProcessDef:
    """A process: action ids run in order (not atomic)."""

    id: str
    name: str
    actions: list[str]


@dataclass
class FileObj:
    """A model file: the upload target of an import or the output of an export (id = export id)."""

    id: str
    name: str
    fmt: SourceFormat = field(default_factory=SourceFormat)
    declared_chunks: int = 0  # chunkCount set by POST files/{id}; -1 = unknown until /complete
    content: ChunkSet = field(default_factory=ChunkSet)

    @property
    def chunk_count(self) -> int:
        """What ``chunkCount`` reports: declared count, or chunks present when unknown/unset."""
        if self.declared_chunks > 0:
            return self.declared_chunks
        return len(self.content)

    def to_api(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "chunkCount": self.chunk_count, **self.fmt.to_file_api()}


@dataclass
class Dump:
    """A failure dump kept for the latest task of an import (or a process step)."""

    task_id: str
    content: ChunkSet
    created: float


@dataclass
class Task:
    """A task of an import, export, action or process."""

    id: str
    action_id: str
    kind: str  # import | export | action | process
    model_id: str
    user_id: str
    created_ms: int
    locale: str = "en_US"
    mapping: dict[str, str] = field(default_factory=dict)
    state: str = "NOT_STARTED"
    progress: float = 0.0
    current_step: str | None = None
    result: dict[str, Any] | None = None
    cancel_requested: bool = False

    @property
    def terminal(self) -> bool:
        return self.state in ("COMPLETE", "CANCELLED")

    def to_api(self) -> dict[str, Any]:
        """The ``task`` object of ``GET .../tasks/{taskId}``."""
        body: dict[str, Any] = {
            "type": "taskInformation",
            "taskId": self.id,
            "taskState": self.state,
            "creationTime": self.created_ms,
            "progress": round(self.progress, 4),
        }
        if self.current_step is not None:
            body["currentStep"] = self.current_step
        if self.result is not None and self.terminal:
            body["result"] = self.result
        return body

    def to_list_api(self) -> dict[str, Any]:
        """The short form used in task lists."""
        return {"taskId": self.id, "taskState": self.state, "creationTime": self.created_ms}


@dataclass
class Model:
    """A model and everything in it."""

    id: str
    name: str
    workspace_id: str
    active_state: str = "UNLOCKED"
    lists: dict[str, ListDef] = field(default_factory=dict)
    modules: dict[str, ModuleDef] = field(default_factory=dict)
    files: dict[str, FileObj] = field(default_factory=dict)
    imports: dict[str, ImportDef] = field(default_factory=dict)
    exports: dict[str, ExportDef] = field(default_factory=dict)
    actions: dict[str, ActionDef] = field(default_factory=dict)
    processes: dict[str, ProcessDef] = field(default_factory=dict)
    tasks: dict[str, list[Task]] = field(default_factory=dict)  # action id -> tasks (oldest first)
    dumps: dict[tuple[str, str], Dump] = field(default_factory=dict)  # (action id, object id) -> dump
    #: Transactional API state: views, list extras, read requests, open/close, calendar.
    transactional: TxModelState = field(default_factory=TxModelState)

    def to_api(self, workspace_name: str, base_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "activeState": self.active_state,
            "currentWorkspaceId": self.workspace_id,
            "currentWorkspaceName": workspace_name,
            "modelUrl": f"{base_url}/a/springboard-platform-gateway-service/model/{self.id}",
            "categoryValues": [],
            "memoryUsage": 1048576,
            "isoCreationDate": "2026-01-01T00:00:00.000+0000",
            "lastModified": "2026-01-01T00:00:00.000+0000",
            "modelTransactionRunning": False,
        }

    def object_name(self, object_id: str) -> str:
        for table in (self.imports, self.exports, self.actions, self.processes):
            if object_id in table:
                return table[object_id].name
        return object_id

    def find_task(self, task_id: str) -> Task | None:
        for tasks in self.tasks.values():
            for task in tasks:
                if task.id == task_id:
                    return task
        return None

    def require_open(self) -> None:
        """Raise the API error a call on a closed (or still loading) model gets (409).

        Called by every transactional endpoint before it reads or writes the model.
        """
        from ..responses import ApiError

        step = self.transactional.runtime.current()
        if step == "Closed":
            raise ApiError(
                409,
                f"Model {self.id} is closed: open it with POST /2/0/models/{self.id}/open and wait "
                "until GET .../status reports currentStep Open",
            )
        if step != "Open":
            raise ApiError(
                409, f"Model {self.id} is still loading ({step}); wait until GET .../status reports Open"
            )

    def require_writable(self) -> None:
        """:meth:`require_open`, then 423 when the model is locked or in maintenance."""
        from ..responses import ApiError

        self.require_open()
        if self.active_state in ("LOCKED", "MAINTENANCE", "PRODUCTION_MAINTENANCE"):
            raise ApiError(423, f"Model {self.id} is locked ({self.active_state}); try again later")
