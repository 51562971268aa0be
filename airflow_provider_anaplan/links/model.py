"""AnaplanModelLink: an operator extra link that opens the Anaplan model in the browser."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

#: XCom key under which the operators push the model URL (the link's ``xcom_key``).
XCOM_MODEL_LINK_KEY = "_link_AnaplanModelLink"


class AnaplanModelLink(BaseOperatorLink):
    """Link to the model the task ran against.

    The URL is built from the connection's app host (``oauth_url``, e.g.
    ``https://us1a.app.anaplan.com``) and the workspace/model ids, and pushed to XCom by the operator
    as soon as the Anaplan task exists; the UI reads it from there.
    """

    name = "Anaplan model"

    @property
    def xcom_key(self) -> str:
        return XCOM_MODEL_LINK_KEY

    @staticmethod
    def persist(context: Any, url: str | None) -> None:
        """Push ``url`` for the current task instance (no-op without a URL or a task instance)."""
        ti = context.get("ti") if hasattr(context, "get") else None
        if url and ti is not None:
            ti.xcom_push(key=XCOM_MODEL_LINK_KEY, value=url)

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.bases.xcom import BaseXCom

        return BaseXCom.get_value(ti_key=ti_key, key=self.xcom_key) or ""  # type: ignore[arg-type]
