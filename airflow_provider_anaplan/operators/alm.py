"""ALM operators: create a revision in the development model, sync a revision into a deployed model.

:class:`AnaplanModelSyncOperator` is an :class:`~airflow_provider_anaplan.operators.jobs.AnaplanJobOperator`
of the ``alm_sync`` kind: deferrable, one deadline, reattach on retry to the sync task a previous try
started (never two syncs), refuses clearly when nothing is syncable. ALM sync tasks cannot be cancelled
(a kill leaves the sync to finish; Anaplan applies it whole or not at all).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_anaplan.exceptions import AnaplanConfigError
from airflow_provider_anaplan.operators.base import AnaplanBaseOperator
from airflow_provider_anaplan.operators.jobs import AnaplanJobOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_anaplan.client.status import TaskStatus

__all__ = ["AnaplanCreateRevisionOperator", "AnaplanModelSyncOperator"]

#: task_state_store key of the revision a try created (a retry returns it instead of failing on "no changes").
REVISION_STATE_KEY = "anaplan_alm_revision"


def _skip(message: str) -> BaseException:
    try:
        from airflow.sdk.exceptions import AirflowSkipException
    except ImportError:  # pragma: no cover - older task SDK
        from airflow.exceptions import AirflowSkipException  # type: ignore[no-redef]
    return AirflowSkipException(message)


class AnaplanModelSyncOperator(AnaplanJobOperator):
    """Sync a revision of a source (development) model into the target (deployed) model and wait.

    :param source_model_id: the model the revisions are created in (templated).
    :param source_revision_id: the revision to sync (templated); default: the newest syncable one.
    :param model_id: the **target** model (templated; default: the connection's model).
    :param workspace_id: the target's workspace, for the model link and the asset (templated).
    :param nothing_to_sync: ``"fail"`` (default: :class:`AnaplanNothingToSyncError`) or ``"skip"``
        (the task is skipped) when no source revision can be synced into the target.
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between polls (>= 0.1; default 5).
    :param timeout: seconds for the whole wait (default 3600); then the task fails (the sync itself
        cannot be cancelled and a retry reattaches to it).

    XCom result: ``{"kind", "task_id", "target_model_id", "source_model_id", "revision_id",
    "revision_name", "state"}``.
    """

    job_kind: ClassVar[str] = "alm_sync"
    template_fields: Sequence[str] = (
        *AnaplanJobOperator.template_fields,
        "source_model_id",
        "source_revision_id",
    )
    ui_color = "#d9ead3"

    def __init__(
        self,
        *,
        source_model_id: str,
        source_revision_id: str | None = None,
        nothing_to_sync: str = "fail",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("asset_objects", [(None, None)])
        super().__init__(**kwargs)
        if nothing_to_sync not in ("fail", "skip"):
            raise AnaplanConfigError(
                f"{self.task_id}: nothing_to_sync must be 'fail' or 'skip', got {nothing_to_sync!r}"
            )
        self.source_model_id = source_model_id
        self.source_revision_id = source_revision_id
        self.nothing_to_sync = nothing_to_sync

    def job_key(self) -> str:
        return f"alm_sync:{self.model_id}:{self.source_model_id}:{self.source_revision_id or 'latest'}"

    def start_job(self, context: Context) -> dict[str, str]:
        from airflow_provider_anaplan.exceptions import AnaplanNothingToSyncError

        try:
            task_id = self.hook.start_sync(str(self.source_model_id), self.source_revision_id or None)
        except AnaplanNothingToSyncError as exc:
            if self.nothing_to_sync == "skip":
                raise _skip(str(exc)) from None
            raise
        return {"task_id": task_id}

    def complete(self, context: Context, job: dict[str, str], status: TaskStatus) -> Any:
        latest = self.hook.get_latest_revision() or {}
        target = self.hook.get_client_config().model_id
        self.hook._lineage([], [self.hook._model_uri(self.hook.get_client_config())])
        self.log.info("Model %s now has revision %s (%s)", target, latest.get("id"), latest.get("name"))
        return {
            "kind": self.job_kind,
            "task_id": job["task_id"],
            "target_model_id": target,
            "source_model_id": str(self.source_model_id).upper(),
            "revision_id": latest.get("id"),
            "revision_name": latest.get("name"),
            "state": status.state.value,
        }


class AnaplanCreateRevisionOperator(AnaplanBaseOperator):
    """Create an ALM revision tag in a standard-mode (development) model.

    :param name: revision name, 1 to 60 characters (templated).
    :param description: up to 250 characters (templated).
    :param model_id: the model to tag (templated; default: the connection's model).
    :param if_unchanged: ``"fail"`` (default) when Anaplan refuses because the model has no structural
        change since its latest revision, or ``"latest"`` to return that latest revision instead.

    A retry after a try that created the revision returns it (recorded in the task state store) rather
    than failing on "no structural changes". XCom result: ``{"revision_id", "name", "model_id",
    "created_on", "created"}``.
    """

    template_fields: Sequence[str] = (*AnaplanBaseOperator.template_fields, "name", "description")
    ui_color = "#d9ead3"

    def __init__(
        self, *, name: str, description: str | None = None, if_unchanged: str = "fail", **kwargs: Any
    ) -> None:
        kwargs.setdefault("asset_objects", [(None, None)])
        super().__init__(**kwargs)
        if if_unchanged not in ("fail", "latest"):
            raise AnaplanConfigError(
                f"{self.task_id}: if_unchanged must be 'fail' or 'latest', got {if_unchanged!r}"
            )
        self.name = name
        self.description = description
        self.if_unchanged = if_unchanged

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_anaplan.exceptions import AnaplanBadRequestError
        from airflow_provider_anaplan.operators.reattach import read_state, write_state

        try:
            self.persist_model_link(context)
            saved = read_state(context, REVISION_STATE_KEY)
            latest = self.hook.get_latest_revision()
            if saved and latest and saved.get("revision_id") == latest.get("id"):
                self.log.info("Revision %s was created by a previous try; using it", latest.get("id"))
                return self._result(latest, created=True)
            try:
                revision = self.hook.create_revision(str(self.name), self.description or None)
            except AnaplanBadRequestError as exc:
                if self.if_unchanged != "latest" or latest is None:
                    raise
                self.log.warning("No revision created (%s); using the latest one, %s", exc, latest.get("id"))
                return self._result(latest, created=False)
            write_state(context, {"revision_id": revision.get("id")}, REVISION_STATE_KEY)
            return self._result(revision, created=True)
        finally:
            self.hook.close()

    def _result(self, revision: dict[str, Any], *, created: bool) -> dict[str, Any]:
        return {
            "revision_id": revision.get("id"),
            "name": revision.get("name"),
            "model_id": self.hook.get_client_config().model_id,
            "created_on": revision.get("createdOn"),
            "created": created,
        }
