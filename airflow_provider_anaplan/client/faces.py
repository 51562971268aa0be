"""Descriptors of the blocking face: a sync method or iterator per async-core method (nothing twice).

``Blocking(AnaplanAsyncClient.method)`` in a class body gives the blocking version of that coroutine
method; ``Streaming(...)`` a sync iterator over an async-generator method. They work on any class with
``_runner`` (a :class:`~airflow_provider_anaplan.client.sync.LoopThread`) and ``async_client``: the
sync client and the per-API-family faces it is made of (``transactional.py``, ``alm.py``,
``cloudworks.py``). Leaf module: imports nothing from the client.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, overload

if TYPE_CHECKING:
    from collections.abc import Awaitable

__all__ = ["Blocking", "Streaming", "SyncFace"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class _Runner(Protocol):
    def run(self, coro: Awaitable[Any]) -> Any: ...
    def iterate(self, agen: AsyncIterator[Any]) -> Iterator[Any]: ...


class SyncFace:
    """Base of the sync client and its family faces: what the descriptors need (set by AnaplanClient)."""

    async_client: Any

    @property
    def _runner(self) -> _Runner:  # pragma: no cover - AnaplanClient overrides it
        raise NotImplementedError


class Blocking(Generic[P, R]):
    """Descriptor: the blocking version of an ``AnaplanAsyncClient`` coroutine method."""

    def __init__(self, method: Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]) -> None:
        self.method = method
        self.__doc__ = method.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> Blocking[P, R]: ...
    @overload
    def __get__(self, obj: SyncFace, owner: type) -> Callable[P, R]: ...
    def __get__(self, obj: SyncFace | None, owner: type) -> Any:
        if obj is None:
            return self
        name = self.name

        @functools.wraps(self.method)
        def call(*args: Any, **kwargs: Any) -> R:
            runner = obj._runner  # first: after a fork it rebuilds the async client
            return runner.run(getattr(obj.async_client, name)(*args, **kwargs))

        return call


class Streaming(Generic[P, T]):
    """Descriptor: a sync iterator over an ``AnaplanAsyncClient`` async-generator method."""

    def __init__(self, method: Callable[Concatenate[Any, P], AsyncIterator[T]]) -> None:
        self.method = method
        self.__doc__ = method.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> Streaming[P, T]: ...
    @overload
    def __get__(self, obj: SyncFace, owner: type) -> Callable[P, Iterator[T]]: ...
    def __get__(self, obj: SyncFace | None, owner: type) -> Any:
        if obj is None:
            return self
        name = self.name

        @functools.wraps(self.method)
        def call(*args: Any, **kwargs: Any) -> Iterator[T]:
            runner = obj._runner  # first: after a fork it rebuilds the async client
            return runner.iterate(getattr(obj.async_client, name)(*args, **kwargs))

        return call
