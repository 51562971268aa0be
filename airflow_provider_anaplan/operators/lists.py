"""List operators: :class:`AnaplanListItemsOperator` (add / update / upsert / delete items from a source)
and :class:`AnaplanReadListOperator` (a list to a destination through a large-volume read request).

Writes are cut at Anaplan's 100,000 items per call and sent with bounded concurrency by the client; the
merged result goes to XCom (counts and the first failures), every failure to a CSV file beside the
failure dumps (``dump_dir``, default ``$AIRFLOW_HOME/anaplan_dumps/<dag>/<run>/<task>``).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_anaplan.exceptions import AnaplanConfigError
from airflow_provider_anaplan.operators.base import AnaplanBaseOperator
from airflow_provider_anaplan.operators.jobs import AnaplanJobOperator
from airflow_provider_anaplan.operators.views import AnaplanReadRequestOperator, _lineage

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["AnaplanListItemsOperator", "AnaplanReadListOperator", "failures_file", "source_argument"]

ACTIONS = {"add": "insert_list_items", "update": "update_list_items", "upsert": "upsert_list_items", "delete": "delete_list_items"}


def source_argument(value: Any) -> Any:
    """A record source for a write: a ``str`` is a path or an object-storage URI (never content);
    lists of dicts, DataFrames, bytes and file objects are passed as they are."""
    from airflow_provider_anaplan.operators.base import to_source

    return to_source(value) if isinstance(value, str) or hasattr(value, "protocol") else value


def dump_directory(operator: Any, context: Context) -> Path:
    """Where an operator's failure files go (the same place as the bulk operators' failure dumps)."""
    if getattr(operator, "dump_dir", None):
        return Path(operator.dump_dir).expanduser()
    home = os.environ.get("AIRFLOW_HOME") or tempfile.gettempdir()
    ti = context.get("ti")
    parts = [getattr(ti, "dag_id", None) or "dag", getattr(ti, "run_id", None) or "run", getattr(ti, "task_id", None) or operator.task_id]
    if (map_index := getattr(ti, "map_index", -1)) is not None and map_index >= 0:
        parts[-1] += f"_{map_index}"
    return Path(home, "anaplan_dumps", *(re.sub(r"[^A-Za-z0-9._-]+", "_", str(p)) for p in parts))


def failures_file(operator: Any, context: Context, result: Any, name: str) -> str | None:
    """Write ``result``'s failures as CSV into the dump directory; the path (None without failures)."""
    if not result.failures:
        return None
    directory = dump_directory(operator, context)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / name
        path.write_text(result.failures_csv(), encoding="utf-8")
    except OSError:
        operator.log.warning("Could not write the failures file in %s", directory, exc_info=True)
        return None
    operator.log.warning("%d failure(s) written to %s; first: %s", len(result.failures), path, result.failures[0].to_dict())
    return str(path)


class AnaplanListItemsOperator(AnaplanBaseOperator):
    """Add, update, upsert or delete list items from a source.

    :param list_id: the list id (templated).
    :param source: the items: a ``str`` path or object-storage URI of a CSV file (columns ``name``,
        ``code``, ``id``, ``parent``; other columns are properties, ``subset:<name>`` columns subset flags),
        a ``pathlib.Path``/``ObjectStoragePath``, a list of dicts, or a DataFrame (templated).
    :param action: ``add``, ``update``, ``upsert`` (insert new, update existing) or ``delete`` (templated).
    :param key: for ``upsert``: identify items by ``code``, ``name``, or ``auto`` (the code when present).
    :param fail_on_failures: fail the task when Anaplan rejected any item (default True); the accepted
        items are written either way, and the failures are in the CSV file named in the error and XCom.
    :param dump_dir: directory of the failures file (templated).

    Returns ``ListWriteResult.to_dict()`` (counts, ``calls``, the first 20 failures) plus ``failures_file``.
    """

    template_fields: Sequence[str] = (*AnaplanBaseOperator.template_fields, "list_id", "source", "action", "dump_dir")
    ui_color = "#f6e3c9"

    def __init__(
        self,
        *,
        list_id: str | int,
        source: Any,
        action: str = "upsert",
        key: str = "auto",
        fail_on_failures: bool = True,
        dump_dir: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("asset_objects", [(None, None)])
        super().__init__(**kwargs)
        if isinstance(action, str) and "{{" not in action and action not in ACTIONS:
            raise AnaplanConfigError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
        self.list_id = str(list_id) if isinstance(list_id, int) else list_id
        self.source = source
        self.action = action
        self.key = key
        self.fail_on_failures = bool(fail_on_failures)
        self.dump_dir = dump_dir

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_anaplan.exceptions import AnaplanWriteFailuresError

        if self.action not in ACTIONS:
            raise AnaplanConfigError(f"action must be one of {', '.join(ACTIONS)}, got {self.action!r}")
        source = source_argument(self.source)
        try:
            self.persist_model_link(context)
            method = getattr(self.hook, ACTIONS[self.action])
            args = (str(self.list_id), source, self.key) if self.action == "upsert" else (str(self.list_id), source)
            result = method(*args)
        finally:
            self.hook.close()
        self.log.info("%s", result.summary())
        path = failures_file(self, context, result, f"list_{self.list_id}_{self.action}_failures.csv")
        summary = {**result.to_dict(), "failures_file": path}
        if result.failures and self.fail_on_failures:
            raise AnaplanWriteFailuresError(
                f"{result.summary()}. Every failure is in {path}; the accepted items were written "
                "(set fail_on_failures=False to accept rejected items)",
                result=summary,
                object_id=str(self.list_id),
            )
        return summary

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        return _lineage(self, inputs_model=False, location=self.source, kind="source")


class AnaplanReadListOperator(AnaplanReadRequestOperator):
    """Read a whole list to a destination (CSV) through a large-volume read request (created, awaited
    — deferrable —, streamed page by page, always deleted).

    :param list_id: the list id (templated).
    :param destination: local path or object-storage URI ``str``, ``Path`` or ``ObjectStoragePath`` (templated).
    :param deferrable, poll_interval, timeout, reattach: see
        :class:`~airflow_provider_anaplan.operators.jobs.AnaplanJobOperator`.

    Returns ``{"mode": "large", "object_id", "destination", "bytes", "pages", "request_id"}``.
    """

    source: ClassVar[str] = "lists"
    template_fields: Sequence[str] = (*AnaplanJobOperator.template_fields, "list_id", "destination")
    ui_color = "#d6ecd2"

    def __init__(self, *, list_id: str | int, destination: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.list_id = str(list_id) if isinstance(list_id, int) else list_id
        self.destination = destination

    @property
    def object_id(self) -> Any:
        return self.list_id
