"""Anaplan's asynchronous jobs, one table: how to poll and cancel each kind.

Every long-running thing Anaplan does — a bulk task, a large-volume read request, a model opening, an
ALM sync task, a CloudWorks integration or flow run — is one *job*: a :class:`JobKind` plus the ids
that locate it. Each kind's status method returns a :class:`~airflow_provider_anaplan.client.status.TaskStatus`
(state, progress, ``successful``, counts), so THE outcome rule (:attr:`TaskStatus.outcome`,
:meth:`TaskStatus.verdict`) decides every kind, and one trigger
(:class:`~airflow_provider_anaplan.triggers.task.AnaplanTaskTrigger`) polls them all.

Workspace and model come from the client's configuration (the trigger's ``workspace_id``/``model_id``
overrides), never from the ids below. Leaf module: imports nothing from the client.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_anaplan.exceptions import AnaplanConfigError

__all__ = ["JOB_KINDS", "JobKind", "JobSpec", "job_args", "job_label", "parse_job"]


class JobKind(enum.StrEnum):
    """Kinds of Anaplan asynchronous jobs."""

    BULK_TASK = "bulk_task"
    READ_REQUEST = "read_request"
    MODEL_OPEN = "model_open"
    ALM_SYNC = "alm_sync"
    CLOUDWORKS_RUN = "cloudworks_run"
    CLOUDWORKS_FLOW = "cloudworks_flow"


@dataclass(frozen=True)
class JobSpec:
    """How the client polls and cancels one kind.

    :param status_method: async client method ``(*ids) -> TaskStatus``.
    :param cancel_method: async client method ``(*ids) -> None`` that stops (or, for read requests,
        deletes) the job; None: the kind cannot be cancelled (a kill leaves it to finish).
    :param id_names: the job's ids, in the order the methods take them (all strings).
    :param noun: how messages name the kind.
    """

    status_method: str
    cancel_method: str | None
    id_names: tuple[str, ...]
    noun: str


#: THE table. The methods live on ``AnaplanAsyncClient`` (bulk.py) and its family mixins.
JOB_KINDS: Mapping[JobKind, JobSpec] = {
    JobKind.BULK_TASK: JobSpec("get_task_status", "cancel_task", ("action_id", "task_id"), "task"),
    JobKind.READ_REQUEST: JobSpec(
        "get_read_request_status",
        "delete_read_request",
        ("source", "object_id", "request_id"),
        "read request",
    ),
    JobKind.MODEL_OPEN: JobSpec("get_model_open_status", None, (), "model opening"),
    JobKind.ALM_SYNC: JobSpec("get_sync_task_status", None, ("task_id",), "ALM sync task"),
    JobKind.CLOUDWORKS_RUN: JobSpec(
        "get_run_job_status", "cancel_run_job", ("integration_id", "run_id"), "CloudWorks integration run"
    ),
    JobKind.CLOUDWORKS_FLOW: JobSpec(
        "get_flow_run_job_status", "cancel_flow_run_job", ("flow_id", "run_id"), "CloudWorks flow run"
    ),
}


def parse_job(kind: object, ids: Mapping[str, Any] | None) -> tuple[JobKind, dict[str, str]]:
    """Validate a job's kind and ids (every id of the kind present and non-empty; no others)."""
    try:
        job_kind = JobKind(str(kind))
    except ValueError:
        known = ", ".join(k.value for k in JobKind)
        raise AnaplanConfigError(f"unknown Anaplan job kind {kind!r}; known kinds: {known}") from None
    spec = JOB_KINDS[job_kind]
    given = dict(ids or {})
    extra = sorted(set(given) - set(spec.id_names))
    if extra:
        raise AnaplanConfigError(
            f"{job_kind.value} jobs take ids {list(spec.id_names)}, got unexpected {extra}"
        )
    clean: dict[str, str] = {}
    for name in spec.id_names:
        value = given.get(name)
        if value is None or isinstance(value, bool) or not str(value).strip():
            raise AnaplanConfigError(
                f"{job_kind.value} job id {name!r} must be a non-empty id, got {value!r}"
            )
        clean[name] = str(value).strip()
    return job_kind, clean


def job_args(kind: JobKind, ids: Mapping[str, str]) -> tuple[str, ...]:
    """The ids in the order the kind's methods take them."""
    return tuple(ids[name] for name in JOB_KINDS[kind].id_names)


def job_label(kind: JobKind, ids: Mapping[str, str]) -> str:
    """``Anaplan task 1 of action 112000000001`` style description for logs and messages."""
    spec = JOB_KINDS[kind]
    if kind is JobKind.BULK_TASK:
        return f"Anaplan task {ids['task_id']} of action {ids['action_id']}"
    if not ids:
        return f"Anaplan {spec.noun}"
    return "Anaplan " + spec.noun + " " + ", ".join(f"{k}={v}" for k, v in ids.items())
