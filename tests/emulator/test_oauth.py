"""OAuth: device grant end to end (pending, slow_down, expired, denied), refresh tokens and rotation."""

from __future__ import annotations

import time

import httpx
import pytest

from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle

from .conftest import M

DEVICE = "urn:ietf:params:oauth:grant-type:device_code"


def device_code(anon: httpx.Client, client_id: str = "emulator-device-client", form: bool = False) -> dict:
    payload = {"client_id": client_id, "scope": "openid profile email offline_access"}
    r = (
        anon.post("/oauth/device/code", data=payload)
        if form
        else anon.post("/oauth/device/code", json=payload)
    )
    assert r.status_code == 200, r.text
    return r.json()


def poll(
    anon: httpx.Client, code: dict, client_id: str = "emulator-device-client", form: bool = False
) -> httpx.Response:
    payload = {"grant_type": DEVICE, "device_code": code["device_code"], "client_id": client_id}
    return anon.post("/oauth/token", data=payload) if form else anon.post("/oauth/token", json=payload)


@pytest.mark.parametrize("form", [False, True], ids=["json", "form"])
def test_device_flow_end_to_end(emu: EmulatorHandle, anon: httpx.Client, form: bool) -> None:
    emu.admin.configure(device_poll_interval=0.2)
    code = device_code(anon, form=form)
    assert code["interval"] == 1 and code["expires_in"] == 900
    assert code["verification_uri_complete"].endswith(code["user_code"])
    r = poll(anon, code, form=form)
    assert r.status_code == 400 and r.json()["error"] == "authorization_pending"
    emu.admin.approve_device_code(code["user_code"])
    time.sleep(0.25)
    r = poll(anon, code, form=form)
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 2100
    assert tokens["refresh_token"] and tokens["id_token"].count(".") == 2
    me = anon.get("/2/0/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200 and me.json()["user"]["email"] == "demo@example.com"
    files = anon.get(f"{M}/files", headers={"Authorization": f"AnaplanAuthToken {tokens['access_token']}"})
    assert files.status_code == 200
    again = poll(anon, code, form=form)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert emu.admin.counters()["authentications"] == {"device": 1}


def test_slow_down_when_polling_faster_than_interval(emu: EmulatorHandle, anon: httpx.Client) -> None:
    emu.admin.configure(device_poll_interval=5, device_slow_down_increment=5)
    code = device_code(anon)
    assert code["interval"] == 5
    assert poll(anon, code).json()["error"] == "authorization_pending"
    r = poll(anon, code)
    assert r.status_code == 400 and r.json()["error"] == "slow_down"
    assert "10" in r.json()["error_description"]


def test_expired_device_code(emu: EmulatorHandle, anon: httpx.Client) -> None:
    emu.admin.configure(device_code_ttl_seconds=0.2, device_poll_interval=0)
    code = device_code(anon)
    time.sleep(0.3)
    r = poll(anon, code)
    assert r.status_code == 400 and r.json()["error"] == "expired_token"
    with pytest.raises(RuntimeError, match="410"):
        emu.admin.approve_device_code(code["user_code"])


def test_denied_and_unknown_codes(emu: EmulatorHandle, anon: httpx.Client) -> None:
    emu.admin.configure(device_poll_interval=0)
    code = device_code(anon)
    emu.admin.approve_device_code(code["user_code"], deny=True)
    assert poll(anon, code).json()["error"] == "access_denied"
    r = anon.post(
        "/oauth/token",
        json={"grant_type": DEVICE, "device_code": "bogus", "client_id": "emulator-device-client"},
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    other = device_code(anon)
    assert poll(anon, other, client_id="emulator-rotating-client").json()["error"] == "invalid_grant"
    assert anon.post("/oauth/device/code", json={}).json()["error"] == "invalid_request"
    assert anon.post("/oauth/token", json={"grant_type": "password"}).json()["error"] == "invalid_request"
    with pytest.raises(RuntimeError, match="404"):
        emu.admin.approve_device_code("ZZZZ-ZZZZ")


def refresh(anon: httpx.Client, client_id: str, token: str, **extra: str) -> httpx.Response:
    return anon.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "client_id": client_id, "refresh_token": token, **extra},
    )


def test_rotation_kills_the_old_refresh_token(emu: EmulatorHandle, anon: httpx.Client) -> None:
    first = emu.admin.issue_oauth_tokens("emulator-rotating-client")
    r = refresh(anon, "emulator-rotating-client", first["refresh_token"])
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (
        anon.get("/2/0/users/me", headers={"Authorization": f"Bearer {second['access_token']}"}).status_code
        == 200
    )
    dead = refresh(anon, "emulator-rotating-client", first["refresh_token"])
    assert dead.status_code == 403 and dead.json()["error"] == "invalid_grant"
    assert refresh(anon, "emulator-rotating-client", second["refresh_token"]).status_code == 200
    counters = emu.admin.counters()
    assert counters["authentications"]["oauth_refresh"] == 2
    assert counters["auth_failures"]["oauth_refresh"] == 1


def test_non_rotatable_refresh_token_is_reusable(emu: EmulatorHandle, anon: httpx.Client) -> None:
    first = emu.admin.issue_oauth_tokens("emulator-device-client")
    for _ in range(3):
        r = refresh(anon, "emulator-device-client", first["refresh_token"])
        assert r.status_code == 200
        assert r.json()["refresh_token"] == first["refresh_token"]
        assert r.json()["access_token"] != first["access_token"]


def test_expired_refresh_token_is_403(emu: EmulatorHandle, anon: httpx.Client) -> None:
    tokens = emu.admin.issue_oauth_tokens("emulator-rotating-client")
    emu.admin.expire_tokens("refresh")
    r = refresh(anon, "emulator-rotating-client", tokens["refresh_token"])
    assert r.status_code == 403 and "register again" in r.json()["error_description"]


def test_refresh_token_bound_to_client_and_secret(emu: EmulatorHandle, anon: httpx.Client) -> None:
    emu.admin.register_oauth_client("authcode-client", rotatable=True, client_secret="s3cret")
    tokens = emu.admin.issue_oauth_tokens("authcode-client")
    assert refresh(anon, "authcode-client", tokens["refresh_token"]).status_code == 401
    assert refresh(anon, "authcode-client", tokens["refresh_token"], client_secret="bad").status_code == 401
    assert refresh(anon, "emulator-device-client", tokens["refresh_token"]).status_code == 403
    assert (
        refresh(anon, "authcode-client", tokens["refresh_token"], client_secret="s3cret").status_code == 200
    )
    assert refresh(anon, "unknown-client", tokens["refresh_token"]).status_code == 401


def test_oauth_access_token_expires(emu: EmulatorHandle, anon: httpx.Client) -> None:
    emu.admin.configure(token_ttl_seconds=0.2)
    tokens = emu.admin.issue_oauth_tokens("emulator-device-client")
    time.sleep(0.3)
    assert (
        anon.get("/2/0/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code
        == 401
    )
