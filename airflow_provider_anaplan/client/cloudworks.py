"""CloudWorksMixin: the CloudWorks API (connections, integrations, runs, flows).

Async methods here are part of :class:`~airflow_provider_anaplan.client.bulk.AnaplanAsyncClient`
(it inherits this mixin); :class:`CloudWorksFace` lists their blocking versions for
:class:`~airflow_provider_anaplan.client.sync.AnaplanClient`. One implementation of each step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_anaplan.client.faces import SyncFace

if TYPE_CHECKING:
    from airflow_provider_anaplan.client.config import ClientConfig
    from airflow_provider_anaplan.client.http import HttpSession

__all__ = ["CloudWorksFace", "CloudWorksMixin"]


class CloudWorksMixin:
    """Async cloudworks methods of AnaplanAsyncClient (uses its session, config and helpers)."""

    if TYPE_CHECKING:
        config: ClientConfig

        @property
        def session(self) -> HttpSession: ...


class CloudWorksFace(SyncFace):
    """Blocking versions of :class:`CloudWorksMixin`'s methods (``name = Blocking(CloudWorksMixin.name)``)."""
