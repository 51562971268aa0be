"""One implementation of each authentication exchange.

* basic: ``POST {auth_url}/token/authenticate`` with ``Authorization: Basic``;
* certificate v1/v2: ``Authorization: CACertificate <base64 of the PEM text>`` and a freshly signed
  payload every time (v2: 8-byte big-endian Unix timestamp + 100 random bytes, ``encodedDataFormat: v2``);
* token refresh: ``POST {auth_url}/token/refresh`` (same token value, later expiry);
* OAuth refresh grant at ``{oauth_url}/oauth/token`` (rotatable refresh tokens come back renewed);
* the device grant (``start_device_authorization`` / ``poll_device_token``) for the registration CLI.

A refusal by the auth API is permanent: :class:`AnaplanAuthError` (or
:class:`AnaplanReauthorizationRequired` for a dead OAuth refresh token), never retried.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from airflow_provider_anaplan.client.config import DEFAULT_OAUTH_URL
from airflow_provider_anaplan.client.credentials import (
    BasicCredentials,
    CertificateCredentials,
    OAuthCredentials,
    Secret,
)
from airflow_provider_anaplan.client.http import (
    AmbiguousRequestError,
    HttpSession,
    RetryPolicy,
    anaplan_message,
    ssl_verify,
)
from airflow_provider_anaplan.exceptions import (
    AnaplanAuthError,
    AnaplanHTTPError,
    AnaplanReauthorizationRequired,
    AnaplanRefreshOutcomeUnknown,
)

__all__ = [
    "Token",
    "authenticate",
    "authenticate_basic",
    "authenticate_certificate",
    "certificate_payload",
    "refresh_token",
    "oauth_refresh",
    "DeviceAuthorization",
    "OAuthTokens",
    "start_device_authorization",
    "poll_device_token",
]

log = logging.getLogger(__name__)

DEFAULT_TOKEN_LIFETIME = 35 * 60.0
DEVICE_SCOPE = "openid profile email offline_access"
_REGISTER_HINT = "run `airflow-anaplan oauth-register` to register the client again"


@dataclass(frozen=True)
class Token:
    """An access token with its expiry (epoch seconds, local clock)."""

    value: str = field(repr=False)
    scheme: str
    expires_at: float
    issued_at: float
    token_id: str | None = None

    @property
    def header(self) -> str:
        """``Authorization`` header value."""
        return f"{self.scheme} {self.value}"

    @property
    def lifetime(self) -> float:
        return max(0.0, self.expires_at - self.issued_at)

    def usable(self, now: float | None = None) -> bool:
        """Still valid (with a small margin for the request's flight time)."""
        now = time.time() if now is None else now
        return now < self.expires_at - min(5.0, self.lifetime * 0.1)

    def due(self, lead: float, now: float | None = None) -> bool:
        """Time to refresh: within ``lead`` seconds of expiry (``lead`` capped at half the lifetime)."""
        now = time.time() if now is None else now
        return now >= self.expires_at - min(lead, self.lifetime / 2)


def _expiry_from_ms(expires_at_ms: Any, now: float) -> float:
    try:
        expires = float(expires_at_ms) / 1000.0
    except (TypeError, ValueError):
        return now + DEFAULT_TOKEN_LIFETIME
    # Guard against clock skew or nonsense: fall back to Anaplan's documented 35 minutes.
    if not (now < expires <= now + 24 * 3600):
        return now + DEFAULT_TOKEN_LIFETIME
    return expires


def _token_info(response: httpx.Response, what: str) -> Token:
    """Parse ``tokenInfo`` from an auth API answer; an unexpected body is an auth error, not a crash."""
    try:
        body = response.json()
    except ValueError:
        body = None
    info = body.get("tokenInfo") if isinstance(body, dict) else None
    if not isinstance(info, dict) or not info.get("tokenValue") or body.get("status", "SUCCESS") != "SUCCESS":
        message = anaplan_message(response) or "no tokenInfo in the answer"
        raise AnaplanAuthError(
            f"{what} failed: {message}",
            status_code=response.status_code,
            anaplan_message=message,
            method=response.request.method,
            path=response.request.url.path,
        )
    now = time.time()
    return Token(
        value=str(info["tokenValue"]),
        scheme="AnaplanAuthToken",
        expires_at=_expiry_from_ms(info.get("expiresAt"), now),
        issued_at=now,
        token_id=info.get("tokenId"),
    )


def _scrub(text: str | None, *secrets: str | None) -> str | None:
    if text is None:
        return None
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


async def _post(session: HttpSession, url: str, what: str, hint: str, **kwargs: Any) -> httpx.Response:
    try:
        return await session.request("POST", url, idempotent=True, authenticated=False, what=what, **kwargs)
    except AnaplanHTTPError as exc:
        if exc.status_code is not None and exc.status_code < 500 and exc.status_code != 429:
            raise AnaplanAuthError(
                f"{what} refused: HTTP {exc.status_code} from {exc.method} {exc.path}: "
                f"{exc.anaplan_message or 'no message'}. {hint}",
                status_code=exc.status_code,
                anaplan_message=exc.anaplan_message,
                method=exc.method,
                path=exc.path,
            ) from None
        raise


async def authenticate_basic(session: HttpSession, auth_url: str, credentials: BasicCredentials) -> Token:
    """Exchange a user name and password for a token."""
    pair = f"{credentials.username}:{credentials.password.get()}".encode()
    what = f"Anaplan basic authentication for {credentials.username}"
    response = await _post(
        session,
        f"{auth_url}/token/authenticate",
        what,
        "Check the user name and password. SSO users cannot use basic authentication: ask the "
        "tenant admin for an Exception User, or use certificate or OAuth authentication.",
        headers={"Authorization": "Basic " + base64.b64encode(pair).decode()},
    )
    return _token_info(response, what)


def certificate_payload(credentials: CertificateCredentials) -> dict[str, str]:
    """A fresh signed body for ``/token/authenticate`` (never reuse one: v2 is replay-protected)."""
    data = os.urandom(100)
    if credentials.format == "v2":
        data = struct.pack(">Q", int(time.time())) + data
    body = {
        "encodedData": base64.b64encode(data).decode(),
        "encodedSignedData": base64.b64encode(credentials.sign(data)).decode(),
    }
    if credentials.format == "v2":
        body["encodedDataFormat"] = "v2"
    return body


async def authenticate_certificate(
    session: HttpSession, auth_url: str, credentials: CertificateCredentials
) -> Token:
    """Exchange a CA certificate and a signature by its private key for a token."""
    what = f"Anaplan certificate authentication for {credentials.subject}"
    response = await _post(
        session,
        f"{auth_url}/token/authenticate",
        what,
        "Check that the certificate is registered to an Anaplan user, not expired, and that the "
        "private key belongs to it.",
        headers={"Authorization": "CACertificate " + base64.b64encode(credentials.certificate_pem).decode()},
        json=certificate_payload(credentials),
    )
    return _token_info(response, what)


async def authenticate(
    session: HttpSession, auth_url: str, credentials: BasicCredentials | CertificateCredentials
) -> Token:
    """Basic or certificate authentication, by credential kind."""
    if isinstance(credentials, CertificateCredentials):
        return await authenticate_certificate(session, auth_url, credentials)
    return await authenticate_basic(session, auth_url, credentials)


async def refresh_token(session: HttpSession, auth_url: str, token: Token) -> Token:
    """Extend an Anaplan token's life (``POST /token/refresh``); AnaplanAuthError if it is dead."""
    response = await _post(
        session,
        f"{auth_url}/token/refresh",
        "Anaplan token refresh",
        "The token is no longer valid.",
        headers={"Authorization": token.header},
    )
    return _token_info(response, "Anaplan token refresh")


async def oauth_refresh(
    session: HttpSession, oauth_url: str, credentials: OAuthCredentials, refresh: str
) -> tuple[Token, str | None]:
    """OAuth refresh grant: ``(access token, new refresh token or None)``.

    :raises AnaplanReauthorizationRequired: the token endpoint refused (401/403/invalid_grant).
    """
    body = {"grant_type": "refresh_token", "client_id": credentials.client_id, "refresh_token": refresh}
    if credentials.client_secret is not None:
        body["client_secret"] = credentials.client_secret.get()
    what = f"Anaplan OAuth refresh for client {credentials.client_id}"
    try:
        # A rotatable refresh is not idempotent: once Anaplan has processed it the token sent is spent.
        # It is retried only when the request provably never reached the server (connection refused,
        # 429); a reply lost afterwards is reported as such, never answered by re-sending a spent token.
        response = await session.request(
            "POST",
            f"{oauth_url}/oauth/token",
            idempotent=not credentials.rotatable,
            authenticated=False,
            what=what,
            json=body,
        )
    except AmbiguousRequestError as lost:
        raise AnaplanRefreshOutcomeUnknown(
            f"{what}: the reply was lost after the request reached Anaplan ({lost.error}). Anaplan may "
            "have rotated the refresh token (its successor is then lost) or may not have processed the "
            "request; the spent token was not sent again. The next attempt uses the stored refresh "
            f"token: if Anaplan then answers invalid_grant, {_REGISTER_HINT}.",
            status_code=lost.error.status_code,
            method=lost.error.method,
            path=lost.error.path,
        ) from None
    except AnaplanHTTPError as exc:
        if exc.status_code in (400, 401, 403):
            message = _scrub(exc.anaplan_message, refresh, body.get("client_secret"))
            raise AnaplanReauthorizationRequired(
                f"{what} refused (HTTP {exc.status_code}: {message or 'no message'}): the refresh token is "
                f"expired, revoked or already used; {_REGISTER_HINT}",
                status_code=exc.status_code,
                anaplan_message=message,
                method=exc.method,
                path=exc.path,
            ) from None
        raise
    try:
        data = response.json()
        access = str(data["access_token"])
    except (ValueError, KeyError, TypeError):
        raise AnaplanAuthError(f"{what}: the token endpoint answered without an access_token") from None
    now = time.time()
    try:
        lifetime = float(data.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
    except (TypeError, ValueError):
        lifetime = DEFAULT_TOKEN_LIFETIME
    token = Token(value=access, scheme="Bearer", expires_at=now + lifetime, issued_at=now)
    new_refresh = data.get("refresh_token")
    return token, (str(new_refresh) if new_refresh else None)


# ---------------------------------------------------------------------------------------------------
# Device authorization grant (for `airflow-anaplan oauth-register`; never used inside a task)


@dataclass(frozen=True)
class DeviceAuthorization:
    """Answer of ``POST /oauth/device/code``: show ``user_code`` / ``verification_uri`` to the user."""

    client_id: str
    oauth_url: str
    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: float
    interval: float
    obtained_at: float


@dataclass(frozen=True)
class OAuthTokens:
    """Tokens from the device grant; secrets are :class:`Secret`."""

    access_token: Secret
    refresh_token: Secret | None
    expires_in: float
    token_type: str
    id_token: Secret | None = None


def _client(verify: Any, timeout: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(verify=ssl_verify(verify), timeout=timeout)


async def start_device_authorization(
    client_id: str,
    oauth_url: str = DEFAULT_OAUTH_URL,
    *,
    scope: str = DEVICE_SCOPE,
    verify: Any = True,
    timeout: float = 30.0,  # noqa: ASYNC109 - HTTP timeout per request
) -> DeviceAuthorization:
    """Start the device grant. Not available to SSO-only users; the client must be a device-grant client."""
    oauth_url = oauth_url.rstrip("/")
    async with _client(verify, timeout) as client:
        session = HttpSession(client, RetryPolicy(max_attempts=3), timeout=timeout)
        response = await _post(
            session,
            f"{oauth_url}/oauth/device/code",
            f"Anaplan device authorization for client {client_id}",
            "Check the OAuth client id and that it is registered for the device grant.",
            json={"client_id": client_id, "scope": scope},
        )
    data = response.json()
    return DeviceAuthorization(
        client_id=client_id,
        oauth_url=oauth_url,
        device_code=str(data["device_code"]),
        user_code=str(data["user_code"]),
        verification_uri=str(data.get("verification_uri", "")),
        verification_uri_complete=data.get("verification_uri_complete"),
        expires_in=float(data.get("expires_in", 900)),
        interval=float(data.get("interval", 5)),
        obtained_at=time.monotonic(),
    )


async def poll_device_token(
    device: DeviceAuthorization,
    *,
    verify: Any = True,
    timeout: float = 30.0,  # noqa: ASYNC109 - HTTP timeout per request
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> OAuthTokens:
    """Poll until the user approves: honours ``interval``, ``slow_down`` (+5 s) and ``expired_token``.

    :raises AnaplanAuthError: denied, expired or refused.
    """
    interval = max(1.0, device.interval)
    deadline = device.obtained_at + device.expires_in
    body = {
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "device_code": device.device_code,
        "client_id": device.client_id,
    }
    url = f"{device.oauth_url}/oauth/token"
    async with _client(verify, timeout) as client:
        while True:
            if time.monotonic() + interval > deadline:
                raise AnaplanAuthError(
                    "The device code expired before it was approved; start the registration again"
                )
            await sleep(interval)
            try:
                response = await client.post(url, json=body)
            except httpx.TransportError as exc:
                log.warning("Polling the OAuth token endpoint failed (%s); trying again", type(exc).__name__)
                continue
            if response.status_code == 200:
                data = response.json()
                return OAuthTokens(
                    access_token=Secret(str(data["access_token"])),
                    refresh_token=Secret(str(data["refresh_token"])) if data.get("refresh_token") else None,
                    expires_in=float(data.get("expires_in", DEFAULT_TOKEN_LIFETIME)),
                    token_type=str(data.get("token_type", "Bearer")),
                    id_token=Secret(str(data["id_token"])) if data.get("id_token") else None,
                )
            if response.status_code >= 500 or response.status_code == 429:
                continue
            try:
                error = str(response.json().get("error", ""))
            except (ValueError, AttributeError):
                error = ""
            if error == "authorization_pending":
                continue
            if error == "slow_down":
                interval += 5
                continue
            if error == "expired_token":
                raise AnaplanAuthError(
                    "The device code expired before it was approved; start the registration again"
                )
            message = anaplan_message(response)
            raise AnaplanAuthError(
                f"Anaplan device authorization refused: HTTP {response.status_code}: {message or error or 'no message'}",
                status_code=response.status_code,
                anaplan_message=message,
                method="POST",
                path=response.request.url.path,
            )
