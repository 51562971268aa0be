"""Shared OAuth token state: one current token pair per registration, visible to every process.

A rotatable Anaplan refresh token is single-use: whoever refreshes gets the only live successor. So
every process of a deployment (workers on several machines, the triggerer, ``dag.test()``, the CLI)
must read the *current* refresh token, and the access token that came with it, from one place.

* :class:`TokenState` is what is kept: refresh token, access token and its expiry, writer (host:pid).
* A :class:`RawStore` keeps one opaque string (an Airflow Variable, a file, memory).
* :class:`SealedTokenStore` turns a raw store into a :class:`TokenStore`: the state is encrypted with
  AES-256-GCM under a key derived (HKDF-SHA256) from the registration itself — client id, client
  secret and the refresh token the connection was registered with. Whoever can read the raw store but
  not the connection learns nothing; a state written for another registration does not decrypt and is
  ignored, so re-registering (a new token in the connection) starts a fresh chain by itself.
* :class:`MachineLock` serialises refreshes of one registration on one machine (``fcntl`` lock file);
  across machines the loser of a race re-reads the store (see ``tokens.py``).

Nothing here logs or formats a secret.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "TokenState",
    "TokenStore",
    "RawStore",
    "MemoryRawStore",
    "FileRawStore",
    "SealedTokenStore",
    "registration_id",
    "MachineLock",
]

log = logging.getLogger(__name__)

_FORMAT = "anaplan-oauth-v1"


@dataclass(frozen=True)
class TokenState:
    """The current token pair of one OAuth registration (epoch seconds, writer's clock)."""

    refresh_token: str = field(repr=False)
    access_token: str | None = field(default=None, repr=False)
    expires_at: float = 0.0
    issued_at: float = 0.0
    updated_at: float = 0.0
    writer: str = ""

    def to_json(self) -> str:
        return json.dumps(
            {
                "refresh_token": self.refresh_token,
                "access_token": self.access_token,
                "expires_at": self.expires_at,
                "issued_at": self.issued_at,
                "updated_at": self.updated_at,
                "writer": self.writer,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> TokenState:
        data = json.loads(text)
        refresh = data.get("refresh_token")
        if not isinstance(refresh, str) or not refresh:
            raise ValueError("no refresh token in the stored state")
        access = data.get("access_token")
        return cls(
            refresh_token=refresh,
            access_token=access if isinstance(access, str) and access else None,
            expires_at=float(data.get("expires_at") or 0.0),
            issued_at=float(data.get("issued_at") or 0.0),
            updated_at=float(data.get("updated_at") or 0.0),
            writer=str(data.get("writer") or ""),
        )


def writer_id() -> str:
    """``host:pid`` of this process (diagnostics only)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class TokenStore(Protocol):
    """Where the current :class:`TokenState` of one registration lives."""

    #: a stable, non-secret name for log lines and lock files
    name: str

    def load(self) -> TokenState | None:
        """The stored state, or None when there is none for this registration."""
        ...

    def save(self, state: TokenState) -> None:
        """Replace the stored state (raise on failure; callers retry)."""
        ...


class RawStore(Protocol):
    """One opaque string, shared by every process that should see the same tokens."""

    name: str

    def read(self) -> str | None: ...

    def write(self, value: str) -> None: ...


class MemoryRawStore:
    """A raw store in this process's memory (tests; single-process use)."""

    def __init__(self, name: str = "memory") -> None:
        self.name = name
        self.value: str | None = None
        self._lock = threading.Lock()

    def read(self) -> str | None:
        with self._lock:
            return self.value

    def write(self, value: str) -> None:
        with self._lock:
            self.value = value


class FileRawStore:
    """A raw store in a local file (mode 0600, replaced atomically): shared by the processes of one
    machine only."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.name = f"file {self.path}"

    def read(self) -> str | None:
        try:
            return self.path.read_text()
        except FileNotFoundError:
            return None

    def write(self, value: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(value)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def registration_id(client_id: str, origin_refresh_token: str) -> str:
    """A short, non-reversible id of one registration (client id + the refresh token it was issued).

    Used to name the shared state (e.g. the Airflow Variable); it reveals nothing usable.
    """
    digest = hashlib.sha256(f"anaplan-oauth-registration\0{client_id}\0{origin_refresh_token}".encode())
    return digest.hexdigest()[:20]


class SealedTokenStore:
    """A :class:`TokenStore` over a :class:`RawStore`, encrypted with a key only the connection yields.

    :param raw: where the sealed string is kept.
    :param client_id: the OAuth client id.
    :param origin_refresh_token: the refresh token the connection was registered with (it stays in the
        connection; the current one lives here).
    :param client_secret: the client secret, if the client has one (mixed into the key).
    """

    def __init__(
        self, raw: RawStore, *, client_id: str, origin_refresh_token: str, client_secret: str | None = None
    ) -> None:
        self.raw = raw
        self.name = raw.name
        self.registration = registration_id(client_id, origin_refresh_token)
        material = f"{client_id}\0{client_secret or ''}\0{origin_refresh_token}".encode()
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_FORMAT.encode()).derive(material)
        self._aead = AESGCM(key)

    def _aad(self) -> bytes:
        return f"{_FORMAT}:{self.registration}".encode()

    def seal(self, state: TokenState) -> str:
        nonce = os.urandom(12)
        box = self._aead.encrypt(nonce, state.to_json().encode(), self._aad())
        return json.dumps(
            {
                "format": _FORMAT,
                "registration": self.registration,
                "writer": state.writer,
                "updated_at": round(state.updated_at, 3),
                "sealed": base64.b64encode(nonce + box).decode(),
            }
        )

    def unseal(self, text: str) -> TokenState | None:
        try:
            outer = json.loads(text)
            if outer.get("format") != _FORMAT or outer.get("registration") != self.registration:
                return None
            blob = base64.b64decode(outer["sealed"])
            plain = self._aead.decrypt(blob[:12], blob[12:], self._aad())
            return TokenState.from_json(plain.decode())
        except (InvalidTag, ValueError, KeyError, TypeError, AttributeError):
            log.warning(
                "The stored Anaplan OAuth token state in %s belongs to another registration or is "
                "damaged; ignoring it",
                self.name,
            )
            return None

    def load(self) -> TokenState | None:
        text = self.raw.read()
        if not text:
            return None
        return self.unseal(text)

    def save(self, state: TokenState) -> None:
        self.raw.write(self.seal(state))


def _lock_dir() -> Path:
    base = os.environ.get("ANAPLAN_TOKEN_LOCK_DIR") or os.path.join(
        tempfile.gettempdir(), "anaplan-token-locks"
    )
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


class MachineLock:
    """An exclusive lock file per registration on this machine (``fcntl.flock``).

    Serialises the refreshes of one registration among the processes of one machine. Blocking calls:
    use them from a worker thread, never on an event loop. Waiting is bounded: after ``timeout``
    seconds :meth:`acquire` returns False and the caller goes on without it (the refresh-race rule in
    ``tokens.py`` keeps that correct, only less economical).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._fd: int | None = None

    def acquire(self, timeout: float = 60.0) -> bool:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return False
        safe = hashlib.sha256(self.name.encode()).hexdigest()[:24]
        try:
            fd = os.open(_lock_dir() / f"{safe}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            log.debug("No token lock file (%s); refreshing without the machine lock", exc.strerror)
            return False
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._fd = fd
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    log.warning("Waited %.0f s for the token refresh lock; refreshing without it", timeout)
                    return False
                time.sleep(0.02)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            import fcntl

            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
