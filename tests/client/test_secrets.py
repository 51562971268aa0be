"""No secret ever reaches a log line, an exception message or a repr."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_anaplan.client import (
    AnaplanAsyncClient,
    BasicCredentials,
    CertificateCredentials,
    OAuthCredentials,
    clear_token_cache,
)
from airflow_provider_anaplan.exceptions import AnaplanError

PASSWORD = "SENTINEL-PASSWORD-7f3a"
PASSPHRASE = "SENTINEL-PASSPHRASE-91c2"
CLIENT_SECRET = "SENTINEL-CLIENT-SECRET-5d0e"


async def test_no_secret_in_logs_or_errors(make_config, anaplan_emulator, make_cert, caplog) -> None:
    admin = anaplan_emulator.admin
    cert_pem, key_pem = make_cert(passphrase=PASSPHRASE)
    key_body = key_pem.decode().splitlines()[3]  # a line of the encrypted key material
    admin.register_certificate("demo@example.com", cert_pem)
    admin.register_oauth_client("secret-client", rotatable=True, client_secret=CLIENT_SECRET)
    refresh = admin.issue_oauth_tokens("secret-client")["refresh_token"]
    rotated: list[str] = []
    seen: list[str] = []

    def record(exc: BaseException) -> None:
        seen.extend([str(exc), repr(exc), repr(getattr(exc, "__cause__", None))])

    with caplog.at_level(logging.DEBUG):
        # 1. Wrong password.
        async with AnaplanAsyncClient(make_config(BasicCredentials("demo@example.com", PASSWORD))) as client:
            with pytest.raises(AnaplanError) as info:
                await client.list_files()
            record(info.value)
            seen.append(repr(client.config))
        # 2. Wrong passphrase and missing passphrase.
        for passphrase in ("not-" + PASSPHRASE, None):
            with pytest.raises(AnaplanError) as info:
                CertificateCredentials(cert_pem, key_pem, passphrase=passphrase)
            record(info.value)
        # 3. Certificate that works, with 401 replays and retries logged.
        creds = CertificateCredentials(cert_pem, key_pem, passphrase=PASSPHRASE)
        seen.append(repr(creds))
        admin.add_fault(method="GET", path_regex="/files$", status=503, count=1)
        async with AnaplanAsyncClient(make_config(creds)) as client:
            await client.list_files()
            admin.expire_tokens()
            await client.list_files()
        # 4. OAuth with rotation, then a dead refresh token.
        oauth = OAuthCredentials(
            "secret-client", refresh, client_secret=CLIENT_SECRET, rotatable=True, on_rotate=rotated.append
        )
        seen.append(repr(oauth))
        async with AnaplanAsyncClient(make_config(oauth)) as client:
            await client.list_files()
        clear_token_cache()
        dead = OAuthCredentials("secret-client", refresh, client_secret=CLIENT_SECRET, rotatable=True)
        async with AnaplanAsyncClient(make_config(dead)) as client:
            with pytest.raises(AnaplanError) as info:
                await client.list_files()
            record(info.value)

    assert rotated, "the OAuth flow should have rotated the refresh token"
    sentinels = [PASSWORD, PASSPHRASE, CLIENT_SECRET, key_body, refresh, rotated[0]]
    haystacks = [caplog.text, *seen, *(r.getMessage() for r in caplog.records)]
    for secret in sentinels:
        for text in haystacks:
            assert secret not in text, f"a secret leaked into: {text[:200]}"
