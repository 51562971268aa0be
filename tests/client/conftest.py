"""Fixtures for the client core tests: configs pointed at the in-process emulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_anaplan.client import (
    BasicCredentials,
    ClientConfig,
    Credentials,
    RetryPolicy,
    clear_token_cache,
)
from airflow_provider_anaplan.testing.certificates import make_certificate as new_certificate
from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle

FAST_RETRY = RetryPolicy(max_attempts=4, backoff_initial=0.02, backoff_max=0.1, retry_after_max=5.0)


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> Iterator[None]:
    """Each test starts without cached tokens or start records (the emulator is reset per test too)."""
    from airflow_provider_anaplan.client.coordination import PROCESS_COORDINATION

    clear_token_cache()
    PROCESS_COORDINATION.__init__()
    yield
    clear_token_cache()
    PROCESS_COORDINATION.__init__()


@pytest.fixture
def make_config(anaplan_emulator: EmulatorHandle) -> Callable[..., ClientConfig]:
    """``make_config(credentials=None, **options)`` -> ClientConfig for the emulator's default seed."""

    def make(credentials: Credentials | None = None, **options: Any) -> ClientConfig:
        values: dict[str, Any] = {
            "workspace_id": anaplan_emulator.workspace_id,
            "model_id": anaplan_emulator.model_id,
            "api_url": anaplan_emulator.api_url,
            "auth_url": anaplan_emulator.auth_url,
            "oauth_url": anaplan_emulator.oauth_url,
            "retry": FAST_RETRY,
            "poll_interval": 0.1,
            "timeout": 20.0,
        }
        values.update(options)
        creds = credentials or BasicCredentials(anaplan_emulator.user, anaplan_emulator.password)
        return ClientConfig(credentials=creds, **values)

    return make


def make_certificate(
    *, passphrase: str | None = None, days: int = 365, key_size: int = 2048
) -> tuple[bytes, bytes]:
    """A fresh RSA key and self-signed certificate (PEM bytes), generated at test time."""
    cert = new_certificate(passphrase=passphrase, days=days, key_size=key_size)
    return cert.certificate_pem.encode(), cert.private_key_pem.encode()


@pytest.fixture
def make_cert() -> Callable[..., tuple[bytes, bytes]]:
    """``make_cert(passphrase=None, days=365)`` -> (certificate PEM, private key PEM)."""
    return make_certificate
