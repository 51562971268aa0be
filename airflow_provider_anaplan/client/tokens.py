"""Process-wide token cache and the per-client TokenManager.

Entries are keyed by a credential fingerprint (an HMAC under a per-process key, never the secret) plus
the auth/OAuth URL, so every client and trigger of one connection shares one token and one refresh.
A refresh is single-flight across event loops: one ``asyncio.Lock`` per loop lets one coroutine per loop
contend for the entry's ``threading.Lock`` (taken without blocking the loop). While a refresh that is
merely *proactive* runs, other requests keep using the still-valid token; they only wait when there is
no usable token.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable

from airflow_provider_anaplan.client.auth import Token, authenticate, oauth_refresh, refresh_token
from airflow_provider_anaplan.client.config import ClientConfig
from airflow_provider_anaplan.client.credentials import OAuthCredentials, Secret
from airflow_provider_anaplan.client.http import HttpSession
from airflow_provider_anaplan.exceptions import AnaplanAuthError, AnaplanError

__all__ = ["TokenCache", "TokenEntry", "TokenManager", "TOKEN_CACHE", "clear_token_cache", "on_new_token"]

log = logging.getLogger(__name__)
_LISTENERS: list[Callable[[str], None]] = []


def on_new_token(callback: Callable[[str], None]) -> Callable[[], None]:
    """Call ``callback(token_value)`` whenever this process obtains a new access token.

    For log maskers (e.g. Airflow's ``mask_secret``). Registering the same callback twice is a no-op;
    a failing callback is logged (by exception type only) and ignored. Returns an unregister function.
    """
    if callback not in _LISTENERS:
        _LISTENERS.append(callback)

    def unregister() -> None:
        if callback in _LISTENERS:
            _LISTENERS.remove(callback)

    return unregister


def _announce(token: Token) -> None:
    for callback in list(_LISTENERS):
        try:
            callback(token.value)
        except Exception as exc:
            log.warning("A token listener failed (%s)", type(exc).__name__)


class TokenEntry:
    """One identity's token state, shared by every client using that identity in this process."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.token: Token | None = None
        self.refresh_token: str | None = None  # current OAuth refresh token once rotated
        self.refreshing = False
        self.lock = threading.Lock()
        self._loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._locks_guard = threading.Lock()

    def loop_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._locks_guard:
            lock = self._loop_locks.get(loop)
            if lock is None:
                lock = self._loop_locks[loop] = asyncio.Lock()
            return lock

    def __repr__(self) -> str:
        return f"TokenEntry(key={self.key[:12]}…, has_token={self.token is not None})"


class TokenCache:
    """Thread-safe map of fingerprint keys to :class:`TokenEntry`."""

    def __init__(self) -> None:
        self._entries: dict[str, TokenEntry] = {}
        self._lock = threading.Lock()

    def entry(self, key: str) -> TokenEntry:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = TokenEntry(key)
            return entry

    def alias(self, key: str, entry: TokenEntry) -> None:
        """Make ``key`` (e.g. the fingerprint of a rotated refresh token) resolve to ``entry``."""
        with self._lock:
            self._entries[key] = entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def clear_after_fork(self) -> None:
        """Start empty, with fresh locks (a parent thread may have held one at fork time)."""
        self._entries = {}
        self._lock = threading.Lock()


TOKEN_CACHE = TokenCache()
# A forked child (Airflow task runner) must not inherit locks possibly held mid-refresh by a parent thread.
os.register_at_fork(after_in_child=TOKEN_CACHE.clear_after_fork)


def clear_token_cache() -> None:
    """Forget every cached token in this process (tests; after rotating credentials)."""
    TOKEN_CACHE.clear()


class TokenManager:
    """Supplies the ``Authorization`` header for one client; implements the HttpSession TokenSource."""

    def __init__(self, config: ClientConfig, session: HttpSession, cache: TokenCache = TOKEN_CACHE) -> None:
        self._config = config
        self._creds = config.credentials
        self._session = session
        self._cache = cache
        self._oauth = isinstance(self._creds, OAuthCredentials)
        self._url = config.oauth_url if self._oauth else config.auth_url
        self._entry = cache.entry(self._key(self._creds.fingerprint()))

    def _key(self, fingerprint: str) -> str:
        return f"{self._creds.kind}:{fingerprint}@{self._url}"

    async def authorization(self) -> tuple[str, object]:
        token = await self.get_token()
        return token.header, token

    async def invalidate(self, handle: object) -> None:
        """The API refused ``handle`` (a :class:`Token`): drop it unless someone already replaced it."""
        entry = self._entry
        current = entry.token
        if current is not None and isinstance(handle, Token) and current.value == handle.value:
            entry.token = None

    async def get_token(self) -> Token:
        """A usable token: cached, refreshed ahead of expiry, or freshly obtained (single flight)."""
        entry = self._entry
        token = entry.token
        now = time.time()
        if token is not None and not token.due(self._config.token_refresh_lead, now):
            return token
        if token is not None and entry.refreshing and token.usable(now):
            return token  # a proactive refresh is under way elsewhere; this token still works
        return await self._renew(entry)

    async def _renew(self, entry: TokenEntry) -> Token:
        async with entry.loop_lock():
            # Another loop/thread may hold the entry: poll for it (cancellation-safe, never blocks the loop).
            while not entry.lock.acquire(blocking=False):  # noqa: ASYNC110
                await asyncio.sleep(0.005)
            try:
                token = entry.token
                if token is not None and not token.due(self._config.token_refresh_lead):
                    return token  # refreshed while we waited
                entry.refreshing = True
                try:
                    entry.token = await self._obtain(entry, token)
                    if token is None or entry.token.value != token.value:
                        _announce(entry.token)
                except AnaplanAuthError:
                    raise
                except AnaplanError as exc:  # network trouble during a proactive refresh
                    if token is None or not token.usable():
                        raise
                    log.warning(
                        "Refreshing the Anaplan token failed (%s); the current one is still valid", exc
                    )
                    return token
                return entry.token
            finally:
                entry.refreshing = False
                entry.lock.release()

    async def _obtain(self, entry: TokenEntry, current: Token | None) -> Token:
        creds = self._creds
        if isinstance(creds, OAuthCredentials):
            return await self._oauth_refresh(entry, creds)
        if current is not None and current.usable():
            try:
                token = await refresh_token(self._session, self._url, current)
                log.debug("Refreshed the Anaplan token ahead of expiry")
                return token
            except AnaplanAuthError:
                log.info("The Anaplan token could not be refreshed; authenticating again")
        log.debug("Authenticating to Anaplan (%s)", creds.kind)
        return await authenticate(self._session, self._url, creds)  # type: ignore[arg-type]

    async def _oauth_refresh(self, entry: TokenEntry, creds: OAuthCredentials) -> Token:
        old = entry.refresh_token or creds.refresh_token.get()
        token, new = await oauth_refresh(self._session, self._url, creds, old)
        if new and new != old:
            entry.refresh_token = new
            creds.refresh_token = Secret(new)
            self._cache.alias(self._key(creds.fingerprint_for(new)), entry)
            if creds.on_rotate is not None:
                try:  # persist right away: the old refresh token is already dead
                    await asyncio.to_thread(creds.on_rotate, new)
                except Exception as exc:  # never let the token reach a log line
                    log.error(
                        "on_rotate failed (%s): the new OAuth refresh token was NOT persisted; "
                        "it is only held in memory by this process",
                        type(exc).__name__,
                    )
            elif creds.rotatable:
                log.warning("The OAuth refresh token rotated but no on_rotate callback persists it")
        return token
