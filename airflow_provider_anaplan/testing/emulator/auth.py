"""Authentication API (``/token/*``) and the token check used by the bulk API.

Basic and certificate authentication are implemented for real: the certificate must be registered
for a user (admin API) and the signature (RSA PKCS#1 v1.5, SHA-512, over the raw decoded
``encodedData``) is verified. ``encodedDataFormat: "v2"`` payloads start with an 8-byte big-endian
Unix timestamp that must be recent, and a v2 payload is never accepted twice.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from starlette.requests import Request
from starlette.responses import Response

from .responses import ApiError, json_response
from .state import AuthToken, EmulatorState, User
from .state.security import new_secret

log = logging.getLogger(__name__)

VALIDATION_URL = "https://auth.anaplan.com/token/validate"


def get_state(request: Request) -> EmulatorState:
    return request.app.state.emulator.state


def _auth_error(status: int, code: str, message: str) -> Response:
    return json_response({"status": code, "statusMessage": message}, status=status)


def _bad_header(message: str = "Invalid header. Verify the header.") -> Response:
    return _auth_error(400, "FAILURE_BAD_HEADER", message)


def _bad_credential(message: str = "Invalid credentials provided.") -> Response:
    return _auth_error(401, "FAILURE_BAD_CREDENTIAL", message)


def issue_token(state: EmulatorState, user: User, kind: str) -> AuthToken:
    """Mint an access token for ``user`` with the configured TTL."""
    token = AuthToken(
        value=new_secret(36),
        user_id=user.id,
        expires_at=time.time() + state.config.token_ttl_seconds,
        kind=kind,
    )
    state.security.tokens[token.value] = token
    return token


def _token_body(token: AuthToken, message: str) -> dict[str, Any]:
    return {
        "meta": {"validationUrl": VALIDATION_URL},
        "status": "SUCCESS",
        "statusMessage": message,
        "tokenInfo": token.token_info(),
    }


def parse_certificate(header_value: str) -> x509.Certificate:
    """Load the certificate of a ``CACertificate`` header.

    Accepts base64 of the whole PEM text, the PEM body lines (base64 DER, with or without
    whitespace) and, leniently, a raw PEM with its line breaks escaped.
    """
    text = header_value.strip()
    if text.startswith("-----BEGIN"):
        return x509.load_pem_x509_certificate(text.replace("\\n", "\n").encode())
    compact = "".join(text.split())
    raw = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=False)
    if raw.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(raw)
    return x509.load_der_x509_certificate(raw)


def _b64(value: Any) -> bytes:
    if not isinstance(value, str) or not value:
        raise ValueError("missing")
    return base64.b64decode(value + "=" * (-len(value) % 4), validate=False)


async def _certificate_auth(request: Request, state: EmulatorState, header_value: str) -> Response:
    counters = state.counters
    try:
        cert = parse_certificate(header_value)
    except (ValueError, binascii.Error, TypeError):
        counters.auth_failures["certificate"] += 1
        return _bad_header("The CACertificate header does not hold a certificate.")
    try:
        body = json.loads(await request.body() or b"{}")
        data = _b64(body.get("encodedData"))
        signature = _b64(
            body.get("encodedSignedData") or body.get("encodedSignature") or body.get("signature")
        )
    except (ValueError, binascii.Error, AttributeError):
        counters.auth_failures["certificate"] += 1
        return _bad_header("The body must hold base64 encodedData and encodedSignedData.")
    der = cert.public_bytes(Encoding.DER)
    user_id = state.security.certificates.get(der)
    user = state.user_by_id(user_id) if user_id else None
    if user is None:
        counters.auth_failures["certificate"] += 1
        return _bad_credential("The certificate is not registered for any user.")
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        counters.auth_failures["certificate"] += 1
        return _bad_credential("Only RSA certificates are supported.")
    try:
        public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA512())
    except InvalidSignature:
        counters.auth_failures["certificate"] += 1
        return _bad_credential("The signature does not match the certificate.")
    fmt = str(body.get("encodedDataFormat") or "v1").lower()
    if fmt == "v2":
        if len(data) < 8 + 92:
            counters.auth_failures["certificate"] += 1
            return _bad_credential(
                "v2 encodedData must hold an 8-byte timestamp and at least 92 random bytes."
            )
        stamp = int.from_bytes(data[:8], "big")
        if stamp > 10**11:  # tolerate a millisecond timestamp
            stamp //= 1000
        if abs(time.time() - stamp) > state.config.certificate_v2_max_skew_seconds:
            counters.auth_failures["certificate"] += 1
            return _bad_credential("The encodedData timestamp is not recent.")
        if data in state.security.seen_payloads:
            counters.auth_failures["certificate"] += 1
            return _bad_credential("The encodedData payload was already used.")
        state.security.seen_payloads.add(data)
    elif fmt == "v1":
        if not state.config.certificate_v1_allowed:
            counters.auth_failures["certificate"] += 1
            return _bad_credential("encodedDataFormat v1 is no longer accepted; use v2.")
        if len(data) < 100:
            counters.auth_failures["certificate"] += 1
            return _bad_credential("encodedData must hold at least 100 random bytes.")
    else:
        counters.auth_failures["certificate"] += 1
        return _bad_header(f"Unknown encodedDataFormat {fmt!r}.")
    token = issue_token(state, user, "certificate")
    counters.authentications["certificate"] += 1
    log.info("certificate authentication for %s", user.email)
    return json_response(_token_body(token, "Login successful"), status=201)


async def authenticate(request: Request) -> Response:
    """``POST /token/authenticate`` (Basic or CACertificate)."""
    state = get_state(request)
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            email, sep, password = decoded.partition(":")
            if not sep:
                raise ValueError("no colon")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            state.counters.auth_failures["basic"] += 1
            return _bad_header()
        user = state.users.get(email.lower())
        if user is None or user.password != password:
            state.counters.auth_failures["basic"] += 1
            return _bad_credential()
        token = issue_token(state, user, "basic")
        state.counters.authentications["basic"] += 1
        log.info("basic authentication for %s", user.email)
        return json_response(_token_body(token, "Login successful"), status=201)
    if scheme.lower() == "cacertificate" and value.strip():
        return await _certificate_auth(request, state, value)
    state.counters.auth_failures["header"] += 1
    return _bad_header()


def _anaplan_token(request: Request, state: EmulatorState) -> tuple[AuthToken | None, Response | None]:
    """Token of an ``AnaplanAuthToken`` header on the auth API (Bearer is rejected there)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme != "AnaplanAuthToken" or not value.strip():
        return None, _bad_header()
    token = state.security.tokens.get(value.strip())
    if token is None or not token.alive():
        return None, _bad_credential("Invalid or expired token.")
    return token, None


async def refresh(request: Request) -> Response:
    """``POST /token/refresh``: same token value, new expiry."""
    state = get_state(request)
    token, error = _anaplan_token(request, state)
    if error is not None or token is None:
        state.counters.auth_failures["refresh"] += 1
        return error or _bad_credential()
    token.expires_at = time.time() + state.config.token_ttl_seconds
    state.counters.authentications["refresh"] += 1
    return json_response(_token_body(token, "Token refreshed"), status=200)


async def validate(request: Request) -> Response:
    """``GET /token/validate``."""
    state = get_state(request)
    token, error = _anaplan_token(request, state)
    if error is not None or token is None:
        return error or _bad_credential()
    user = state.user_by_id(token.user_id)
    return json_response(
        {
            "meta": {"validationUrl": VALIDATION_URL},
            "status": "SUCCESS",
            "statusMessage": "Token validated",
            "tokenInfo": {"expiresAt": int(token.expires_at * 1000), "tokenId": token.token_id},
            "userInfo": {
                "userGuid": token.user_id,
                "userId": user.email if user else "",
                "customerGuid": user.customer_id if user else "",
            },
        }
    )


async def logout(request: Request) -> Response:
    """``POST /token/logout``: 204, the token is dead afterwards."""
    state = get_state(request)
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    token = state.security.tokens.get(value.strip()) if scheme == "AnaplanAuthToken" else None
    if token is None or not token.alive():
        return _bad_credential("Invalid or expired token.")
    token.revoked = True
    return Response(status_code=204)


def require_user(request: Request) -> User:
    """The user behind the bulk API request's ``AnaplanAuthToken``/``Bearer`` header (else 401)."""
    state = get_state(request)
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme not in ("AnaplanAuthToken", "Bearer") or not value.strip():
        raise ApiError(401, "Full authentication is required to access this resource")
    token = state.security.tokens.get(value.strip())
    if token is None:
        raise ApiError(401, "Invalid token")
    if token.revoked:
        raise ApiError(401, "Token has been revoked")
    if not token.alive():
        raise ApiError(401, "Token has expired")
    user = state.user_by_id(token.user_id)
    if user is None:
        raise ApiError(401, "Invalid token")
    return user
