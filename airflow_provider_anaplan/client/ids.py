"""Anaplan identifiers: object-id prefixes, action routing and case normalisation.

Workspace and user ids are 32 hex digits in lower case, model ids 32 hex digits in upper case
(Anaplan answers 404 to the wrong case). Model objects have 12-digit ids whose first three digits
give the type: 101 list, 102 module, 112 import, 113 file, 116 export, 117 action, 118 process.
"""

from __future__ import annotations

import re

from airflow_provider_anaplan.exceptions import AnaplanConfigError

__all__ = [
    "KINDS",
    "ACTION_COLLECTIONS",
    "normalize_workspace_id",
    "normalize_model_id",
    "normalize_object_id",
    "normalize_task_id",
    "action_collection",
    "kind_of",
    "label",
]

KINDS: dict[str, str] = {
    "101": "list",
    "102": "module",
    "112": "import",
    "113": "file",
    "116": "export",
    "117": "action",
    "118": "process",
}
#: prefix -> bulk API collection that runs tasks for that kind of action
ACTION_COLLECTIONS: dict[str, str] = {
    "112": "imports",
    "116": "exports",
    "117": "actions",
    "118": "processes",
}

_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
_OBJECT = re.compile(r"^[0-9]{12}$")
_TASK = re.compile(r"^[0-9A-Za-z_-]{1,64}$")


def _hex32(value: object, what: str) -> str:
    if not isinstance(value, str) or not _HEX32.match(value.strip()):
        raise AnaplanConfigError(
            f"{what} must be 32 hexadecimal characters (as in the Anaplan URL), got {value!r}"
        )
    return value.strip()


def normalize_workspace_id(value: object) -> str:
    """Validate a workspace id and return it in lower case."""
    return _hex32(value, "workspace_id").lower()


def normalize_model_id(value: object) -> str:
    """Validate a model id and return it in upper case."""
    return _hex32(value, "model_id").upper()


def normalize_object_id(value: object, *kinds: str, what: str = "id") -> str:
    """Validate a 12-digit model object id (``int`` accepted) and, if ``kinds`` are given, its type.

    ``kinds`` are names from :data:`KINDS` (e.g. ``"file"``, ``"export"``).
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise AnaplanConfigError(f"{what} must be a 12-digit Anaplan id (str or int), got {value!r}")
    text = str(value).strip()
    if not _OBJECT.match(text):
        raise AnaplanConfigError(f"{what} must be a 12-digit Anaplan id such as 113000000000, got {value!r}")
    if kinds:
        kind = KINDS.get(text[:3])
        if kind not in kinds:
            expected = " or ".join(f"{k} ({p}…)" for k in kinds for p, name in KINDS.items() if name == k)
            found = kind or "unknown object"
            article = "an" if found[0] in "aeiou" else "a"
            raise AnaplanConfigError(
                f"{what} {text} is {article} {found} id (prefix {text[:3]}); expected {expected}"
            )
    return text


def normalize_task_id(value: object) -> str:
    """Validate a task id (Anaplan uses 32 hex digits; be lenient about the exact form)."""
    if not isinstance(value, str) or not _TASK.match(value.strip()):
        raise AnaplanConfigError(f"task_id must be an Anaplan task id string, got {value!r}")
    return value.strip()


def action_collection(action_id: object) -> tuple[str, str]:
    """Return ``(normalised id, collection)`` for an import/export/action/process id."""
    text = normalize_object_id(action_id, "import", "export", "action", "process", what="action_id")
    return text, ACTION_COLLECTIONS[text[:3]]


def kind_of(object_id: str | None) -> str | None:
    """The object kind for an id's prefix (``"import"``, ``"file"``...), or None."""
    if object_id and len(object_id) == 12:
        return KINDS.get(object_id[:3])
    return None


def label(object_id: str | None, default_kind: str = "Object") -> str:
    """``"Import 112000000000"``-style label for messages."""
    if not object_id:
        return "Anaplan"
    kind = kind_of(object_id)
    return f"{kind.capitalize() if kind else default_kind} {object_id}"
