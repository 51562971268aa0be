"""The default seed and the fixture loader (JSON/YAML fixture -> :class:`EmulatorState`).

The fixture schema is documented in ``docs/emulator.md``; :data:`DEFAULT_FIXTURE` is the default
seed described in ``docs/ARCHITECTURE.md`` (its ids are fixed and used by tests and example DAGs).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from .state import (
    ActionDef,
    ChunkSet,
    Dimension,
    EmulatorState,
    ExportDef,
    FileObj,
    ImportDef,
    ListDef,
    Model,
    ModuleDef,
    OAuthClient,
    ProcessDef,
    SourceFormat,
    User,
    Workspace,
)
from .transactional_seed import TransactionalFixtureError
from .transactional_seed import apply_fixture as apply_transactional_fixture

DEMO_USER = "demo@example.com"
DEMO_PASSWORD = "emulator-demo-pw"  # >= 5 characters, so Airflow's secret masker masks it
DEMO_USER_ID = "8a868cdd7bd58ea7017c0b0ab35b04e1"
WORKSPACE_ID = "8a868cd985f53e7701860542f59e276e"
MODEL_ID = "75A40874E6B64FA3AE0B4E5D5B4B9A0B"
DEVICE_CLIENT_ID = "emulator-device-client"
ROTATING_CLIENT_ID = "emulator-rotating-client"
MONTHS = [
    f"{m} 26" for m in ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
]

_PRODUCT_COLUMNS = {"Product": "name", "Category": "Category", "Discontinued": "Discontinued"}
_REVENUE_COLUMNS = {"Product": "Product", "Month": "Month", "Revenue": "value"}

DEFAULT_FIXTURE: dict[str, Any] = {
    "users": [
        {
            "email": DEMO_USER,
            "password": DEMO_PASSWORD,
            "id": DEMO_USER_ID,
            "firstName": "Demo",
            "lastName": "User",
        }
    ],
    "oauth_clients": [
        {"client_id": DEVICE_CLIENT_ID, "rotatable": False},
        {"client_id": ROTATING_CLIENT_ID, "rotatable": True},
    ],
    "workspaces": [{"id": WORKSPACE_ID, "name": "Demo Workspace"}],
    "models": [
        {
            "id": MODEL_ID,
            "name": "Demo Model",
            "workspaceId": WORKSPACE_ID,
            "lists": [
                {
                    "id": "101000000001",
                    "name": "Products",
                    "properties": {"Category": "text", "Discontinued": "boolean"},
                    "items": [
                        {"name": "P001", "Category": "Hardware", "Discontinued": False},
                        {"name": "P002", "Category": "Hardware", "Discontinued": False},
                        {"name": "P003", "Category": "Software", "Discontinued": False},
                        {"name": "P004", "Category": "Software", "Discontinued": False},
                        {"name": "P005", "Category": "Services", "Discontinued": True},
                    ],
                },
                {
                    "id": "101000000002",
                    "name": "Versions",
                    "items": [{"name": "Actual"}, {"name": "Budget"}, {"name": "Forecast"}],
                },
                # Transactional API seed: a list with codes that is the parent of another one.
                {
                    "id": "101000000003",
                    "name": "Regions",
                    "items": [
                        {"name": "North", "code": "N"},
                        {"name": "South", "code": "S"},
                        {"name": "East", "code": "E"},
                    ],
                },
                {
                    "id": "101000000004",
                    "name": "Stores",
                    "parent": "101000000003",
                    "properties": {"Manager": "text", "Size": "number", "Open": "boolean"},
                    "subsets": {"Flagship": ["London"]},
                    "items": [
                        {"name": "London", "code": "ST01", "parent": "North", "Manager": "Ann", "Size": 120, "Open": True},
                        {"name": "Leeds", "code": "ST02", "parent": "North", "Manager": "Bob", "Size": 80, "Open": True},
                        {"name": "Bristol", "code": "ST03", "parent": "South", "Manager": "Cid", "Size": 60, "Open": False},
                    ],
                },
            ],
            "modules": [
                {
                    "id": "102000000001",
                    "name": "Revenue",
                    "lineItem": "Revenue",
                    "dataType": "number",
                    "dimensions": [
                        {"name": "Product", "list": "101000000001"},
                        {"name": "Month", "items": MONTHS},
                        {"name": "Version", "list": "101000000002"},
                    ],
                    "cells": [],
                }
            ],
            "files": [
                {"id": "113000000000", "name": "products.csv"},
                {"id": "113000000001", "name": "revenue.csv"},
            ],
            "imports": [
                {
                    "id": "112000000000",
                    "name": "Products from products.csv",
                    "fileId": "113000000000",
                    "target": "101000000001",
                    "columns": _PRODUCT_COLUMNS,
                },
                {
                    "id": "112000000001",
                    "name": "Revenue from revenue.csv",
                    "fileId": "113000000001",
                    "target": "102000000001",
                    "columns": _REVENUE_COLUMNS,
                    "fixed": {"Version": "Actual"},
                },
                {
                    "id": "112000000002",
                    "name": "Revenue by Version from revenue.csv",
                    "fileId": "113000000001",
                    "target": "102000000001",
                    "columns": _REVENUE_COLUMNS,
                    "mappingParameters": ["Version"],
                },
            ],
            "exports": [
                {
                    "id": "116000000000",
                    "name": "Revenue.csv",
                    "source": "102000000001",
                    "columns": _REVENUE_COLUMNS,
                    "filter": {"Version": "Actual"},
                },
                {
                    "id": "116000000001",
                    "name": "Products.csv",
                    "source": "101000000001",
                    "columns": _PRODUCT_COLUMNS,
                },
            ],
            "actions": [
                {
                    "id": "117000000000",
                    "name": "Delete discontinued products",
                    "list": "101000000001",
                    "where": {"Discontinued": True},
                }
            ],
            "processes": [
                {"id": "118000000000", "name": "Load all", "actions": ["112000000000", "112000000001"]},
                {
                    "id": "118000000001",
                    "name": "Load by version",
                    "actions": ["112000000000", "112000000002"],
                },
            ],
            # Transactional API seed: two saved views of the Revenue module.
            "views": [
                {
                    "id": "203000000001",
                    "name": "Products by Version",
                    "module": "102000000001",
                    "rows": ["Product", "Version"],
                    "columns": ["Month"],
                },
                {
                    "id": "203000000002",
                    "name": "Budget grid",
                    "module": "102000000001",
                    "rows": ["Product"],
                    "columns": ["Month"],
                    "pages": ["Version"],
                    "filters": {"Product": ["P001", "P002", "P003", "P004"]},
                    "pageDefaults": {"Version": "Budget"},
                },
            ],
        }
    ],
}

#: The deployed (production) copy of the demo model: same structure and object ids, its own data.
#: ALM syncs development (MODEL_ID) into it; the seeded CloudWorks integrations run against it.
PRODUCTION_MODEL_ID = "D3A1B5C7E9F24680ACE13579BDF02468"


def _production_model() -> dict[str, Any]:
    model = copy.deepcopy(DEFAULT_FIXTURE["models"][0])
    model.update(id=PRODUCTION_MODEL_ID, name="Production Model", activeState="PRODUCTION")
    return model


DEFAULT_FIXTURE["models"].append(_production_model())

_WS_RE = re.compile(r"^[0-9a-f]{32}$")
_MODEL_RE = re.compile(r"^[0-9A-F]{32}$")
_OBJ_RE = re.compile(r"^\d{12}$")


class FixtureError(ValueError):
    """The fixture is malformed (the message says where)."""


def default_fixture() -> dict[str, Any]:
    """A deep copy of the default seed."""
    return copy.deepcopy(DEFAULT_FIXTURE)


def read_fixture_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON or YAML fixture file."""
    text = Path(path).read_text(encoding="utf-8")
    if str(path).endswith((".yaml", ".yml")):
        import yaml

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    if not isinstance(data, dict):
        raise FixtureError(f"{path}: the fixture must be a mapping")
    return data


def _check_id(value: Any, prefix: str, where: str) -> str:
    text = str(value)
    if not _OBJ_RE.match(text) or not text.startswith(prefix):
        raise FixtureError(f"{where}: id {text!r} must be 12 digits starting with {prefix}")
    return text


def _source(data: dict[str, Any] | None) -> SourceFormat:
    data = data or {}
    return SourceFormat(
        header_row=int(data.get("headerRow", 1)),
        first_data_row=int(data.get("firstDataRow", 2)),
        separator=str(data.get("separator", ",")),
        delimiter=str(data.get("delimiter", '"')),
        encoding=str(data.get("encoding", "UTF-8")),
    )


def _build_list(raw: dict[str, Any], where: str) -> ListDef:
    lst = ListDef(
        id=_check_id(raw.get("id"), "101", where),
        name=str(raw.get("name") or raw.get("id")),
        properties={str(k): str(v) for k, v in (raw.get("properties") or {}).items()},
    )
    for kind in lst.properties.values():
        if kind not in ("text", "boolean", "number"):
            raise FixtureError(f"{where}: property type {kind!r} must be text, boolean or number")
    for item in raw.get("items") or []:
        if isinstance(item, str):
            item = {"name": item}
        name = str(item["name"])
        values = {p: item.get(p, lst.default_value(p)) for p in lst.properties}
        lst.items[name] = {"code": str(item.get("code", "")), **values}
    return lst


def _build_module(raw: dict[str, Any], lists: dict[str, ListDef], where: str) -> ModuleDef:
    dims: list[Dimension] = []
    for dim in raw.get("dimensions") or []:
        if "list" in dim:
            list_id = str(dim["list"])
            if list_id not in lists:
                raise FixtureError(f"{where}: dimension {dim.get('name')!r} refers to unknown list {list_id}")
            dims.append(Dimension(name=str(dim.get("name") or lists[list_id].name), list_id=list_id))
        else:
            dims.append(Dimension(name=str(dim["name"]), items=[str(i) for i in dim.get("items") or []]))
    if not dims:
        raise FixtureError(f"{where}: a module needs at least one dimension")
    module = ModuleDef(
        id=_check_id(raw.get("id"), "102", where),
        name=str(raw.get("name") or raw.get("id")),
        dimensions=dims,
        line_item=str(raw.get("lineItem", "Value")),
        data_type=str(raw.get("dataType", "number")),
    )
    for cell in raw.get("cells") or []:
        key = tuple(str(cell[d.name]) for d in dims)
        module.cells[key] = cell.get("value")
    return module


def _build_model(raw: dict[str, Any], workspaces: dict[str, Workspace]) -> Model:
    model_id = str(raw.get("id"))
    where = f"model {model_id}"
    if not _MODEL_RE.match(model_id):
        raise FixtureError(f"{where}: model ids are 32 upper-case hex characters")
    workspace_id = str(raw.get("workspaceId"))
    if workspace_id not in workspaces:
        raise FixtureError(f"{where}: unknown workspaceId {workspace_id!r}")
    model = Model(
        id=model_id,
        name=str(raw.get("name") or model_id),
        workspace_id=workspace_id,
        active_state=str(raw.get("activeState", "UNLOCKED")),
    )
    for lst in raw.get("lists") or []:
        built = _build_list(lst, f"{where} list {lst.get('id')}")
        model.lists[built.id] = built
    for mod in raw.get("modules") or []:
        built_module = _build_module(mod, model.lists, f"{where} module {mod.get('id')}")
        model.modules[built_module.id] = built_module
    import_formats: dict[str, SourceFormat] = {}
    for imp in raw.get("imports") or []:
        w = f"{where} import {imp.get('id')}"
        target = str(imp.get("target"))
        if target in model.lists:
            kind = "list"
        elif target in model.modules:
            kind = "module"
        else:
            raise FixtureError(f"{w}: target {target!r} is neither a list nor a module of the model")
        source = _source(imp.get("source"))
        definition = ImportDef(
            id=_check_id(imp.get("id"), "112", w),
            name=str(imp.get("name") or imp.get("id")),
            file_id=_check_id(imp.get("fileId"), "113", w),
            target_id=target,
            target_kind=kind,
            columns={str(k): str(v) for k, v in (imp.get("columns") or {}).items()},
            fixed={str(k): str(v) for k, v in (imp.get("fixed") or {}).items()},
            mapping_parameters=[str(p) for p in imp.get("mappingParameters") or []],
            source=source,
        )
        if kind == "module":
            module = model.modules[target]
            for dim_name in [*definition.fixed, *definition.mapping_parameters]:
                if not any(d.name == dim_name for d in module.dimensions):
                    raise FixtureError(f"{w}: module {target} has no dimension {dim_name!r}")
        model.imports[definition.id] = definition
        import_formats.setdefault(definition.file_id, source)
    for raw_file in raw.get("files") or []:
        w = f"{where} file {raw_file.get('id')}"
        file_id = _check_id(raw_file.get("id"), "113", w)
        fmt = (
            _source(raw_file["format"])
            if "format" in raw_file
            else import_formats.get(file_id, SourceFormat())
        )
        obj = FileObj(id=file_id, name=str(raw_file.get("name") or file_id), fmt=fmt)
        if raw_file.get("content") is not None:
            data = str(raw_file["content"]).encode(_py_encoding(fmt.encoding))
            obj.content = ChunkSet.from_bytes(data, 10 * 1024 * 1024)
            obj.declared_chunks = len(obj.content)
        model.files[file_id] = obj
    for imp in model.imports.values():
        if imp.file_id not in model.files:
            model.files[imp.file_id] = FileObj(id=imp.file_id, name=f"{imp.file_id}.csv", fmt=imp.source)
    for exp in raw.get("exports") or []:
        w = f"{where} export {exp.get('id')}"
        source_id = str(exp.get("source"))
        if source_id in model.lists:
            kind = "list"
        elif source_id in model.modules:
            kind = "module"
        else:
            raise FixtureError(f"{w}: source {source_id!r} is neither a list nor a module of the model")
        definition_e = ExportDef(
            id=_check_id(exp.get("id"), "116", w),
            name=str(exp.get("name") or exp.get("id")),
            source_id=source_id,
            source_kind=kind,
            columns={str(k): str(v) for k, v in (exp.get("columns") or {}).items()},
            filter={str(k): str(v) for k, v in (exp.get("filter") or {}).items()},
            format=_source(exp.get("format")),
        )
        model.exports[definition_e.id] = definition_e
        model.files[definition_e.id] = FileObj(
            id=definition_e.id, name=definition_e.name, fmt=definition_e.format
        )
    for act in raw.get("actions") or []:
        w = f"{where} action {act.get('id')}"
        list_id = str(act.get("list"))
        if list_id not in model.lists:
            raise FixtureError(f"{w}: unknown list {list_id!r}")
        definition_a = ActionDef(
            id=_check_id(act.get("id"), "117", w),
            name=str(act.get("name") or act.get("id")),
            list_id=list_id,
            where=dict(act.get("where") or {}),
        )
        model.actions[definition_a.id] = definition_a
    for proc in raw.get("processes") or []:
        w = f"{where} process {proc.get('id')}"
        steps = [str(a) for a in proc.get("actions") or []]
        for step in steps:
            if step not in model.imports and step not in model.exports and step not in model.actions:
                raise FixtureError(f"{w}: step {step!r} is not an import, export or action of the model")
        definition_p = ProcessDef(
            id=_check_id(proc.get("id"), "118", w),
            name=str(proc.get("name") or proc.get("id")),
            actions=steps,
        )
        model.processes[definition_p.id] = definition_p
    try:
        apply_transactional_fixture(model, raw)
    except TransactionalFixtureError as exc:
        raise FixtureError(str(exc)) from None
    return model


def _py_encoding(encoding: str) -> str:
    """Python codec name for an Anaplan encoding label."""
    label = encoding.strip().upper().replace("_", "-")
    if label in ("UTF-8", "UTF8"):
        return "utf-8-sig"
    if label in ("UTF-16", "UTF-16LE", "UTF-16BE"):
        return {"UTF-16": "utf-16", "UTF-16LE": "utf-16-le", "UTF-16BE": "utf-16-be"}[label]
    return encoding


def python_encoding(encoding: str) -> str:
    """Public alias of the Anaplan-label -> Python-codec mapping."""
    return _py_encoding(encoding)


def build_state(fixture: dict[str, Any]) -> EmulatorState:
    """Build a fresh state from ``fixture`` (raises :class:`FixtureError` on a bad fixture)."""
    state = EmulatorState()
    for raw in fixture.get("users") or []:
        user_id = str(raw.get("id"))
        if not _WS_RE.match(user_id):
            raise FixtureError(f"user {raw.get('email')}: ids are 32 lower-case hex characters")
        user = User(
            id=user_id,
            email=str(raw["email"]),
            password=str(raw.get("password", "")),
            first_name=str(raw.get("firstName", "Demo")),
            last_name=str(raw.get("lastName", "User")),
        )
        state.users[user.email.lower()] = user
    for raw in fixture.get("workspaces") or []:
        ws_id = str(raw.get("id"))
        if not _WS_RE.match(ws_id):
            raise FixtureError(f"workspace {ws_id!r}: ids are 32 lower-case hex characters")
        state.workspaces[ws_id] = Workspace(id=ws_id, name=str(raw.get("name") or ws_id))
    for raw in fixture.get("models") or []:
        model = _build_model(raw, state.workspaces)
        state.models[model.id] = model
    if not state.models:
        raise FixtureError("the fixture needs at least one model")
    for raw in fixture.get("oauth_clients") or []:
        client = OAuthClient(
            client_id=str(raw["client_id"]),
            rotatable=bool(raw.get("rotatable", False)),
            client_secret=raw.get("client_secret"),
        )
        state.security.oauth_clients[client.client_id] = client
    if fixture.get("config"):
        try:
            state.config.update(dict(fixture["config"]))
        except KeyError as exc:
            raise FixtureError(f"config: unknown key {exc}") from None
    return state
