"""CloudWorks operators: run an integration or an integration flow and wait for it.

Both are :class:`~airflow_provider_anaplan.operators.jobs.AnaplanJobOperator` subclasses (kinds
``cloudworks_run`` and ``cloudworks_flow``): deferrable with one deadline, a retry reattaches to the run
a previous try started while it is still going (CloudWorks would refuse a second one with 409 anyway),
``on_kill`` and the deadline cancel the run, THE outcome rule judges it — a partial success (rows
rejected) fails with ``fail_on_partial=True`` (default) and is accepted with ``False``. Error dumps of
the run (or of the flow's steps) are downloaded and their first lines logged, like import dumps.

Links: the integration's (or flow's) model in Anaplan, and the integration or flow itself.
Lineage: the objects the integration reads and writes (``s3://bucket/key``...) and the model it changes.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_anaplan.links.cloudworks import AnaplanCloudWorksLink, cloudworks_resource_url
from airflow_provider_anaplan.links.model import AnaplanModelLink
from airflow_provider_anaplan.operators.jobs import AnaplanJobOperator
from airflow_provider_anaplan.operators.results import log_dumps

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_anaplan.client.status import TaskStatus

__all__ = ["AnaplanCloudWorksFlowOperator", "AnaplanCloudWorksIntegrationOperator", "job_uris"]

_STORE_SCHEMES = {"AmazonS3": "s3", "AzureBlob": "abfs", "GoogleBigQuery": "bigquery"}


def job_uris(integration: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """``(inputs, outputs)`` URIs of an integration's jobs: store objects and ``anaplan://`` model/files."""
    from airflow_provider_anaplan.hooks.lineage import anaplan_file_uri, anaplan_model_uri

    ws, model = integration.get("workspaceId"), integration.get("modelId")

    def uri(end: Mapping[str, Any]) -> str | None:
        kind = str(end.get("type") or "")
        if kind == "Anaplan":
            file_id = end.get("fileId")
            return anaplan_file_uri(ws, model, file_id) if file_id else anaplan_model_uri(ws, model)
        scheme = _STORE_SCHEMES.get(kind)
        bucket = end.get("bucketName") or end.get("containerName") or end.get("dataset")
        key = end.get("file") or end.get("table")
        return f"{scheme}://{bucket}/{str(key).lstrip('/')}" if scheme and bucket and key else None

    inputs: list[str] = []
    outputs: list[str] = []
    for job in integration.get("jobs") or []:
        inputs.extend(u for u in map(uri, job.get("sources") or []) if u)
        outputs.extend(u for u in map(uri, job.get("targets") or []) if u)
    if integration.get("integrationType") in ("Import", "Process") and (
        model_uri := anaplan_model_uri(ws, model)
    ):
        outputs.append(model_uri)
    return list(dict.fromkeys(inputs)), list(dict.fromkeys(outputs))


class _CloudWorksRunOperator(AnaplanJobOperator):
    """Shared machinery of the integration and flow operators."""

    owner_kind: ClassVar[str]
    owner_key: ClassVar[str]
    operator_extra_links = (AnaplanModelLink(), AnaplanCloudWorksLink())  # type: ignore[assignment]
    ui_color = "#fce5cd"

    def __init__(self, *, dump_dir: str | None = None, dump_preview_lines: int = 5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dump_dir = dump_dir
        self.dump_preview_lines = dump_preview_lines
        self._uris: tuple[list[str], list[str]] = ([], [])

    # ---- what the subclasses say ----------------------------------------------------------------
    def owner_id(self) -> str:
        raise NotImplementedError

    def start_run(self) -> str:
        raise NotImplementedError

    def integrations(self) -> list[dict[str, Any]]:
        """The integration(s) the run executes (for the model link and lineage)."""
        raise NotImplementedError

    # ---- the job ------------------------------------------------------------------------------------
    def job_key(self) -> str:
        return f"{self.job_kind}:{self.owner_id()}"

    def execute(self, context: Context) -> Any:
        try:
            url = cloudworks_resource_url(
                str(self.hook.get_client_config().cloudworks_url), self.owner_kind, self.owner_id()
            )
            AnaplanCloudWorksLink.persist(context, url)
        except Exception:
            self.log.debug("Could not push the CloudWorks link", exc_info=True)
        return super().execute(context)

    def start_job(self, context: Context) -> dict[str, str]:
        return {self.owner_key: self.owner_id(), "run_id": self.start_run()}

    def persist_model_link(self, context: Context) -> None:
        """The link to the model the integration runs against (not the connection's model)."""
        from airflow_provider_anaplan.hooks.anaplan import model_url

        try:
            first = next(iter(self.integrations()), {})
            cfg = self.hook.get_client_config()
            AnaplanModelLink.persist(
                context, model_url(cfg.oauth_url, first.get("workspaceId"), first.get("modelId"))
            )
        except Exception:
            self.log.debug("Could not push the Anaplan model link", exc_info=True)

    def _dump_dir(self, context: Context, run_id: str) -> Path:
        if self.dump_dir:
            return Path(self.dump_dir).expanduser() / run_id
        home = os.environ.get("AIRFLOW_HOME") or tempfile.gettempdir()
        ti = context.get("ti")
        parts = [getattr(ti, "dag_id", None) or "dag", getattr(ti, "run_id", None) or "run", self.task_id]
        safe = [re.sub(r"[^A-Za-z0-9._-]+", "_", str(p)) for p in parts]
        return Path(home, "anaplan_dumps", *safe, run_id)

    def fetch_dumps(self, context: Context, status: TaskStatus) -> list[str]:
        """Download the run's error dumps and log their first lines; never raises."""
        if not status.raw.get("dumps"):
            return []
        try:
            paths = self.hook.download_run_dumps(status, str(self._dump_dir(context, status.task_id)))
        except Exception:
            self.log.warning(
                "Could not download the error dumps of CloudWorks run %s", status.task_id, exc_info=True
            )
            return []
        log_dumps(self.log, paths, self.dump_preview_lines)
        return paths

    def on_failure_status(self, context: Context, job: dict[str, str], status: TaskStatus) -> str:
        dumps = self.fetch_dumps(context, status)
        message = f" (CloudWorks: {status.current_step})" if status.current_step else ""
        return message + (f"; error dumps: {', '.join(dumps)}" if dumps else "")

    def complete(self, context: Context, job: dict[str, str], status: TaskStatus) -> Any:
        from airflow_provider_anaplan.hooks.lineage import record

        dumps = self.fetch_dumps(context, status)
        try:
            inputs: list[str] = []
            outputs: list[str] = []
            for integration in self.integrations():
                ins, outs = job_uris(integration)
                inputs.extend(ins)
                outputs.extend(outs)
            self._uris = (list(dict.fromkeys(inputs)), list(dict.fromkeys(outputs)))
            record(self.hook, *self._uris)
        except Exception:
            self.log.debug("Could not report the lineage of %s", self.describe_job(job), exc_info=True)
        run = status.raw.get("run") or {}
        return {
            "kind": self.job_kind,
            **job,
            "state": status.state.value,
            "success": status.successful,
            "message": status.current_step,
            "execution_error_code": run.get("executionErrorCode"),
            "rows": status.counts.to_dict(),
            "dumps": dumps,
            "steps": list(status.raw.get("steps") or []),
        }

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        from airflow_provider_anaplan.hooks.lineage import operator_lineage

        try:
            return operator_lineage(*self._uris) if any(self._uris) else None
        except Exception:
            return None


class AnaplanCloudWorksIntegrationOperator(_CloudWorksRunOperator):
    """Run a CloudWorks integration (import, export or process) and wait for the run to end.

    :param integration_id: the integration (templated).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between polls (>= 0.1; default 5).
    :param timeout: seconds for the whole wait (default 3600); then the run is cancelled.
    :param fail_on_partial: a partial success (rows rejected) fails the task (default True); False
        accepts it (``accepted_partial`` in the result).
    :param dump_dir: where error dumps go (templated); default
        ``$AIRFLOW_HOME/anaplan_dumps/<dag>/<run>/<task>/<run id>``.
    :param dump_preview_lines: lines of each dump shown in the log (default 5).

    An integration already running (started elsewhere) makes the start fail with a clear
    :class:`AnaplanConflictError` (CloudWorks answers 409). XCom result: ``{"kind", "integration_id",
    "run_id", "state", "success", "message", "execution_error_code", "rows", "dumps", "steps"}``.
    """

    job_kind: ClassVar[str] = "cloudworks_run"
    owner_kind: ClassVar[str] = "integration"
    owner_key: ClassVar[str] = "integration_id"
    template_fields: Sequence[str] = (*AnaplanJobOperator.template_fields, "integration_id", "dump_dir")

    def __init__(self, *, integration_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.integration_id = integration_id
        self._integration: dict[str, Any] | None = None

    def owner_id(self) -> str:
        return str(self.integration_id).strip()

    def start_run(self) -> str:
        return self.hook.run_integration(self.owner_id())

    def integrations(self) -> list[dict[str, Any]]:
        if self._integration is None:
            self._integration = self.hook.get_integration(self.owner_id())
        return [self._integration]


class AnaplanCloudWorksFlowOperator(_CloudWorksRunOperator):
    """Run a CloudWorks integration flow (all its steps, or ``steps``) and wait for the run to end.

    :param flow_id: the integration flow (templated).
    :param steps: only these steps (integration ids of the flow's steps; templated); default: all.
    :param fail_on_partial: a flow that ended with a step's partial success fails (default True).

    Other parameters and the result are those of :class:`AnaplanCloudWorksIntegrationOperator`
    (``flow_id`` instead of ``integration_id``; ``steps`` lists each step run).
    """

    job_kind: ClassVar[str] = "cloudworks_flow"
    owner_kind: ClassVar[str] = "flow"
    owner_key: ClassVar[str] = "flow_id"
    template_fields: Sequence[str] = (*AnaplanJobOperator.template_fields, "flow_id", "steps", "dump_dir")

    def __init__(self, *, flow_id: str, steps: Sequence[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.flow_id = flow_id
        self.steps = list(steps) if steps is not None and not isinstance(steps, str) else steps
        self._integrations: list[dict[str, Any]] | None = None

    def owner_id(self) -> str:
        return str(self.flow_id).strip()

    def start_run(self) -> str:
        return self.hook.run_flow(self.owner_id(), list(self.steps) if self.steps else None)

    def integrations(self) -> list[dict[str, Any]]:
        if self._integrations is None:
            flow = self.hook.get_flow(self.owner_id())
            referrers = [str(s.get("referrer")) for s in flow.get("steps") or [] if s.get("referrer")]
            if self.steps:
                referrers = [r for r in referrers if r in set(self.steps)]
            self._integrations = [self.hook.get_integration(r) for r in referrers]
        return self._integrations
