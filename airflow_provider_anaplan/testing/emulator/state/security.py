"""Security state: auth tokens, registered certificates, OAuth clients, device codes, refresh tokens."""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass, field


def new_secret(nbytes: int = 32) -> str:
    """A URL-safe random string (token values, codes)."""
    return secrets.token_urlsafe(nbytes)


@dataclass
class AuthToken:
    """An access token: an AnaplanAuthToken from ``/token/authenticate`` or an OAuth access token."""

    value: str
    user_id: str
    expires_at: float  # epoch seconds
    kind: str = "basic"  # basic | certificate | oauth
    token_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    refresh_token_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    revoked: bool = False

    def alive(self, now: float | None = None) -> bool:
        return not self.revoked and (now if now is not None else time.time()) < self.expires_at

    def token_info(self) -> dict[str, object]:
        return {
            "expiresAt": int(self.expires_at * 1000),
            "refreshTokenId": self.refresh_token_id,
            "tokenId": self.token_id,
            "tokenValue": self.value,
        }


@dataclass
class OAuthClient:
    """A registered OAuth client (device grant; ``client_secret`` makes it an auth-code style client)."""

    client_id: str
    rotatable: bool = False
    client_secret: str | None = None


@dataclass
class DeviceCode:
    """A pending device authorization."""

    device_code: str
    user_code: str
    client_id: str
    scope: str
    expires_at: float
    interval: float
    last_poll: float | None = None
    approved_user: str | None = None
    denied: bool = False
    used: bool = False


@dataclass
class RefreshToken:
    """An OAuth refresh token; rotatable ones die on first use."""

    value: str
    client_id: str
    user_id: str
    expires_at: float
    rotatable: bool
    dead: bool = False  # set when a rotatable token is exchanged (spent)
    issued_at: float = field(default_factory=time.time)

    @property
    def spent(self) -> bool:
        """A rotatable token that was already exchanged for a new one."""
        return self.rotatable and self.dead

    def alive(self, now: float | None = None) -> bool:
        return not self.dead and (now if now is not None else time.time()) < self.expires_at

    def to_admin(self, email: str | None) -> dict[str, object]:
        """The admin view (``GET /_emulator/oauth/refresh_tokens``)."""
        return {
            "refresh_token": self.value,
            "client_id": self.client_id,
            "user": email,
            "rotatable": self.rotatable,
            "alive": self.alive(),
            "spent": self.spent,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
        }


@dataclass
class SecurityState:
    """All credentials the emulator knows about."""

    tokens: dict[str, AuthToken] = field(default_factory=dict)
    certificates: dict[bytes, str] = field(default_factory=dict)  # certificate DER -> user id
    seen_payloads: set[bytes] = field(default_factory=set)  # v2 encodedData already accepted
    oauth_clients: dict[str, OAuthClient] = field(default_factory=dict)
    device_codes: dict[str, DeviceCode] = field(default_factory=dict)  # device_code -> DeviceCode
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
