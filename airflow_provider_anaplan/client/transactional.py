"""TransactionalMixin: the transactional API (metadata, lists, cells, views, large-volume read requests, model open/close).

Async methods here are part of :class:`~airflow_provider_anaplan.client.bulk.AnaplanAsyncClient`
(it inherits this mixin); :class:`TransactionalFace` lists their blocking versions for
:class:`~airflow_provider_anaplan.client.sync.AnaplanClient`. One implementation of each step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_anaplan.client.faces import SyncFace

if TYPE_CHECKING:
    from airflow_provider_anaplan.client.config import ClientConfig
    from airflow_provider_anaplan.client.http import HttpSession

__all__ = ["TransactionalFace", "TransactionalMixin"]


class TransactionalMixin:
    """Async transactional methods of AnaplanAsyncClient (uses its session, config and helpers)."""

    if TYPE_CHECKING:
        config: ClientConfig

        @property
        def session(self) -> HttpSession: ...


class TransactionalFace(SyncFace):
    """Blocking versions of :class:`TransactionalMixin`'s methods (``name = Blocking(TransactionalMixin.name)``)."""
