"""In-memory state of the emulator (data model, credentials, config, counters, chunk storage)."""

from __future__ import annotations

from .model import (
    ActionDef,
    Dimension,
    Dump,
    ExportDef,
    FileObj,
    ImportDef,
    ListDef,
    Model,
    ModuleDef,
    ProcessDef,
    SourceFormat,
    Task,
    User,
    Workspace,
)
from .security import AuthToken, DeviceCode, OAuthClient, RefreshToken, SecurityState
from .storage import SPOOL, ChunkSet
from .store import Counters, EmulatorConfig, EmulatorState

__all__ = [
    "SPOOL",
    "ActionDef",
    "AuthToken",
    "ChunkSet",
    "Counters",
    "DeviceCode",
    "Dimension",
    "Dump",
    "EmulatorConfig",
    "EmulatorState",
    "ExportDef",
    "FileObj",
    "ImportDef",
    "ListDef",
    "Model",
    "ModuleDef",
    "OAuthClient",
    "ProcessDef",
    "RefreshToken",
    "SecurityState",
    "SourceFormat",
    "Task",
    "User",
    "Workspace",
]
