"""``anaplan://`` asset URIs.

Form: ``anaplan://<workspace_id>/<MODEL_ID>`` for a model, and
``anaplan://<workspace_id>/<MODEL_ID>/<kind>/<object_id>`` for an object of the model, where ``kind``
is one of ``files``, ``imports``, ``exports``, ``processes``, ``actions`` (an export's file has the
export's id: ``.../files/116000000000``). Workspace ids are lower case, model ids upper case; the
normalizer registered in ``get_provider_info()`` (``asset-uris``) enforces both.

The same URIs name the hooks' lineage (:mod:`airflow_provider_anaplan.hooks.lineage`) and, in
OpenLineage, the dataset with namespace ``anaplan://<workspace_id>`` and name ``<MODEL_ID>`` or
``<MODEL_ID>/<kind>/<object_id>`` (:func:`to_openlineage`, registered as the scheme's converter).
:func:`anaplan_uri` is the one function that builds them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

if TYPE_CHECKING:
    from airflow.sdk import Asset
    from openlineage.client.event_v2 import Dataset

SCHEME = "anaplan"
KINDS = ("files", "imports", "exports", "processes", "actions")
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
_OBJECT = re.compile(r"^[0-9]{12}$")


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Normalize and validate an ``anaplan://`` URI (Airflow's asset URI handler)."""
    workspace = uri.netloc
    if not _HEX32.match(workspace):
        raise ValueError("anaplan:// URI needs a 32-hex-digit workspace id as host: anaplan://<workspace>/<model>")
    parts = [p for p in uri.path.split("/") if p]
    if not parts or not _HEX32.match(parts[0]):
        raise ValueError("anaplan:// URI needs a 32-hex-digit model id as first path segment")
    parts[0] = parts[0].upper()
    if len(parts) not in (1, 3):
        raise ValueError("anaplan:// URI path must be /<model> or /<model>/<kind>/<object_id>")
    if len(parts) == 3:
        if parts[1] not in KINDS:
            raise ValueError(f"anaplan:// object kind must be one of {', '.join(KINDS)}, got {parts[1]!r}")
        if not _OBJECT.match(parts[2]):
            raise ValueError(f"anaplan:// object id must have 12 digits, got {parts[2]!r}")
    return uri._replace(netloc=workspace.lower(), path="/" + "/".join(parts))


def anaplan_uri(workspace_id: str, model_id: str, kind: str | None = None, object_id: str | None = None) -> str:
    """Build a normalized ``anaplan://`` URI."""
    uri = f"{SCHEME}://{workspace_id.strip().lower()}/{model_id.strip().upper()}"
    if kind is not None:
        uri += f"/{kind}/{str(object_id).strip()}"
    return uri


def anaplan_asset(workspace_id: str, model_id: str, kind: str | None = None, object_id: str | None = None) -> Asset:
    """An :class:`~airflow.sdk.Asset` for a model or one of its objects."""
    from airflow.sdk import Asset

    return Asset(uri=anaplan_uri(workspace_id, model_id, kind, object_id))


def create_asset(
    *,
    workspace_id: str,
    model_id: str,
    kind: str | None = None,
    object_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Asset:
    """The scheme's asset factory (``asset-uris`` ``factory``): lets hook lineage name Anaplan objects
    with ``collector.add_input_asset(context, scheme="anaplan", asset_kwargs={"workspace_id": ...,
    "model_id": ..., "kind": "files", "object_id": ...})``."""
    from airflow.sdk import Asset

    return Asset(uri=anaplan_uri(workspace_id, model_id, kind, object_id), extra=extra or {})


def to_openlineage(asset: Asset, lineage_context: object = None) -> Dataset:
    """The scheme's OpenLineage converter (``asset-uris`` ``to_openlineage_converter``): the dataset of an
    ``anaplan://`` asset, e.g. one the hooks reported (needs the ``openlineage-python`` package)."""
    from airflow_provider_anaplan.hooks.lineage import openlineage_dataset

    if urlsplit(asset.uri).scheme != SCHEME:
        raise ValueError(f"not an {SCHEME}:// asset: {asset.uri}")
    return openlineage_dataset(asset.uri)


def static_id(value: object) -> str | None:
    """``value`` as a string if it is a plain (non-templated) id, else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip() and "{{" not in value and "{%" not in value:
        return value.strip()
    return None
