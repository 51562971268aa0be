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
from airflow_provider_anaplan.client.blocking import is_blocked_in_sync_call
from airflow_provider_anaplan.client.config import ClientConfig
from airflow_provider_anaplan.client.credentials import OAuthCredentials, Secret
from airflow_provider_anaplan.client.http import HttpSession
from airflow_provider_anaplan.client.token_store import MachineLock, TokenState, TokenStore, writer_id
from airflow_provider_anaplan.exceptions import (
    AnaplanAuthError,
    AnaplanError,
    AnaplanReauthorizationRequired,
    AnaplanTransportError,
)

__all__ = ["TokenCache", "TokenEntry", "TokenManager", "TOKEN_CACHE", "clear_token_cache", "on_new_token"]

log = logging.getLogger(__name__)
#: refreshes lost in a row to other processes before giving up
_MAX_RACE_ROUNDS = 5
_LISTENERS: list[Callable[[str], None]] = []


def on_new_token(callback: Callable[[str], None]) -> Callable[[], None]:
    """Call ``callback(value)`` whenever this process obtains a new access or refresh token.

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
    _announce_secret(token.value)


def _announce_secret(value: str) -> None:
    """Hand a secret this process just learned (access or refresh token) to every listener."""
    for callback in list(_LISTENERS):
        try:
            callback(value)
        except Exception as exc:
            log.warning("A token listener failed (%s)", type(exc).__name__)


class TokenEntry:
    """One identity's token state, shared by every client using that identity in this process."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.token: Token | None = None
        self.refresh_token: str | None = None  # current OAuth refresh token once rotated
        self.holder: int | None = None  # thread id holding ``lock`` (to detect a sync-in-async deadlock)
        self.rejected: str | None = None  # the last access token the API answered 401 to
        self.rejected_at = 0.0
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
        if isinstance(handle, Token):
            # Never take that token, or one issued before this refusal, back from a shared store: the
            # server may have revoked every token it had issued (logout, expiry, clock trouble).
            entry.rejected = handle.value
            entry.rejected_at = time.time()
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
            waited_until = time.monotonic() + self._max_wait()
            while not entry.lock.acquire(blocking=False):
                if is_blocked_in_sync_call(entry.holder):
                    # The holder is this loop's own thread, blocked in a sync call that waits for us.
                    return await self._bypass(entry)
                if time.monotonic() > waited_until:
                    raise AnaplanTransportError(
                        f"Waited {self._max_wait():.0f} s for another refresh of the same Anaplan identity "
                        "in this process; giving up"
                    )
                await asyncio.sleep(0.005)
            entry.holder = threading.get_ident()
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
                entry.holder = None
                entry.lock.release()

    def _max_wait(self) -> float:
        """Bound on waiting for another refresh of this identity (all its attempts, plus margin)."""
        return self._config.timeout * self._config.retry.max_attempts + 30.0

    async def _bypass(self, entry: TokenEntry) -> Token:
        """Obtain a token without the entry lock: its holder is blocked until we return."""
        creds = self._creds
        if isinstance(creds, OAuthCredentials) and creds.rotatable:
            raise AnaplanError(
                "A blocking AnaplanClient call was made from a coroutine while an async client of the same "
                "rotatable OAuth identity is refreshing on that thread: a second refresh would spend the "
                "refresh token. Use the async client in coroutines (or run the sync call in a thread)."
            )
        token = await self._obtain(entry, None)
        entry.token = token
        _announce(token)
        return token

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
        store = creds.store
        if store is None:
            token, _ = await self._oauth_grant(entry, creds, entry.refresh_token or creds.refresh_token.get())
            return token
        lock = MachineLock(f"{store.name}:{self._key(creds.fingerprint())}")
        held = await asyncio.to_thread(lock.acquire, self._config.timeout)
        try:
            return await self._oauth_refresh_shared(entry, creds, store)
        finally:
            if held:
                await asyncio.to_thread(lock.release)

    async def _oauth_refresh_shared(
        self, entry: TokenEntry, creds: OAuthCredentials, store: TokenStore
    ) -> Token:
        """Refresh through the shared store: use a token another process already obtained, else
        refresh with the current stored refresh token; a lost race re-reads the store."""
        state = await self._load_state(store)
        if state is not None:
            self._adopt(entry, creds, state)
            shared = _token_from_state(state)
            if (
                shared is not None
                and _trusted(entry, shared)
                and not shared.due(self._config.token_refresh_lead)
            ):
                log.debug("Using the Anaplan access token another process obtained (%s)", state.writer)
                return shared
        used = entry.refresh_token or creds.refresh_token.get()
        for _ in range(_MAX_RACE_ROUNDS):
            try:
                token, new = await self._oauth_grant(entry, creds, used)
            except AnaplanReauthorizationRequired as refused:
                newer = await self._await_newer(store, used)
                if newer is None:
                    raise AnaplanReauthorizationRequired(
                        f"{refused} (no newer refresh token appeared in the shared token store {store.name} "
                        f"within {self._race_wait():.0f} s)",
                        status_code=refused.status_code,
                        anaplan_message=refused.anaplan_message,
                        method=refused.method,
                        path=refused.path,
                    ) from None
                log.info(
                    "Another process (%s) refreshed the Anaplan OAuth token first; using its tokens",
                    newer.writer or "unknown",
                )
                self._adopt(entry, creds, newer)
                shared = _token_from_state(newer)
                if shared is not None and _trusted(entry, shared) and shared.usable():
                    return shared
                used = newer.refresh_token
                continue
            state = TokenState(
                refresh_token=new or used,
                access_token=token.value,
                expires_at=token.expires_at,
                issued_at=token.issued_at,
                updated_at=time.time(),
                writer=writer_id(),
            )
            await self._save_state(store, state)
            if new and new != used:
                await _rotated(creds, new)
            return token
        raise AnaplanReauthorizationRequired(
            f"Anaplan OAuth refresh for client {creds.client_id}: lost {_MAX_RACE_ROUNDS} refresh races in a "
            "row; the tokens in the shared store keep being spent before they can be used"
        )

    def _race_wait(self) -> float:
        # The winner of a race was answered before us; it only has to receive its reply and store it.
        return max(3.0, min(15.0, self._config.timeout / 4))

    async def _load_state(self, store: TokenStore) -> TokenState | None:
        for attempt in range(1, 4):
            try:
                return await asyncio.to_thread(store.load)
            except Exception as exc:
                if attempt == 3:
                    log.warning(
                        "Reading the shared Anaplan token store %s failed (%s); using this process's tokens",
                        store.name,
                        type(exc).__name__,
                    )
                    return None
                await asyncio.sleep(0.2 * attempt)
        return None

    async def _await_newer(self, store: TokenStore, used: str) -> TokenState | None:
        """After a refusal: wait (bounded) for another process to publish the successor of ``used``."""
        deadline = time.monotonic() + self._race_wait()
        delay = 0.1
        while True:
            state = await self._load_state(store)
            if state is not None and state.refresh_token != used:
                return state
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(delay)
            delay = min(1.0, delay * 2)

    async def _save_state(self, store: TokenStore, state: TokenState) -> None:
        """Publish a new state; a store that fails is retried (the previous token is already spent)."""
        attempts = 6
        for attempt in range(1, attempts + 1):
            try:
                await asyncio.to_thread(store.save, state)
                if attempt > 1:
                    log.info(
                        "Stored the rotated Anaplan OAuth tokens in %s after %d attempts", store.name, attempt
                    )
                return
            except Exception as exc:
                if attempt == attempts:
                    log.error(
                        "Storing the rotated Anaplan OAuth refresh token in %s failed %d times (%s): only "
                        "this process holds it now; other processes will fail to refresh until it is stored",
                        store.name,
                        attempts,
                        type(exc).__name__,
                    )
                    return
                delay = min(5.0, 0.25 * 2 ** (attempt - 1))
                log.warning(
                    "Storing the rotated Anaplan OAuth tokens in %s failed (%s); retry %d/%d in %.1f s",
                    store.name,
                    type(exc).__name__,
                    attempt,
                    attempts - 1,
                    delay,
                )
                await asyncio.sleep(delay)

    def _adopt(self, entry: TokenEntry, creds: OAuthCredentials, state: TokenState) -> None:
        """Make ``state`` this process's current refresh token (and its access token, if newer)."""
        if state.access_token:
            _announce_secret(state.access_token)
        if state.refresh_token != (entry.refresh_token or creds.refresh_token.get()):
            _announce_secret(state.refresh_token)
            entry.refresh_token = state.refresh_token
            creds.refresh_token = Secret(state.refresh_token)
            self._cache.alias(self._key(creds.fingerprint_for(state.refresh_token)), entry)

    async def _oauth_grant(
        self, entry: TokenEntry, creds: OAuthCredentials, old: str
    ) -> tuple[Token, str | None]:
        """One refresh grant with ``old``; records and reports a rotation."""
        token, new = await oauth_refresh(self._session, self._url, creds, old)
        if new and new != old:
            _announce_secret(new)
            entry.refresh_token = new
            creds.refresh_token = Secret(new)
            self._cache.alias(self._key(creds.fingerprint_for(new)), entry)
            if creds.store is None:
                await _rotated(creds, new)
        return token, new


async def _rotated(creds: OAuthCredentials, new: str) -> None:
    """Tell ``on_rotate`` (after the shared store, if any, has the new token)."""
    if creds.on_rotate is not None:
        try:
            await asyncio.to_thread(creds.on_rotate, new)
        except Exception as exc:  # never let the token reach a log line
            log.error("on_rotate failed (%s) for the new OAuth refresh token", type(exc).__name__)
    elif creds.rotatable and creds.store is None:
        log.warning(
            "The OAuth refresh token rotated and no token store shares it: other processes using this "
            "registration will fail to refresh"
        )


def _trusted(entry: TokenEntry, token: Token) -> bool:
    """A shared access token is usable unless the API refused it, or refused one issued after it."""
    return token.value != entry.rejected and token.issued_at > entry.rejected_at


def _token_from_state(state: TokenState) -> Token | None:
    if not state.access_token:
        return None
    return Token(
        value=state.access_token,
        scheme="Bearer",
        expires_at=state.expires_at,
        issued_at=state.issued_at or state.updated_at,
    )
