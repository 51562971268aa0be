"""ClientConfig: every user-facing option of the client, validated with clear messages."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_anaplan.client.credentials import (
    BasicCredentials,
    CertificateCredentials,
    Credentials,
    OAuthCredentials,
)
from airflow_provider_anaplan.client.http import RetryPolicy
from airflow_provider_anaplan.client.ids import normalize_model_id, normalize_workspace_id
from airflow_provider_anaplan.exceptions import AnaplanConfigError
from airflow_provider_anaplan.validation import MIN_POLL_INTERVAL, MIN_TIMEOUT, validate_seconds

__all__ = [
    "ClientConfig",
    "DEFAULT_API_URL",
    "DEFAULT_AUTH_URL",
    "DEFAULT_CLOUDWORKS_URL",
    "DEFAULT_OAUTH_URL",
    "MIN_POLL_INTERVAL",
    "MIN_TIMEOUT",
    "cloudworks_url_for",
    "validate_seconds",
]

DEFAULT_API_URL = "https://api.anaplan.com/2/0"
DEFAULT_AUTH_URL = "https://auth.anaplan.com"
DEFAULT_OAUTH_URL = "https://us1a.app.anaplan.com"
#: CloudWorks' primary base URL (the spec's first server); ``https://api.anaplan.com/cloudworks/2/0``
#: is the alternative form, on the bulk API's host.
DEFAULT_CLOUDWORKS_URL = "https://api.cloudworks.anaplan.com/2/0"
MB = 1024 * 1024


def cloudworks_url_for(api_url: str) -> str:
    """CloudWorks base URL for a bulk API base URL: the primary form for the default (legacy) host,
    else the spec's alternative form on the same host (``https://eu3.api.anaplan.com/cloudworks/2/0``,
    ``http://127.0.0.1:8080/cloudworks/2/0`` for the emulator)."""
    base = api_url.rstrip("/")
    if base == DEFAULT_API_URL:
        return DEFAULT_CLOUDWORKS_URL
    if base == "https://au1a.api2.anaplan.com/2/0":  # Anaplan's documented URL for Australia
        return "https://api.cloudworks.au1a.app2.anaplan.com/2/0"
    if base.endswith("/2/0"):
        base = base[: -len("/2/0")]
    return f"{base}/cloudworks/2/0"


def _url(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise AnaplanConfigError(f"{name} must be an http(s) URL string, got {type(value).__name__}")
    text = value.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AnaplanConfigError(f"{name} must be an http(s) URL such as https://host/path, got {value!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise AnaplanConfigError(
            f"{name} must not contain a query, fragment or user info, got {parts.scheme}://{parts.hostname}…"
        )
    return text


def _int(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not (low <= value <= high):
        raise AnaplanConfigError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


@dataclass(frozen=True)
class ClientConfig:
    """Options of :class:`AnaplanAsyncClient` / :class:`AnaplanClient`.

    :param credentials: :class:`BasicCredentials`, :class:`CertificateCredentials` or :class:`OAuthCredentials`.
    :param workspace_id: 32 hex digits (normalised to lower case). Needed for model-scoped calls.
    :param model_id: 32 hex digits (normalised to upper case). Needed for model-scoped calls.
    :param api_url: bulk API base, default ``https://api.anaplan.com/2/0``.
    :param auth_url: authentication API base, default ``https://auth.anaplan.com``.
    :param oauth_url: OAuth base, default ``https://us1a.app.anaplan.com``.
    :param verify: verify TLS (bool), a CA bundle path that must exist, or an ``ssl.SSLContext``.
    :param timeout: seconds per HTTP request (connect, read, write), >= 0.1 — dormant models load slowly.
    :param chunk_size_mb: upload chunk size, 1–50 MB (default 25).
    :param compression: gzip upload chunks (isal, in worker threads).
    :param max_concurrency: chunks in flight at once, 1–64 (default 4).
    :param retry: :class:`RetryPolicy`.
    :param token_refresh_lead: refresh the token this many seconds before it expires (at most half its
        lifetime, so a short-lived token is not refreshed on every request).
    :param poll_interval: default seconds between task status polls, >= 0.1 (Anaplan asks for >= 5).
    :param start_confirm_window: seconds to look for the task after a task POST failed ambiguously
        (the request may or may not have created it; it is never sent twice), >= 1 (default 60).
    :param cloudworks_url: CloudWorks API base (both forms of the spec work:
        ``https://api.cloudworks.anaplan.com/2/0`` or ``https://api.anaplan.com/cloudworks/2/0``);
        default: derived from ``api_url`` by :func:`cloudworks_url_for`.
    :param coordination: where the processes of a deployment register task starts and file leases
        (a :class:`~airflow_provider_anaplan.client.coordination.CoordinationStore`); default: this
        process only. The Airflow hook passes one on Airflow Variables (the whole deployment).

    Every interval and timeout is checked by :func:`validate_seconds`: a finite ``int``/``float`` (not a
    ``bool``, not a string, not NaN or infinity) within its bounds.
    """

    credentials: Credentials
    workspace_id: str | None = None
    model_id: str | None = None
    api_url: str = DEFAULT_API_URL
    auth_url: str = DEFAULT_AUTH_URL
    oauth_url: str = DEFAULT_OAUTH_URL
    verify: bool | str | ssl.SSLContext = True
    timeout: float = 60.0
    chunk_size_mb: int = 25
    compression: bool = True
    max_concurrency: int = 4
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    token_refresh_lead: float = 300.0
    poll_interval: float = 5.0
    start_confirm_window: float = 60.0
    coordination: Any = None
    cloudworks_url: str | None = None

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        if not isinstance(self.credentials, (BasicCredentials, CertificateCredentials, OAuthCredentials)):
            raise AnaplanConfigError(
                "credentials must be BasicCredentials, CertificateCredentials or OAuthCredentials, "
                f"got {type(self.credentials).__name__}"
            )
        if self.workspace_id is not None:
            put("workspace_id", normalize_workspace_id(self.workspace_id))
        if self.model_id is not None:
            put("model_id", normalize_model_id(self.model_id))
        for name in ("api_url", "auth_url", "oauth_url"):
            put(name, _url(getattr(self, name), name))
        if self.cloudworks_url is None:
            put("cloudworks_url", cloudworks_url_for(self.api_url))
        else:
            put("cloudworks_url", _url(self.cloudworks_url, "cloudworks_url"))
        verify = self.verify
        if isinstance(verify, os.PathLike):
            verify = os.fspath(verify)
        if isinstance(verify, str):
            if not verify.strip() or not os.path.exists(os.path.expanduser(verify)):
                raise AnaplanConfigError(f"verify: CA bundle path {verify!r} does not exist")
            verify = os.path.expanduser(verify)
        elif not isinstance(verify, (bool, ssl.SSLContext)):
            raise AnaplanConfigError(
                f"verify must be True/False, a CA bundle path or an SSLContext, got {verify!r}"
            )
        put("verify", verify)
        put("timeout", validate_seconds(self.timeout, "timeout", minimum=MIN_TIMEOUT, inclusive=True))
        _int(self.chunk_size_mb, "chunk_size_mb", 1, 50)
        if not isinstance(self.compression, bool):
            raise AnaplanConfigError(f"compression must be True or False, got {self.compression!r}")
        _int(self.max_concurrency, "max_concurrency", 1, 64)
        if not isinstance(self.retry, RetryPolicy):
            raise AnaplanConfigError(f"retry must be a RetryPolicy, got {type(self.retry).__name__}")
        put(
            "token_refresh_lead",
            validate_seconds(self.token_refresh_lead, "token_refresh_lead", minimum=0, inclusive=True),
        )
        put(
            "start_confirm_window",
            validate_seconds(self.start_confirm_window, "start_confirm_window", minimum=1.0, inclusive=True),
        )
        if self.coordination is not None and not all(
            callable(getattr(self.coordination, name, None)) for name in ("put", "scan", "delete")
        ):
            raise AnaplanConfigError("coordination must be a CoordinationStore (put, scan, delete)")
        put(
            "poll_interval",
            validate_seconds(self.poll_interval, "poll_interval", minimum=MIN_POLL_INTERVAL, inclusive=True),
        )

    @property
    def chunk_size(self) -> int:
        """Upload chunk size in bytes."""
        return self.chunk_size_mb * MB

    def require_model(self) -> tuple[str, str]:
        """``(workspace_id, model_id)`` or an :class:`AnaplanConfigError` naming what is missing."""
        if not self.workspace_id or not self.model_id:
            missing = " and ".join(n for n in ("workspace_id", "model_id") if not getattr(self, n))
            raise AnaplanConfigError(f"{missing} must be set in ClientConfig for model operations")
        return self.workspace_id, self.model_id
