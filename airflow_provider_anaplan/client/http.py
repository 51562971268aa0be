"""HTTP policy: retries with backoff and jitter, ``Retry-After``, idempotency rules, error mapping.

Only idempotent requests are retried blindly (GET, PUT, DELETE, HEAD and the POSTs callers mark as
idempotent, such as setting a chunk count). A non-idempotent request (creating a task) that fails
*ambiguously* — the request may have reached Anaplan: a read timeout, a connection dropped after
sending, a 5xx — raises :class:`AmbiguousRequestError` so the caller can look for what was created
instead of sending it again. Headers and tokens are never logged.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import logging
import os
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx

from airflow_provider_anaplan.client.ids import label
from airflow_provider_anaplan.exceptions import (
    AnaplanConfigError,
    AnaplanError,
    AnaplanHTTPError,
    AnaplanTransportError,
    http_error_class,
)
from airflow_provider_anaplan.validation import validate_seconds

__all__ = [
    "RetryPolicy",
    "HttpSession",
    "TokenSource",
    "AmbiguousRequestError",
    "anaplan_message",
    "error_from_response",
    "parse_retry_after",
    "ssl_verify",
]

log = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_EMPTY = httpx.ByteStream(b"")


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried.

    :param max_attempts: attempts per request including the first (1 = never retry).
    :param backoff_initial: base of the exponential backoff, seconds (``initial * 2**(n-1)``).
    :param backoff_max: ceiling of one backoff delay, seconds. Delays use full jitter.
    :param retry_after_max: ceiling applied to a server's ``Retry-After``, seconds.
    :param retry_statuses: HTTP statuses worth retrying (409 model busy, 429, 5xx).
    """

    max_attempts: int = 5
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    retry_after_max: float = 120.0
    retry_statuses: frozenset[int] = field(default_factory=lambda: frozenset({409, 429, 500, 502, 503, 504}))

    def __post_init__(self) -> None:
        if (
            isinstance(self.max_attempts, bool)
            or not isinstance(self.max_attempts, int)
            or not (1 <= self.max_attempts <= 100)
        ):
            raise AnaplanConfigError(
                f"retry.max_attempts must be an integer from 1 to 100, got {self.max_attempts!r}"
            )
        for name in ("backoff_initial", "backoff_max", "retry_after_max"):
            value = validate_seconds(getattr(self, name), f"retry.{name}", minimum=0, inclusive=True)
            object.__setattr__(self, name, value)
        statuses = frozenset(self.retry_statuses)
        if not all(isinstance(s, int) and 400 <= s <= 599 for s in statuses):
            raise AnaplanConfigError(
                f"retry.retry_statuses must be HTTP error statuses, got {self.retry_statuses!r}"
            )
        object.__setattr__(self, "retry_statuses", statuses)

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff before retry number ``attempt`` (1-based)."""
        ceiling = min(self.backoff_max, self.backoff_initial * (2 ** max(0, attempt - 1)))
        return random.uniform(0, ceiling)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait: the server's ``Retry-After`` (capped) if given, else :meth:`backoff`."""
        if retry_after is not None:
            return min(max(0.0, retry_after), self.retry_after_max)
        return self.backoff(attempt)


class AmbiguousRequestError(Exception):
    """A non-idempotent request failed in a way that leaves unknown whether Anaplan processed it.

    ``error`` is the :class:`AnaplanError` to raise if the caller finds nothing was created.
    """

    def __init__(self, error: AnaplanError) -> None:
        super().__init__(str(error))
        self.error = error


class TokenSource(Protocol):
    """What :class:`HttpSession` needs from the token manager."""

    async def authorization(self) -> tuple[str, object]:
        """Return ``(Authorization header value, handle)``; the handle identifies the token used."""
        ...

    async def invalidate(self, handle: object) -> None:
        """The bulk API rejected the token behind ``handle`` with 401."""
        ...


def ssl_verify(verify: bool | str | ssl.SSLContext) -> bool | ssl.SSLContext:
    """httpx ``verify`` value, shared per process: ``True`` or a CA bundle path (file or directory)
    becomes one cached ``SSLContext``.

    Building a context loads the CA bundle (tens of milliseconds of CPU and about 1 MB each); a
    triggerer with hundreds of Anaplan triggers must not pay that per trigger.
    """
    if verify is True or isinstance(verify, str):
        return _shared_ssl_context(verify)
    if verify is False:
        _warn_unverified()
    return verify


@functools.cache
def _warn_unverified() -> None:
    """Once per process: verification is off."""
    log.warning("TLS certificate verification is OFF for Anaplan requests: use only against a test server")


@functools.lru_cache(maxsize=16)
def _shared_ssl_context(verify: Literal[True] | str) -> ssl.SSLContext:
    if verify is True:
        return httpx.create_ssl_context()
    if os.path.isdir(verify):
        return ssl.create_default_context(capath=verify)
    return ssl.create_default_context(cafile=verify)


@functools.lru_cache(maxsize=4096)
def _parsed_url(url: str) -> httpx.URL:
    """Parse each URL once: a trigger polls the same task URL every few seconds, and httpx's URL
    parsing is a measurable share of a poll's CPU when a triggerer runs hundreds of them."""
    return httpx.URL(url)


def _certificate_rejected(exc: BaseException) -> bool:
    """Whether a transport error was caused by the server's certificate failing verification."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(cause):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def anaplan_message(response: httpx.Response) -> str | None:
    """What Anaplan said in an error body (``status.message``, ``statusMessage``, OAuth ``error``...)."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip() if response.content else ""
        return text[:300] or None
    if not isinstance(body, Mapping):
        return None
    status = body.get("status")
    if isinstance(status, Mapping) and status.get("message"):
        return str(status["message"])
    for key in ("statusMessage", "error_description", "message", "error"):
        if body.get(key):
            return str(body[key])
    return None


def error_from_response(
    response: httpx.Response, *, object_id: str | None = None, what: str | None = None
) -> AnaplanHTTPError:
    """Map an error response to the specific :class:`AnaplanHTTPError` subclass."""
    status = response.status_code
    method = response.request.method
    path = response.request.url.path
    message = anaplan_message(response)
    text = f"{what or label(object_id)}: HTTP {status} {response.reason_phrase} from {method} {path}"
    if message:
        text += f": {message}"
    if status == 404:
        text += " (not found or no access)"
    return http_error_class(status)(
        text, status_code=status, object_id=object_id, anaplan_message=message, method=method, path=path
    )


def _transport_error(
    exc: httpx.TransportError,
    request: httpx.Request,
    timeout: float | None,
    object_id: str | None,
    what: str | None,
) -> AnaplanTransportError:
    method, path = request.method, request.url.path
    if isinstance(exc, httpx.TimeoutException):
        reason = f"timed out after {timeout:g} s" if timeout else "timed out"
    else:
        reason = f"connection error ({type(exc).__name__}: {exc})"
    return AnaplanTransportError(
        f"{what or label(object_id)}: {method} {path} {reason}", object_id=object_id, method=method, path=path
    )


class HttpSession:
    """Sends bulk/auth API requests with the retry policy and (optionally) a token source."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        policy: RetryPolicy,
        tokens: TokenSource | None = None,
        *,
        timeout: float | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.policy = policy
        self.tokens = tokens
        self.timeout = timeout
        self._sleep = sleep

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send with retries; return the (fully read, decoded) response or raise an AnaplanError.

        Keyword arguments: ``idempotent`` (default: by method), ``object_id``/``what`` (for messages),
        ``json``, ``content``, ``params``, ``headers``, ``authenticated`` (default True).
        """
        response, _ = await self._send(method, url, raw=False, **kwargs)
        return response

    async def request_raw(self, method: str, url: str, **kwargs: Any) -> tuple[httpx.Response, bytes]:
        """Like :meth:`request` but returns the body undecoded (``Content-Encoding`` left applied)."""
        return await self._send(method, url, raw=True, **kwargs)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        raw: bool,
        idempotent: bool | None = None,
        object_id: str | None = None,
        what: str | None = None,
        authenticated: bool = True,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> tuple[httpx.Response, bytes]:
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        policy = self.policy
        attempt = 0
        replayed = False
        while True:
            attempt += 1
            hdrs = dict(headers or {})
            handle: object = None
            if authenticated and self.tokens is not None:
                hdrs["Authorization"], handle = await self.tokens.authorization()
            request = self.client.build_request(method, _parsed_url(url), headers=hdrs, **kwargs)
            try:
                response = await self.client.send(request, stream=True)
                try:
                    if raw and response.status_code < 400:
                        body = b"".join([part async for part in response.aiter_raw()])
                    else:
                        body = await response.aread()
                finally:
                    await response.aclose()
                    # httpx links response and stream in a reference cycle, which would keep the
                    # request body (an upload chunk) alive until the cyclic GC runs: break it.
                    response.stream = _EMPTY
            except httpx.TransportError as exc:
                error: AnaplanError = _transport_error(exc, request, self.timeout, object_id, what)
                if not idempotent and not isinstance(exc, _NOT_SENT):
                    raise AmbiguousRequestError(error) from exc
                if attempt >= policy.max_attempts or _certificate_rejected(exc):  # a bad cert stays bad
                    raise error from exc
                await self._backoff(request, attempt, type(exc).__name__, None)
                continue

            status = response.status_code
            if status == 401 and handle is not None and not replayed:
                # The token died behind our back (expired, logged out): re-authenticate once and replay.
                replayed = True
                attempt -= 1
                log.warning(
                    "%s %s answered 401; re-authenticating once and replaying", method, request.url.path
                )
                await self.tokens.invalidate(handle)  # type: ignore[union-attr]
                continue
            if status < 400:
                return response, body
            error = error_from_response(response, object_id=object_id, what=what)
            if status in policy.retry_statuses:
                if not idempotent and status >= 500:
                    raise AmbiguousRequestError(error)
                if attempt < policy.max_attempts:
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    await self._backoff(request, attempt, f"HTTP {status}", retry_after)
                    continue
            raise error

    async def _backoff(
        self, request: httpx.Request, attempt: int, reason: str, retry_after: float | None
    ) -> None:
        delay = self.policy.delay(attempt, retry_after)
        log.warning(
            "%s %s failed (%s); retry %d/%d in %.1f s%s",
            request.method,
            request.url.path,
            reason,
            attempt,
            self.policy.max_attempts - 1,
            delay,
            " (Retry-After)" if retry_after is not None else "",
        )
        await self._sleep(delay)
