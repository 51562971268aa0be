"""OpenLineage inputs and outputs of the Anaplan operators (``get_openlineage_facets_on_complete``).

What each operator reads and writes, by the naming of :mod:`airflow_provider_anaplan.hooks.lineage`
(``anaplan://…`` URIs from :func:`~airflow_provider_anaplan.operators.assets.anaplan_uri`):

==============================  ===========================================  ==================================================
operator                        inputs                                       outputs
==============================  ===========================================  ==================================================
AnaplanUploadFileOperator       the source (local file / object storage)     ``anaplan://<ws>/<MODEL>/files/<file_id>``
AnaplanDownloadFileOperator     ``anaplan://<ws>/<MODEL>/files/<file_id>``   the destination
AnaplanExportOperator           ``anaplan://<ws>/<MODEL>/files/<export_id>`` the destination (none when it is None)
AnaplanImportOperator,          the ``uploads`` sources                      the uploaded files and ``anaplan://<ws>/<MODEL>``
AnaplanProcessOperator
AnaplanRunActionOperator        (none)                                       (none)
==============================  ===========================================  ==================================================

The same sets as the operators' ``anaplan://`` outlets, plus the local and object-storage side.
Workspace and model come from the hook (operator overrides, else the connection). In-memory sources
(bytes, ``Content``, iterables) have no dataset. Without the OpenLineage provider the method returns
None and nothing here imports it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_anaplan.operators.base import AnaplanBaseOperator

log = logging.getLogger(__name__)

Uris = tuple[list[str | None], list[str | None]]


def _location(value: Any, kind: str) -> str | None:
    """URI of an operator's source/destination argument (None for content or an unusable value)."""
    from airflow_provider_anaplan.hooks.anaplan import resolve_path_argument
    from airflow_provider_anaplan.hooks.lineage import location_uri

    if value is None:
        return None
    try:
        return location_uri(resolve_path_argument(value, kind))
    except Exception:
        return None


def operator_uris(operator: AnaplanBaseOperator) -> Uris:
    """``(inputs, outputs)`` URIs of a (rendered) Anaplan operator, by the table above."""
    from airflow_provider_anaplan.hooks.lineage import anaplan_file_uri, anaplan_model_uri
    from airflow_provider_anaplan.operators.download import AnaplanDownloadFileOperator
    from airflow_provider_anaplan.operators.export import AnaplanExportOperator
    from airflow_provider_anaplan.operators.imports import AnaplanImportOperator
    from airflow_provider_anaplan.operators.process import AnaplanProcessOperator
    from airflow_provider_anaplan.operators.upload import AnaplanUploadFileOperator

    try:
        cfg = operator.hook.get_client_config()
        ws, model = cfg.workspace_id, cfg.model_id
    except Exception:  # no usable connection: only the local / object-storage side
        log.debug("No Anaplan workspace/model for the lineage of %s", operator.task_id, exc_info=True)
        ws = model = None

    def file(file_id: Any) -> str | None:
        return anaplan_file_uri(ws, model, file_id)

    if isinstance(operator, AnaplanUploadFileOperator):
        return [_location(operator.source, "source")], [file(operator.file_id)]
    if isinstance(operator, AnaplanDownloadFileOperator):
        return [file(operator.file_id)], [_location(operator.destination, "destination")]
    if isinstance(operator, AnaplanExportOperator):
        return [file(operator.export_id)], [_location(operator.destination, "destination")]
    if isinstance(operator, (AnaplanImportOperator, AnaplanProcessOperator)):
        uploads = operator.uploads or {}
        inputs = [_location(source, "source") for source in uploads.values()]
        return inputs, [*(file(file_id) for file_id in uploads), anaplan_model_uri(ws, model)]
    return [], []  # run action (what it changes is not known), or another subclass


def openlineage_facets(operator: AnaplanBaseOperator) -> OperatorLineage | None:
    """The operator's ``OperatorLineage`` (None without the OpenLineage provider, or on any error:
    lineage never fails a task)."""
    from airflow_provider_anaplan.hooks.lineage import operator_lineage

    try:
        inputs, outputs = operator_uris(operator)
        return operator_lineage(inputs, outputs)
    except Exception:
        log.debug("Could not build the OpenLineage facets of %s", operator.task_id, exc_info=True)
        return None
