"""AnaplanCloudWorksLink: an operator extra link to the CloudWorks integration or flow a task ran."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

#: XCom key under which the CloudWorks operators push the integration's URL (the link's ``xcom_key``).
XCOM_CLOUDWORKS_LINK_KEY = "_link_AnaplanCloudWorksLink"


def cloudworks_resource_url(cloudworks_url: str, kind: str, object_id: str) -> str:
    """URL of an integration (``kind="integration"``) or flow (``"flow"``) in the CloudWorks API.

    Anaplan documents no browser address for a single integration, so the link opens its resource in
    the CloudWorks API of the connection (``GET`` it with an Anaplan token); the model link next to it
    opens the integration's model in Anaplan.
    """
    collection = "integrationflows" if kind == "flow" else "integrations"
    return f"{cloudworks_url.rstrip('/')}/{collection}/{object_id}"


class AnaplanCloudWorksLink(BaseOperatorLink):
    """Link to the CloudWorks integration or flow the task ran (pushed to XCom once the run started)."""

    name = "CloudWorks integration"

    @property
    def xcom_key(self) -> str:
        return XCOM_CLOUDWORKS_LINK_KEY

    @staticmethod
    def persist(context: Any, url: str | None) -> None:
        """Push ``url`` for the current task instance (no-op without a URL or a task instance)."""
        ti = context.get("ti") if hasattr(context, "get") else None
        if url and ti is not None:
            ti.xcom_push(key=XCOM_CLOUDWORKS_LINK_KEY, value=url)

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.bases.xcom import BaseXCom

        return BaseXCom.get_value(ti_key=ti_key, key=self.xcom_key) or ""  # type: ignore[arg-type]
