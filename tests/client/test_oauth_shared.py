"""Rotatable OAuth refresh tokens shared by several processes and machines (issue: exactly once).

Targeted faults: a second process rotating the shared credential, two processes refreshing at the same
instant, a long-lived process (the triggerer) holding a token another process already spent, a reply
lost *after* Anaplan rotated, a store that fails once. Separate machines are separate OS processes with
separate lock directories; the shared raw store is a file standing in for the Airflow Variable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_anaplan.client import AnaplanClient, OAuthCredentials
from airflow_provider_anaplan.client.token_store import (
    FileRawStore,
    MemoryRawStore,
    SealedTokenStore,
    TokenState,
)
from airflow_provider_anaplan.client.tokens import clear_token_cache
from airflow_provider_anaplan.exceptions import AnaplanReauthorizationRequired, AnaplanRefreshOutcomeUnknown

WORKER = Path(__file__).resolve().parents[1] / "reliability" / "oauth_process.py"
CLIENT = "rot-shared"


def _register(emulator: Any, client_id: str = CLIENT) -> str:
    emulator.admin.register_oauth_client(client_id, rotatable=True)
    return emulator.admin.issue_oauth_tokens(client_id)["refresh_token"]


def _store(raw: Any, origin: str, client_id: str = CLIENT) -> SealedTokenStore:
    return SealedTokenStore(raw, client_id=client_id, origin_refresh_token=origin)


def _refreshes(emulator: Any) -> int:
    return emulator.admin.counters()["authentications"].get("oauth_refresh", 0)


def _machines(emulator: Any, tmp_path: Path, origin: str, count: int, **spec: Any) -> list[dict[str, Any]]:
    """Run ``count`` worker processes ("machines") at once; return their JSON reports."""
    base = {
        "api_url": emulator.api_url,
        "oauth_url": emulator.oauth_url,
        "workspace_id": emulator.workspace_id,
        "model_id": emulator.model_id,
        "client_id": CLIENT,
        "refresh_token": origin,
        "state_path": str(tmp_path / "shared-state.json"),
        "start_at": time.time() + 2.0,
        **spec,
    }
    procs = []
    for index in range(count):
        env = {**os.environ, "ANAPLAN_TOKEN_LOCK_DIR": str(tmp_path / f"locks-{index}")}
        procs.append(
            subprocess.Popen(
                [sys.executable, str(WORKER), json.dumps(base)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return reports


def test_two_machines_rotating_one_registration_never_fail(anaplan_emulator: Any, tmp_path: Path) -> None:
    """Two processes on "different machines" (no shared lock), access tokens of 1.5 s: the chain
    rotates many times, every refresh race is lost by someone, and no call fails."""
    origin = _register(anaplan_emulator)
    anaplan_emulator.admin.configure(token_ttl_seconds=1.5)
    reports = _machines(anaplan_emulator, tmp_path, origin, 2, duration=8.0, interval=0.05, lead=0.5)
    errors = [e for r in reports for e in r["errors"]]
    assert errors == [], errors[:5]
    assert all(r["ok"] > 20 for r in reports)
    assert _refreshes(anaplan_emulator) >= 5  # the chain really rotated, shared by both


def test_simultaneous_refresh_loser_takes_the_winners_tokens(anaplan_emulator: Any, tmp_path: Path) -> None:
    """Both processes refresh with the same token at once; Anaplan processes the first one to arrive
    late (held 1.5 s), so it is refused as spent. The loser must pick up the winner's pair from the store
    (before the fix it failed with "run oauth-register")."""
    origin = _register(anaplan_emulator)
    anaplan_emulator.admin.add_fault(method="POST", path_regex="/oauth/token$", delay_ms=1500, count=1)
    reports = _machines(anaplan_emulator, tmp_path, origin, 2, duration=0.0, interval=0.0)
    assert [r["errors"] for r in reports] == [[], []]
    assert _refreshes(anaplan_emulator) == 1  # one grant succeeded; the other was refused as spent
    assert anaplan_emulator.admin.counters()["auth_failures"].get("oauth_refresh", 0) >= 1


def test_long_lived_process_holding_a_spent_token_recovers(make_config: Any, anaplan_emulator: Any) -> None:
    """A triggerer-like client keeps its refresh token in memory while "other processes" rotate it
    twice; when its access token dies it continues from the store instead of failing."""
    origin = _register(anaplan_emulator)
    raw = MemoryRawStore()

    def client() -> AnaplanClient:
        creds = OAuthCredentials(CLIENT, origin, rotatable=True, store=_store(raw, origin))
        return AnaplanClient(make_config(creds))

    triggerer = client()
    triggerer.get_model()
    from airflow_provider_anaplan.client import tokens

    held = tokens.TOKEN_CACHE
    for _ in range(2):  # two other processes, each after the access tokens expired
        tokens.TOKEN_CACHE = tokens.TokenCache()
        anaplan_emulator.admin.expire_tokens("access")
        with client() as other:
            other.get_model()
    tokens.TOKEN_CACHE = held
    anaplan_emulator.admin.expire_tokens("access")
    try:
        assert triggerer.get_model()["id"] == anaplan_emulator.model_id  # 401 -> store -> refresh
    finally:
        triggerer.close()
    assert _refreshes(anaplan_emulator) == 4


@pytest.mark.parametrize("lost", [{"status": 503, "when": "after"}, {"drop": True, "when": "after"}])
def test_lost_refresh_reply_is_not_resent(make_config: Any, anaplan_emulator: Any, lost: dict[str, Any]) -> None:
    """Anaplan rotated, the reply was lost: the spent token must not be re-sent (that killed the chain),
    and the error says the outcome is unknown."""
    origin = _register(anaplan_emulator)
    anaplan_emulator.admin.add_fault(method="POST", path_regex="/oauth/token$", count=1, **lost)
    creds = OAuthCredentials(CLIENT, origin, rotatable=True, store=_store(MemoryRawStore(), origin))
    with AnaplanClient(make_config(creds)) as client, pytest.raises(AnaplanRefreshOutcomeUnknown) as info:
        client.get_model()
    message = str(info.value)
    assert "reply was lost" in message and "not sent again" in message and origin not in message
    counters = anaplan_emulator.admin.counters()
    assert counters["authentications"].get("oauth_refresh", 0) == 1  # processed once ...
    assert counters["auth_failures"].get("oauth_refresh", 0) == 0  # ... and never re-sent


def test_refresh_refused_before_processing_is_retried(make_config: Any, anaplan_emulator: Any) -> None:
    """A 429 provably never reached the grant: it is retried and succeeds."""
    origin = _register(anaplan_emulator)
    anaplan_emulator.admin.add_fault(method="POST", path_regex="/oauth/token$", status=429, retry_after=0, count=2)
    creds = OAuthCredentials(CLIENT, origin, rotatable=True, store=_store(MemoryRawStore(), origin))
    with AnaplanClient(make_config(creds)) as client:
        assert client.get_model()["id"] == anaplan_emulator.model_id


class FlakyStore(MemoryRawStore):
    """A raw store whose first ``failures`` writes raise."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.writes = 0

    def write(self, value: str) -> None:
        self.writes += 1
        if self.failures > 0:
            self.failures -= 1
            raise OSError("store unavailable")
        super().write(value)


def test_a_store_that_fails_once_still_gets_the_rotated_token(make_config: Any, anaplan_emulator: Any) -> None:
    origin = _register(anaplan_emulator)
    raw = FlakyStore(failures=1)
    creds = OAuthCredentials(CLIENT, origin, rotatable=True, store=_store(raw, origin))
    with AnaplanClient(make_config(creds)) as client:
        client.get_model()
    assert raw.writes == 2
    clear_token_cache()  # another process: it must find the rotated pair
    anaplan_emulator.admin.expire_tokens("access")
    creds = OAuthCredentials(CLIENT, origin, rotatable=True, store=_store(raw, origin))
    with AnaplanClient(make_config(creds)) as client:
        assert client.get_model()["id"] == anaplan_emulator.model_id


def test_dead_token_with_nothing_newer_says_register_again(make_config: Any, anaplan_emulator: Any) -> None:
    origin = _register(anaplan_emulator)
    anaplan_emulator.admin.expire_tokens("refresh")
    creds = OAuthCredentials(CLIENT, origin, rotatable=True, store=_store(MemoryRawStore(), origin))
    with AnaplanClient(make_config(creds, timeout=1.0)) as client, pytest.raises(AnaplanReauthorizationRequired) as info:
        client.get_model()
    assert "oauth-register" in str(info.value) and "shared token store" in str(info.value)


def test_sealed_state_is_useless_without_the_connection(anaplan_emulator: Any, tmp_path: Path) -> None:
    origin = _register(anaplan_emulator)
    raw = FileRawStore(tmp_path / "state.json")
    state = TokenState(refresh_token="rt-" + "x" * 40, access_token="at-" + "y" * 40, expires_at=time.time() + 60)
    _store(raw, origin).save(state)
    text = (tmp_path / "state.json").read_text()
    assert "x" * 40 not in text and "y" * 40 not in text
    assert oct((tmp_path / "state.json").stat().st_mode & 0o777) == "0o600"
    assert _store(raw, origin).load() == state
    assert _store(raw, "another-registration").load() is None  # re-registered: a fresh chain
