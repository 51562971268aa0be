"""Authentication and token lifecycle against the emulator over real HTTP."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from airflow_provider_anaplan.client import (
    AnaplanAsyncClient,
    AnaplanClient,
    BasicCredentials,
    CertificateCredentials,
    OAuthCredentials,
    poll_device_token,
    start_device_authorization,
)
from airflow_provider_anaplan.client.auth import certificate_payload
from airflow_provider_anaplan.client.tokens import on_new_token
from airflow_provider_anaplan.exceptions import (
    AnaplanAuthError,
    AnaplanReauthorizationRequired,
    AnaplanUnauthorizedError,
)

USER = "demo@example.com"


def auths(emulator) -> dict[str, int]:
    return emulator.admin.counters()["authentications"]


async def test_basic_auth_is_lazy_and_shared(make_config, anaplan_emulator) -> None:
    config = make_config()
    client_a = AnaplanAsyncClient(config)
    client_b = AnaplanAsyncClient(make_config())  # another client of the same credentials
    assert auths(anaplan_emulator) == {}  # nothing sent at construction
    async with client_a, client_b:
        await client_a.list_files()
        await client_b.list_imports()
        await client_a.get_model()
    assert auths(anaplan_emulator) == {"basic": 1}


async def test_bad_password_is_a_clear_permanent_auth_error(make_config, anaplan_emulator) -> None:
    config = make_config(BasicCredentials(USER, "wrong-password"))
    async with AnaplanAsyncClient(config) as client:
        with pytest.raises(AnaplanAuthError) as info:
            await client.list_files()
    message = str(info.value)
    assert "HTTP 401" in message and "Invalid credentials" in message
    assert "Exception User" in message and "SSO" in message
    assert "wrong-password" not in message
    assert anaplan_emulator.admin.counters()["auth_failures"] == {"basic": 1}  # not retried


@pytest.mark.parametrize("fmt", ["v1", "v2"])
@pytest.mark.parametrize("passphrase", [None, "s3cret phrase"])
async def test_certificate_auth(make_config, anaplan_emulator, make_cert, fmt, passphrase) -> None:
    cert_pem, key_pem = make_cert(passphrase=passphrase)
    anaplan_emulator.admin.register_certificate(USER, cert_pem)
    creds = CertificateCredentials(cert_pem, key_pem, passphrase=passphrase, format=fmt)
    async with AnaplanAsyncClient(make_config(creds)) as client:
        assert [w["id"] for w in await client.list_workspaces()] == [anaplan_emulator.workspace_id]
    assert auths(anaplan_emulator) == {"certificate": 1}


def test_certificate_payload_v2_is_fresh_and_timestamped(make_cert) -> None:
    import base64
    import struct
    import time

    creds = CertificateCredentials(*make_cert())
    first, second = certificate_payload(creds), certificate_payload(creds)
    assert first["encodedDataFormat"] == "v2" and first["encodedData"] != second["encodedData"]
    data = base64.b64decode(first["encodedData"])
    assert len(data) >= 108 and abs(struct.unpack(">Q", data[:8])[0] - time.time()) < 5


async def test_unregistered_certificate(make_config, make_cert) -> None:
    creds = CertificateCredentials(*make_cert())
    async with AnaplanAsyncClient(make_config(creds)) as client:
        with pytest.raises(
            AnaplanAuthError, match="not registered for any user.*registered to an Anaplan user"
        ):
            await client.list_files()


async def test_oauth_refresh_with_rotation(make_config, anaplan_emulator) -> None:
    admin = anaplan_emulator.admin
    admin.register_oauth_client("airflow-client", rotatable=True)
    first = admin.issue_oauth_tokens("airflow-client")["refresh_token"]
    rotated: list[str] = []
    creds = OAuthCredentials("airflow-client", first, rotatable=True, on_rotate=rotated.append)
    async with AnaplanAsyncClient(make_config(creds)) as client:
        await client.list_files()
        assert len(rotated) == 1 and rotated[0] != first  # persisted right away
        admin.expire_tokens("access")  # force a second refresh through a 401 + replay
        await client.list_files()
    assert len(rotated) == 2 and rotated[1] != rotated[0]
    # The old refresh token is dead: a client still holding it must re-register.
    stale = OAuthCredentials("airflow-client", first, rotatable=True)
    from airflow_provider_anaplan.client import clear_token_cache

    clear_token_cache()
    async with AnaplanAsyncClient(make_config(stale)) as client:
        with pytest.raises(AnaplanReauthorizationRequired, match="airflow-anaplan oauth-register") as info:
            await client.list_files()
    assert first not in str(info.value) and first not in repr(info.value)


async def test_oauth_non_rotatable_keeps_token(make_config, anaplan_emulator) -> None:
    admin = anaplan_emulator.admin
    admin.register_oauth_client("plain-client", rotatable=False)
    token = admin.issue_oauth_tokens("plain-client")["refresh_token"]
    rotated: list[str] = []
    creds = OAuthCredentials("plain-client", token, on_rotate=rotated.append)
    async with AnaplanAsyncClient(make_config(creds)) as client:
        await client.list_files()
    assert rotated == []


async def test_device_grant_helpers(anaplan_emulator) -> None:
    admin = anaplan_emulator.admin
    admin.register_oauth_client("device-client", rotatable=True)
    admin.configure(device_poll_interval=1.0)
    device = await start_device_authorization("device-client", anaplan_emulator.oauth_url)
    assert device.user_code and device.interval == 1 and "device_code" not in repr(device)
    sleeps: list[float] = []
    polls = 0

    async def fake_sleep(seconds: float) -> None:
        nonlocal polls
        sleeps.append(seconds)
        polls += 1
        if polls == 2:
            admin.approve_device_code(device.user_code)
        await asyncio.sleep(seconds if polls == 1 else 1.05)

    tokens = await poll_device_token(device, sleep=fake_sleep)
    assert tokens.refresh_token is not None and tokens.refresh_token.get()
    assert "Secret('***')" in repr(tokens)
    assert sleeps[0] == 1.0


async def test_device_grant_slow_down(anaplan_emulator) -> None:
    admin = anaplan_emulator.admin
    admin.register_oauth_client("device-client")
    admin.configure(device_poll_interval=1.0, device_slow_down_increment=0.5)
    device = await start_device_authorization("device-client", anaplan_emulator.oauth_url)
    sleeps: list[float] = []

    async def no_sleep(seconds: float) -> None:  # polls too fast on purpose -> slow_down
        sleeps.append(seconds)
        if len(sleeps) == 3:
            admin.approve_device_code(device.user_code)
            await asyncio.sleep(1.6)  # the emulator's interval is now 1.5 s

    await poll_device_token(device, sleep=no_sleep)
    assert sleeps[:3] == [1.0, 1.0, 6.0]  # the second poll came too fast: interval + 5 s


async def test_single_flight_refresh_under_concurrency(make_config, anaplan_emulator) -> None:
    async with AnaplanAsyncClient(make_config(max_concurrency=16)) as client:
        results = await asyncio.gather(*(client.list_files() for _ in range(40)))
    assert all(len(r) == len(results[0]) for r in results)
    assert auths(anaplan_emulator) == {"basic": 1}


async def test_token_shared_across_event_loops(make_config, anaplan_emulator) -> None:
    """The sync client (its own loop thread) and async clients share one token."""
    errors: list[BaseException] = []

    def in_thread() -> None:
        try:
            with AnaplanClient(make_config()) as client:
                client.list_files()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=in_thread) for _ in range(4)]
    for t in threads:
        t.start()
    async with AnaplanAsyncClient(make_config()) as client:
        await client.list_files()
    for t in threads:
        t.join()
    assert not errors
    assert auths(anaplan_emulator) == {"basic": 1}


async def test_401_reauthenticates_once_and_replays(make_config, anaplan_emulator) -> None:
    async with AnaplanAsyncClient(make_config()) as client:
        await client.list_files()
        # Log the token out behind the client's back.
        token = await client.session.tokens.get_token()  # type: ignore[union-attr]
        httpx.post(f"{anaplan_emulator.auth_url}/token/logout", headers={"Authorization": token.header})  # noqa: ASYNC210
        assert len(await client.list_files()) >= 2
    counters = anaplan_emulator.admin.counters()
    assert counters["authentications"] == {"basic": 2}
    assert counters["statuses"]["GET /2/0/workspaces/{workspaceId}/models/{modelId}/files -> 401"] == 1


async def test_persistent_401_fails_after_one_replay(make_config, anaplan_emulator) -> None:
    anaplan_emulator.admin.add_fault(method="GET", path_regex="/files$", status=401, count=5)
    async with AnaplanAsyncClient(make_config()) as client:
        with pytest.raises(AnaplanUnauthorizedError, match="HTTP 401") as info:
            await client.list_files()
    assert info.value.status_code == 401
    assert anaplan_emulator.admin.counters()["faults"]["401"] == 2


async def test_proactive_refresh_during_upload(make_config, anaplan_emulator) -> None:
    """With a 2 s token life, a slow upload refreshes ahead of expiry and never sees a 401."""
    admin = anaplan_emulator.admin
    admin.configure(token_ttl_seconds=2.0)
    admin.set_faults(latency_ms=150, path_regex="/chunks/")
    data = b"x" * (1024 * 1024 * 12 + 5)
    async with AnaplanAsyncClient(
        make_config(chunk_size_mb=1, max_concurrency=2, compression=False)
    ) as client:
        await client.upload_file(113000000000, data)
    counters = admin.counters()
    assert counters["authentications"]["basic"] == 1
    assert counters["authentications"].get("refresh", 0) >= 1
    assert not any(k.endswith("-> 401") for k in counters["statuses"])
    assert admin.file_content("113000000000") == data


async def test_new_tokens_are_announced_for_masking(make_config, anaplan_emulator) -> None:
    seen: list[str] = []
    unregister = on_new_token(seen.append)
    try:
        async with AnaplanAsyncClient(make_config()) as client:
            await client.list_files()
            await client.list_files()
            token = await client.session.tokens.get_token()  # type: ignore[union-attr]
    finally:
        unregister()
    assert seen == [token.value]
