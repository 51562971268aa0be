"""Lineage of uploads and downloads: Airflow's hook-level lineage and OpenLineage datasets.

Every location gets one URI, which is both the Airflow :class:`~airflow.sdk.Asset` URI given to the
hook lineage collector and the source of the OpenLineage dataset name:

================================  =====================================================  =====================================  ===================================
what                              asset URI                                              OpenLineage namespace                  OpenLineage name
================================  =====================================================  =====================================  ===================================
an Anaplan file (or export file)  ``anaplan://<workspace_id>/<MODEL_ID>/files/<id>``     ``anaplan://<workspace_id>``           ``<MODEL_ID>/files/<id>``
an Anaplan model                  ``anaplan://<workspace_id>/<MODEL_ID>``                ``anaplan://<workspace_id>``           ``<MODEL_ID>``
a local file                      ``file:///abs/path`` (percent-encoded)                 ``file``                               ``/abs/path``
object storage                    ``s3://bucket/key`` (the path's URI, no conn id)       ``s3://bucket``                        ``key``
================================  =====================================================  =====================================  ===================================

Anaplan URIs come from :func:`~airflow_provider_anaplan.operators.assets.anaplan_uri` (the one naming
function, also used for operator outlets). In-memory content (bytes, ``Content``, iterables, file objects
without a path) has no location and gives no asset.

Lineage never fails a transfer: every error here is logged at debug level and ignored. Nothing here
imports the client core or OpenLineage at module import.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from airflow_provider_anaplan.operators.assets import anaplan_uri

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import Dataset

log = logging.getLogger(__name__)


def anaplan_file_uri(workspace_id: str | None, model_id: str | None, file_id: object) -> str | None:
    """``anaplan://<workspace>/<MODEL>/files/<id>`` (None without a workspace and model).

    An export's file has the export's id, so an export's output is ``.../files/<export_id>``.
    """
    if not workspace_id or not model_id or file_id is None:
        return None
    return anaplan_uri(workspace_id, model_id, "files", str(file_id).strip())


def anaplan_model_uri(workspace_id: str | None, model_id: str | None) -> str | None:
    """``anaplan://<workspace>/<MODEL>`` (None without a workspace and model)."""
    if not workspace_id or not model_id:
        return None
    return anaplan_uri(workspace_id, model_id)


def location_uri(value: object) -> str | None:
    """The URI of an upload source or download destination, None for in-memory content.

    ``value`` is what :func:`~airflow_provider_anaplan.hooks.anaplan.resolve_path_argument` returns: a
    ``pathlib.Path`` (local file), an ``ObjectStoragePath`` (its URI, without the connection id), a
    binary file object opened from a local path (its ``name``), or content (None).
    """
    if value is None or isinstance(value, (bytes, bytearray, memoryview, str)):
        return None  # a str never reaches here unresolved; bytes are content
    protocol = getattr(value, "protocol", None)
    if protocol is not None and hasattr(value, "open"):  # ObjectStoragePath (UPath)
        if isinstance(protocol, (tuple, list)):
            protocol = protocol[0] if protocol else None
        if protocol in (None, "", "file", "local"):
            return _file_uri(str(getattr(value, "path", "")))
        parts = urlsplit(str(value))
        host = parts.netloc.rpartition("@")[2]  # drop the Airflow connection id (conn_id@bucket)
        if not host:  # e.g. memory:/bucket/key from an older universal_pathlib
            return f"{protocol}://{quote(unquote(str(getattr(value, 'path', parts.path)).lstrip('/')), safe='/')}"
        return f"{parts.scheme or protocol}://{host}{quote(unquote(parts.path), safe='/')}"
    if isinstance(value, os.PathLike):
        return _file_uri(os.fspath(value))
    name = getattr(value, "name", None)  # an open binary file
    if hasattr(value, "read") and isinstance(name, str) and os.path.isabs(name):
        return _file_uri(name)
    return None


def _file_uri(path: str | bytes) -> str | None:
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path:
        return None
    return Path(path).expanduser().absolute().as_uri()


#: Where Airflow keeps ``get_hook_lineage_collector`` and ``HookLineageCollector``: the Task SDK
#: (recent Airflow 3 releases), else the core (``airflow.lineage.hook``, Airflow 3.1).
LINEAGE_MODULES = ("airflow.sdk.lineage", "airflow.lineage.hook")


def lineage_module() -> Any:
    """This Airflow's hook lineage module (see :data:`LINEAGE_MODULES`), or None."""
    for name in LINEAGE_MODULES:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def _collector() -> Any:
    """Airflow's hook lineage collector, or None where this Airflow has none."""
    module = lineage_module()
    return None if module is None else module.get_hook_lineage_collector()


def record(context: object, inputs: Iterable[str | None] = (), outputs: Iterable[str | None] = ()) -> None:
    """Report ``inputs``/``outputs`` (URIs; None entries skipped) to Airflow's hook lineage collector.

    ``context`` is the hook that moved the data. Never raises.
    """
    try:
        ins, outs = [u for u in inputs if u], [u for u in outputs if u]
        if not ins and not outs:
            return
        collector = _collector()
        if collector is None:
            return
        for uri in ins:
            collector.add_input_asset(context=context, uri=uri)
        for uri in outs:
            collector.add_output_asset(context=context, uri=uri)
    except Exception:
        log.debug("Could not report lineage %s -> %s", list(inputs), list(outputs), exc_info=True)


# ------------------------------------------------------------------------------------ OpenLineage


def openlineage_name(uri: str) -> tuple[str, str]:
    """``(namespace, name)`` of the OpenLineage dataset for a URI of this module (see the table above)."""
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return "file", unquote(parts.path)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}", unquote(parts.path).lstrip("/")


def openlineage_dataset(uri: str) -> Dataset:
    """The OpenLineage dataset of a URI (needs the ``openlineage-python`` package)."""
    from openlineage.client.event_v2 import Dataset

    namespace, name = openlineage_name(uri)
    return Dataset(namespace=namespace, name=name)


def operator_lineage(inputs: Iterable[str | None], outputs: Iterable[str | None]) -> OperatorLineage | None:
    """An OpenLineage ``OperatorLineage`` of these URIs, or None when the OpenLineage provider is not
    installed (nothing else changes then)."""
    try:
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None
    return OperatorLineage(
        inputs=[openlineage_dataset(u) for u in _unique(inputs)],
        outputs=[openlineage_dataset(u) for u in _unique(outputs)],
    )


def _unique(uris: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(u for u in uris if u))
