"""CloudWorksFlowsMixin: integration flows (list, read, run with selected steps, poll, cancel).

Part of :class:`~airflow_provider_anaplan.client.cloudworks.CloudWorksMixin` (and so of the async
client). A flow run is a CloudWorks run whose owner is the flow: it is polled with
``GET /integrations/run/{runId}`` like an integration run, its history is the flow id's run history,
and ``POST /integrations/{flowId}/cancel`` stops it. Each step runs one integration (``referrer``);
the step runs of a flow run are the referrers' runs whose ``flowGroupId`` is the flow, started while
the flow ran. A flow that ended with errors or partially gets its step runs' error records, so row
counts and error dumps cover every step.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_anaplan.client.alm_wait import poll_job
from airflow_provider_anaplan.client.cloudworks_status import run_task_status
from airflow_provider_anaplan.client.status import TaskStatus
from airflow_provider_anaplan.exceptions import AnaplanConfigError

if TYPE_CHECKING:
    from airflow_provider_anaplan.client.config import ClientConfig

__all__ = ["CloudWorksFlowsMixin"]

log = logging.getLogger(__name__)


def _cw_id(value: object, what: str) -> str:
    from airflow_provider_anaplan.client.cloudworks import cloudworks_id

    return cloudworks_id(value, what)


class CloudWorksFlowsMixin:
    """Async integration-flow methods (CloudWorks)."""

    if TYPE_CHECKING:
        config: ClientConfig

        async def _cw_get(self, path: str, what: str, **kwargs: Any) -> dict[str, Any]: ...
        async def _cw_paged(self, path: str, key: str, what: str, **params: Any) -> list[dict[str, Any]]: ...
        async def _start_run(self, owner: str, path: str, body: dict[str, Any] | None, noun: str) -> str: ...
        async def _run_dumps(
            self, owner: str, records: list[dict[str, Any]], run_id: str
        ) -> list[dict[str, Any]]: ...
        async def get_run_history(self, integration_id: str, *, limit: int = 25) -> list[dict[str, Any]]: ...
        async def get_run_status(self, run_id: str) -> dict[str, Any]: ...
        async def get_run_error(self, run_id: str) -> list[dict[str, Any]]: ...
        async def cancel_run(self, integration_id: str) -> bool: ...

    async def get_flows(self) -> list[dict[str, Any]]:
        """Integration flows (summaries: ``id``, ``name``, ``stepsCount``, ``latestRun``)."""
        return await self._cw_paged("/integrationflows", "integrationFlows", "CloudWorks integration flows")

    async def get_flow(self, flow_id: str) -> dict[str, Any]:
        """One flow with its ``steps`` (``referrer`` integration, ``dependsOn``, ``exceptionBehavior``)."""
        fid = _cw_id(flow_id, "flow_id")
        body = await self._cw_get(f"/integrationflows/{fid}", f"CloudWorks flow {fid}")
        return dict(body.get("integrationFlow") or body)

    async def run_flow(self, flow_id: str, steps: Sequence[str] | None = None) -> str:
        """Start a flow run (only ``steps``, integration ids of its steps, when given); return the run id.

        Sent at most once, like :meth:`run_integration` (409 while the flow runs is explained, not retried).
        """
        fid = _cw_id(flow_id, "flow_id")
        body: dict[str, Any] | None = None
        if steps is not None:
            if isinstance(steps, str) or not steps:
                raise AnaplanConfigError(
                    f"steps must be a non-empty list of step (integration) ids, got {steps!r}"
                )
            body = {"stepsToRun": [_cw_id(s, "step id") for s in steps]}
        return await self._start_run(fid, f"/integrationflows/{fid}/run", body, "integration flow")

    async def get_flow_step_runs(self, flow_id: str, run_id: str) -> list[dict[str, Any]]:
        """The integration runs a flow run made, in step order (each a run status with ``integrationId``)."""
        fid = _cw_id(flow_id, "flow_id")
        flow = await self.get_flow(fid)
        run = await self.get_run_status(run_id)
        start, end = str(run.get("startDate") or ""), str(run.get("endDate") or "9999")
        found: list[dict[str, Any]] = []
        for step in flow.get("steps") or []:
            referrer = str(step.get("referrer") or "")
            if not referrer:
                continue
            for record in await self.get_run_history(referrer, limit=10):
                if not start <= str(record.get("startDate") or "") <= end:
                    continue
                step_run = await self.get_run_status(str(record.get("id")))
                if step_run.get("flowGroupId") == fid:
                    found.append(step_run)
                    break
        return found

    async def get_flow_run_job_status(self, flow_id: str, run_id: str) -> TaskStatus:
        """One poll of a flow run as a :class:`TaskStatus` (the ``cloudworks_flow`` job kind)."""
        fid = _cw_id(flow_id, "flow_id")
        run = await self.get_run_status(run_id)
        if fid not in (run.get("integrationId"), run.get("flowGroupId")):
            raise AnaplanConfigError(f"CloudWorks run {run_id} is not a run of flow {fid}")
        status = run_task_status(fid, run, extra={"kind": "flow"})
        if not status.outcome.is_terminal or (
            run.get("success") is True and run.get("executionErrorCode") is None
        ):
            return status
        records: list[dict[str, Any]] = []
        dumps: list[dict[str, Any]] = []
        steps = await self.get_flow_step_runs(fid, run_id)
        for step in steps:
            if step.get("success") is True and step.get("executionErrorCode") is None:
                continue
            step_records = await self.get_run_error(str(step.get("id")))
            records.extend(step_records)
            dumps.extend(
                await self._run_dumps(str(step.get("integrationId")), step_records, str(step.get("id")))
            )
        extra = {"kind": "flow", "dumps": dumps, "steps": [_step_summary(s) for s in steps]}
        return run_task_status(fid, run, records, extra=extra)

    async def cancel_flow_run_job(self, flow_id: str, run_id: str) -> None:
        """Cancel a flow run if it is still running (no-op once it ended)."""
        status = await self.get_flow_run_job_status(flow_id, run_id)
        if status.outcome.is_terminal:
            log.info(
                "CloudWorks flow run %s already ended (%s); nothing to cancel", run_id, status.state.value
            )
            return
        await self.cancel_run(flow_id)

    async def wait_for_flow_run(
        self,
        flow_id: str,
        run_id: str,
        poll_interval: float | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - public contract
        *,
        raise_on_failure: bool = True,
        fail_on_partial: bool | None = None,
    ) -> TaskStatus:
        """Poll a flow run until it ends (the rules of :meth:`wait_for_run`)."""
        from airflow_provider_anaplan.client.bulk import raise_for_task

        status = await poll_job(
            lambda: self.get_flow_run_job_status(flow_id, run_id),
            label=f"CloudWorks flow run {run_id} of flow {flow_id}",
            poll_interval=self.config.poll_interval if poll_interval is None else poll_interval,
            timeout=timeout,
        )
        if raise_on_failure:
            raise_for_task(status, fail_on_partial=fail_on_partial)
        return status


def _step_summary(step: dict[str, Any]) -> dict[str, Any]:
    return {
        "integration_id": step.get("integrationId"),
        "run_id": step.get("id"),
        "success": step.get("success"),
        "message": step.get("message"),
        "execution_error_code": step.get("executionErrorCode"),
    }
