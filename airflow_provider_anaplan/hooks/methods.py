"""Shared pieces of the hook classes and their per-API-family method mixins (leaf module).

:func:`client_method` marks a hook method as the counterpart of the client method of the same name;
:func:`resolve_path_argument` is the one source/destination rule of every hook and operator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["client_method", "resolve_path_argument"]

_F = TypeVar("_F", bound=Callable[..., Any])
_CLIENT_METHOD = "__anaplan_client_method__"


def client_method(func: _F) -> _F:
    """Mark a hook method as the counterpart of the client method of the same name.

    Only a marker (the method is written out and typed in the class body); :data:`DELEGATED_METHODS`
    and :data:`DELEGATED_STREAMS` are derived from it.
    """
    setattr(func, _CLIENT_METHOD, True)
    return func


def resolve_path_argument(value: Any, kind: str = "source") -> Any:
    """The client's one source/destination rule, with object-storage URIs allowed.

    A ``str`` is a path: ``s3://…``/``gs://…``/``file://…`` become ``ObjectStoragePath``, anything else
    a local path (a missing upload source is an ``AnaplanConfigError``); bytes and ``Content(...)`` are
    content. Used by both hooks and by the operators, so a ``str`` means the same thing everywhere.
    """
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_anaplan.client.transfer import resolve_destination, resolve_source

    resolve = resolve_source if kind == "source" else resolve_destination
    return resolve(value, uri=ObjectStoragePath)
