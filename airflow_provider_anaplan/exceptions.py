"""Airflow-free exception hierarchy: every Anaplan failure maps to one of these classes.

Every exception carries ``status_code``, ``object_id`` (what failed: file / action / task / model id),
``anaplan_message`` (what Anaplan said), ``method`` and ``path`` (URL path only, never a query).
No message ever contains a token, password, private key or refresh token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_anaplan.client.status import TaskStatus

__all__ = [
    "AnaplanError",
    "AnaplanConfigError",
    "AnaplanAuthError",
    "AnaplanReauthorizationRequired",
    "AnaplanRefreshOutcomeUnknown",
    "AnaplanTaskStartUnknownError",
    "AnaplanHTTPError",
    "AnaplanBadRequestError",
    "AnaplanUnauthorizedError",
    "AnaplanForbiddenError",
    "AnaplanNotFoundError",
    "AnaplanConflictError",
    "AnaplanUnprocessableError",
    "AnaplanModelLockedError",
    "AnaplanRateLimitedError",
    "AnaplanServerError",
    "AnaplanTransportError",
    "AnaplanUploadError",
    "AnaplanTaskError",
    "AnaplanTaskFailedError",
    "AnaplanTaskCancelledError",
    "AnaplanTaskTimeoutError",
    "AnaplanNothingToSyncError",
    "http_error_class",
]


def _rebuild(cls: type[AnaplanError], message: str, attrs: dict[str, Any]) -> AnaplanError:
    exc = cls.__new__(cls)
    AnaplanError.__init__(exc, message)
    exc.__dict__.update(attrs)
    return exc


class AnaplanError(Exception):
    """Base class of every error raised by this provider's Anaplan client."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        object_id: str | None = None,
        anaplan_message: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.object_id = object_id
        self.anaplan_message = anaplan_message
        self.method = method
        self.path = path

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the attributes when pickled (Airflow may ship exceptions between processes).
        attrs = {k: v for k, v in self.__dict__.items() if k != "message"}
        return (_rebuild, (type(self), self.message, attrs))


class AnaplanConfigError(AnaplanError, ValueError):
    """A bad option or bad input, raised before any request is sent."""


class AnaplanAuthError(AnaplanError):
    """The authentication API refused the credentials (bad password, certificate, passphrase...)."""


class AnaplanReauthorizationRequired(AnaplanAuthError):
    """The OAuth refresh token is dead or expired: run ``airflow-anaplan oauth-register``."""


class AnaplanRefreshOutcomeUnknown(AnaplanAuthError):
    """The reply to a rotatable OAuth refresh was lost after the request reached Anaplan.

    Anaplan may have rotated the refresh token (the new one is then lost) or may not have processed
    the request. The spent token is never re-sent automatically; the next try uses the stored token.
    """


class AnaplanHTTPError(AnaplanError):
    """The bulk API answered with an error status (``status_code`` is set)."""


class AnaplanBadRequestError(AnaplanHTTPError):
    """HTTP 400."""


class AnaplanUnauthorizedError(AnaplanHTTPError):
    """HTTP 401 even after one re-authentication and replay."""


class AnaplanForbiddenError(AnaplanHTTPError):
    """HTTP 403."""


class AnaplanNotFoundError(AnaplanHTTPError):
    """HTTP 404: the object does not exist or the user has no access to it."""


class AnaplanConflictError(AnaplanHTTPError):
    """HTTP 409: the model or object is busy (after retries)."""


class AnaplanUnprocessableError(AnaplanHTTPError):
    """HTTP 422, e.g. the model is archived."""


class AnaplanModelLockedError(AnaplanHTTPError):
    """HTTP 423: the model is locked."""


class AnaplanRateLimitedError(AnaplanHTTPError):
    """HTTP 429 after retries."""


class AnaplanServerError(AnaplanHTTPError):
    """HTTP 5xx after retries."""


class AnaplanTransportError(AnaplanError):
    """Connection error or timeout after retries."""


class AnaplanUploadError(AnaplanError):
    """A chunk failed, so the whole upload failed. ``chunk_index`` is 0-based (None if unknown)."""

    def __init__(self, message: str, *, chunk_index: int | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.chunk_index = chunk_index


class AnaplanTaskError(AnaplanError):
    """An Anaplan task ended badly; ``status`` is the last :class:`TaskStatus` seen."""

    def __init__(self, message: str, *, status: TaskStatus | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.status = status


class AnaplanTaskFailedError(AnaplanTaskError):
    """The task is COMPLETE with ``successful: false``."""


class AnaplanTaskCancelledError(AnaplanTaskError):
    """The task was cancelled."""


class AnaplanTaskTimeoutError(AnaplanTaskError):
    """The task did not reach a terminal state in time."""


_BY_STATUS: dict[int, type[AnaplanHTTPError]] = {
    400: AnaplanBadRequestError,
    401: AnaplanUnauthorizedError,
    403: AnaplanForbiddenError,
    404: AnaplanNotFoundError,
    409: AnaplanConflictError,
    422: AnaplanUnprocessableError,
    423: AnaplanModelLockedError,
    429: AnaplanRateLimitedError,
}


def http_error_class(status_code: int) -> type[AnaplanHTTPError]:
    """The exception class for an HTTP error status."""
    if status_code >= 500:
        return AnaplanServerError
    return _BY_STATUS.get(status_code, AnaplanHTTPError)


class AnaplanTaskStartUnknownError(AnaplanError):
    """Starting a task failed ambiguously and Anaplan cannot prove whether a task was created.

    ``candidates`` lists the task ids that appeared in the action's task list meanwhile (created by
    anyone); ``since`` is the epoch time just before the attempt. No second task was started.
    """

    def __init__(self, message: str, *, candidates: list[str] | None = None, since: float | None = None,
                 **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.candidates = list(candidates or [])
        self.since = since


class AnaplanNothingToSyncError(AnaplanError):
    """ALM: no revision of the source model can be synced into the target model (none newer than the
    target's latest revision, or none compatible with it). Nothing was started."""


# ---- transactional API (lists, cells, views, read requests, model open/close) --------------------
class AnaplanViewTooLargeError(AnaplanBadRequestError):
    """A plain view read was refused because the view (selected page) holds more than 1,000,000 cells;
    use a large-volume read request (``download_large_view`` / ``AnaplanReadViewOperator(large=True)``)."""


class AnaplanReadRequestError(AnaplanTaskError):
    """A large-volume read request ended badly (COMPLETE without ``successful: true``, or CANCELLED);
    ``status`` is its last :class:`TaskStatus`. The request was deleted."""


class AnaplanWriteFailuresError(AnaplanError):
    """Anaplan rejected some items or cells of a transactional write (HTTP 200 with ``failures``).

    ``result`` is the merged :class:`~airflow_provider_anaplan.client.transactional_results.ListWriteResult`
    or :class:`~airflow_provider_anaplan.client.transactional_results.CellWriteResult`; the accepted
    items were written.
    """

    def __init__(self, message: str, *, result: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.result = result


class AnaplanModelClosedError(AnaplanError):
    """The model is closed (or did not finish opening in time); open it with ``wake_model``."""
