"""Credentials: basic, certificate (CA certificate + RSA private key) and OAuth refresh token.

Secrets are wrapped in :class:`Secret`, whose ``repr``/``str`` never show the value. Certificate
material is loaded and checked at construction (file exists, is PEM, the key decrypts and matches the
certificate, the certificate is not about to expire); no request is sent until first use.

For ``certificate`` and ``private_key`` a ``str`` that contains ``-----BEGIN`` is PEM text; any other
``str`` or ``os.PathLike`` is a file path (``~`` expanded). ``bytes`` are PEM content.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from airflow_provider_anaplan.exceptions import AnaplanAuthError, AnaplanConfigError

if TYPE_CHECKING:
    from airflow_provider_anaplan.client.token_store import TokenStore

__all__ = [
    "Secret",
    "Credentials",
    "BasicCredentials",
    "CertificateCredentials",
    "OAuthCredentials",
    "CERTIFICATE_EXPIRY_WARNING_DAYS",
]

log = logging.getLogger(__name__)

CERTIFICATE_EXPIRY_WARNING_DAYS = 30
# Fingerprints are HMACs under a per-process random key: usable as cache keys, useless outside.
_FINGERPRINT_KEY = secrets.token_bytes(32)


class Secret:
    """A string that never shows itself in ``repr``/``str``; read it with :meth:`get`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self._value)


def _fingerprint(*parts: str | bytes) -> str:
    mac = hmac.new(_FINGERPRINT_KEY, digestmod=hashlib.sha256)
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        mac.update(len(data).to_bytes(8, "big") + data)
    return mac.hexdigest()


def _text(value: object, name: str, *, allow_empty: bool = False) -> str:
    if isinstance(value, Secret):
        value = value.get()
    if not isinstance(value, str):
        raise AnaplanConfigError(f"{name} must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise AnaplanConfigError(f"{name} must not be empty")
    return value


class Credentials:
    """Base class of the credential kinds."""

    kind: str = ""

    def fingerprint(self) -> str:
        """A stable, non-reversible key identifying this identity (for the shared token cache)."""
        raise NotImplementedError


class BasicCredentials(Credentials):
    """Anaplan user name and password (SSO users need an Exception User for basic auth)."""

    kind = "basic"

    def __init__(self, username: str, password: str | Secret) -> None:
        self.username = _text(username, "username").strip()
        self.password = Secret(_text(password, "password"))

    def fingerprint(self) -> str:
        return _fingerprint("basic", self.username, self.password.get())

    def __repr__(self) -> str:
        return f"BasicCredentials(username={self.username!r}, password=***)"


def _read_pem(value: str | bytes | os.PathLike[str], what: str) -> tuple[bytes, str]:
    """Return ``(pem bytes, description)`` from PEM text/bytes or a file path."""
    if isinstance(value, bytes):
        return value, f"{what} (PEM bytes)"
    if isinstance(value, str) and "-----BEGIN" in value:
        return value.encode("ascii", "replace"), f"{what} (PEM text)"
    if not isinstance(value, (str, os.PathLike)):
        raise AnaplanConfigError(f"{what} must be PEM text or a file path, got {type(value).__name__}")
    path = Path(value).expanduser()
    if not str(value).strip():
        raise AnaplanConfigError(f"{what} must be PEM text or a file path, got an empty string")
    try:
        return path.read_bytes(), f"{what} file {path}"
    except FileNotFoundError:
        raise AnaplanConfigError(f"{what} file {path} does not exist") from None
    except IsADirectoryError:
        raise AnaplanConfigError(f"{what} file {path} is a directory") from None
    except OSError as exc:
        raise AnaplanConfigError(f"{what} file {path} cannot be read: {exc.strerror}") from None


class CertificateCredentials(Credentials):
    """A CA-issued certificate registered in Anaplan, and its RSA private key.

    :param certificate: PEM text/bytes or a path to the PEM certificate.
    :param private_key: PEM text/bytes or a path to the PEM private key (PKCS#1 or PKCS#8).
    :param passphrase: passphrase of an encrypted private key.
    :param format: ``"v2"`` (default; mandatory at Anaplan from 2026-06-19) or ``"v1"``.
    :raises AnaplanConfigError: missing file, not PEM, unknown format.
    :raises AnaplanAuthError: encrypted key without passphrase, wrong passphrase, key not matching.
    """

    kind = "certificate"

    def __init__(
        self,
        certificate: str | bytes | os.PathLike[str],
        private_key: str | bytes | os.PathLike[str],
        passphrase: str | Secret | None = None,
        format: Literal["v1", "v2"] = "v2",
    ) -> None:
        if format not in ("v1", "v2"):
            raise AnaplanConfigError(f'certificate format must be "v1" or "v2", got {format!r}')
        self.format = format
        cert_pem, cert_where = _read_pem(certificate, "certificate")
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
        except ValueError:
            raise AnaplanConfigError(
                f"{cert_where} is not a PEM certificate (expected '-----BEGIN CERTIFICATE-----')"
            ) from None
        key_pem, key_where = _read_pem(private_key, "private_key")
        if b"-----BEGIN" not in key_pem or b"PRIVATE KEY-----" not in key_pem:
            raise AnaplanConfigError(
                f"{key_where} is not a PEM private key (expected '-----BEGIN ... PRIVATE KEY-----')"
            )
        pw = None if passphrase is None else _text(passphrase, "passphrase", allow_empty=True)
        try:
            key = serialization.load_pem_private_key(
                key_pem, password=pw.encode() if pw is not None else None
            )
        except TypeError as exc:
            if "not encrypted" in str(exc):
                key = serialization.load_pem_private_key(key_pem, password=None)
            else:
                raise AnaplanAuthError(
                    f"{key_where} is encrypted: give its passphrase (`passphrase=`; Airflow connection extra 'private_key_passphrase')"
                ) from None
        except ValueError as exc:
            if pw is not None and ("password" in str(exc).lower() or "decrypt" in str(exc).lower()):
                raise AnaplanAuthError(f"Wrong passphrase for {key_where}") from None
            raise AnaplanConfigError(f"{key_where} could not be loaded as a private key") from None
        except Exception:  # cryptography raises assorted errors for unsupported key material
            raise AnaplanConfigError(f"{key_where} could not be loaded as a private key") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise AnaplanConfigError(f"{key_where} is not an RSA private key; Anaplan needs RSA")
        if key.public_key().public_numbers() != cert.public_key().public_numbers():  # type: ignore[union-attr]
            raise AnaplanAuthError(f"{key_where} does not match {cert_where} (different public keys)")
        self._key = key
        self._certificate = cert
        self.certificate_pem = cert.public_bytes(serialization.Encoding.PEM)
        self.subject = cert.subject.rfc4514_string()
        self.not_after = cert.not_valid_after_utc
        self._key_digest = _fingerprint(
            key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self._warn_expiry()

    def _warn_expiry(self) -> None:
        left = self.not_after - dt.datetime.now(dt.UTC)
        if left.total_seconds() <= 0:
            log.warning(
                "Anaplan certificate %s expired on %s; authentication will fail", self.subject, self.not_after
            )
        elif left < dt.timedelta(days=CERTIFICATE_EXPIRY_WARNING_DAYS):
            log.warning(
                "Anaplan certificate %s expires in %d day(s) (%s); renew it and register the new one",
                self.subject,
                left.days,
                self.not_after.isoformat(),
            )

    def sign(self, data: bytes) -> bytes:
        """RSA PKCS#1 v1.5 signature with SHA-512 over ``data``."""
        return self._key.sign(data, padding.PKCS1v15(), hashes.SHA512())

    def fingerprint(self) -> str:
        return _fingerprint("certificate", self.certificate_pem, self._key_digest)

    def __repr__(self) -> str:
        return f"CertificateCredentials(subject={self.subject!r}, format={self.format!r}, private_key=***)"


class OAuthCredentials(Credentials):
    """An OAuth client id and refresh token (from the device grant: ``airflow-anaplan oauth-register``).

    :param rotatable: the refresh token is single-use; each refresh returns a new one.
    :param on_rotate: called with the new refresh token right after each rotation (after ``store``).
    :param store: a :class:`~airflow_provider_anaplan.client.token_store.TokenStore` shared by every
        process using this registration (see ``token_store.py``). With a rotatable token and more
        than one process, it is what keeps the chain alive; without it the current token lives only in
        this process's memory.
    """

    kind = "oauth"

    def __init__(
        self,
        client_id: str,
        refresh_token: str | Secret,
        client_secret: str | Secret | None = None,
        rotatable: bool = False,
        on_rotate: Callable[[str], None] | None = None,
        store: TokenStore | None = None,
    ) -> None:
        self.client_id = _text(client_id, "client_id").strip()
        self.refresh_token = Secret(_text(refresh_token, "refresh_token").strip())
        self.client_secret = None if client_secret is None else Secret(_text(client_secret, "client_secret"))
        if not isinstance(rotatable, bool):
            raise AnaplanConfigError(f"rotatable must be True or False, got {rotatable!r}")
        if on_rotate is not None and not callable(on_rotate):
            raise AnaplanConfigError("on_rotate must be a callable taking the new refresh token")
        if store is not None and not (callable(getattr(store, "load", None)) and callable(getattr(store, "save", None))):
            raise AnaplanConfigError("store must be a TokenStore (with load() and save())")
        self.rotatable = rotatable
        self.on_rotate = on_rotate
        self.store = store

    def fingerprint(self) -> str:
        return self.fingerprint_for(self.refresh_token.get())

    def fingerprint_for(self, refresh_token: str) -> str:
        secret = self.client_secret.get() if self.client_secret else ""
        return _fingerprint("oauth", self.client_id, secret, refresh_token)

    def __repr__(self) -> str:
        return (
            f"OAuthCredentials(client_id={self.client_id!r}, rotatable={self.rotatable}, refresh_token=***)"
        )
