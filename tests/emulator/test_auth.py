"""Authentication API: basic, certificate v1/v2 (real signatures), refresh, validate, logout, expiry."""

from __future__ import annotations

import base64
import os
import time

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from airflow_provider_anaplan.testing.certificates import make_certificate
from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle

from .conftest import M


def make_cert(common_name: str = "demo@example.com") -> tuple[rsa.RSAPrivateKey, str]:
    """A fresh RSA key and self-signed certificate (PEM), generated at test time."""
    cert = make_certificate(common_name, days=30)
    return cert.key, cert.certificate_pem


@pytest.fixture(scope="module")
def cert_pair() -> tuple[rsa.RSAPrivateKey, str]:
    return make_cert()


def cert_request(
    key: rsa.RSAPrivateKey, pem: str, v2: bool = True, data: bytes | None = None, header: str = "pem64"
) -> tuple[dict[str, str], dict[str, str]]:
    if data is None:
        data = (int(time.time()).to_bytes(8, "big") + os.urandom(100)) if v2 else os.urandom(150)
    signature = key.sign(data, padding.PKCS1v15(), hashes.SHA512())
    if header == "pem64":
        value = base64.b64encode(pem.encode()).decode()
    else:  # the PEM body lines (base64 DER)
        value = "".join(line for line in pem.splitlines() if "-----" not in line)
    body = {
        "encodedData": base64.b64encode(data).decode(),
        "encodedSignedData": base64.b64encode(signature).decode(),
    }
    if v2:
        body["encodedDataFormat"] = "v2"
    return {"Authorization": f"CACertificate {value}"}, body


def test_basic_auth_token_works_on_bulk_api(emu: EmulatorHandle, anon: httpx.Client) -> None:
    r = anon.post("/token/authenticate", auth=("demo@example.com", "emulator-demo-pw"))
    assert r.status_code == 201
    info = r.json()["tokenInfo"]
    assert info["expiresAt"] > time.time() * 1000 + 30 * 60 * 1000  # 35 min default
    for scheme in ("AnaplanAuthToken", "Bearer"):
        me = anon.get("/2/0/users/me", headers={"Authorization": f"{scheme} {info['tokenValue']}"})
        assert me.status_code == 200 and me.json()["user"]["email"] == "demo@example.com"
    assert emu.admin.counters()["authentications"] == {"basic": 1}


@pytest.mark.parametrize(
    ("header", "status", "code"),
    [
        ({}, 400, "FAILURE_BAD_HEADER"),
        ({"Authorization": "Basic !!!notbase64"}, 400, "FAILURE_BAD_HEADER"),
        ({"Authorization": "Token abc"}, 400, "FAILURE_BAD_HEADER"),
        (
            {"Authorization": "Basic " + base64.b64encode(b"demo@example.com:nope").decode()},
            401,
            "FAILURE_BAD_CREDENTIAL",
        ),
        (
            {"Authorization": "Basic " + base64.b64encode(b"who@example.com:demo").decode()},
            401,
            "FAILURE_BAD_CREDENTIAL",
        ),
    ],
)
def test_authenticate_errors(anon: httpx.Client, header: dict, status: int, code: str) -> None:
    r = anon.post("/token/authenticate", headers=header)
    assert r.status_code == status
    assert r.json()["status"] == code


def test_refresh_keeps_value_and_extends_expiry(emu: EmulatorHandle, anon: httpx.Client) -> None:
    emu.admin.configure(token_ttl_seconds=60)
    info = anon.post("/token/authenticate", auth=("demo@example.com", "emulator-demo-pw")).json()["tokenInfo"]
    emu.admin.configure(token_ttl_seconds=600)
    r = anon.post("/token/refresh", headers={"Authorization": f"AnaplanAuthToken {info['tokenValue']}"})
    assert r.status_code == 200
    new = r.json()["tokenInfo"]
    assert new["tokenValue"] == info["tokenValue"]
    assert new["expiresAt"] > info["expiresAt"] + 500_000
    assert emu.admin.counters()["authentications"]["refresh"] == 1


def test_validate_reports_user(anon: httpx.Client) -> None:
    token = anon.post("/token/authenticate", auth=("demo@example.com", "emulator-demo-pw")).json()["tokenInfo"][
        "tokenValue"
    ]
    body = anon.get("/token/validate", headers={"Authorization": f"AnaplanAuthToken {token}"}).json()
    assert body["userInfo"]["userId"] == "demo@example.com"
    assert body["userInfo"]["userGuid"] == "8a868cdd7bd58ea7017c0b0ab35b04e1"


def test_logout_kills_token_everywhere(anon: httpx.Client) -> None:
    token = anon.post("/token/authenticate", auth=("demo@example.com", "emulator-demo-pw")).json()["tokenInfo"][
        "tokenValue"
    ]
    headers = {"Authorization": f"AnaplanAuthToken {token}"}
    assert anon.post("/token/logout", headers=headers).status_code == 204
    r = anon.get(f"{M}/files", headers=headers)
    assert r.status_code == 401
    assert r.json()["status"]["code"] == 401
    assert anon.post("/token/refresh", headers=headers).status_code == 401


def test_expired_token_is_401_on_every_api(emu: EmulatorHandle, anon: httpx.Client) -> None:
    emu.admin.configure(token_ttl_seconds=0.3)
    token = anon.post("/token/authenticate", auth=("demo@example.com", "emulator-demo-pw")).json()["tokenInfo"][
        "tokenValue"
    ]
    headers = {"Authorization": f"AnaplanAuthToken {token}"}
    assert anon.get("/2/0/users/me", headers=headers).status_code == 200
    time.sleep(0.4)
    for path in ("/2/0/users/me", f"{M}/files", f"{M}/imports/112000000000/tasks"):
        r = anon.get(path, headers=headers)
        assert r.status_code == 401, path
        assert "expired" in r.json()["status"]["message"].lower()
    assert anon.post("/token/refresh", headers=headers).status_code == 401
    assert anon.get("/token/validate", headers=headers).status_code == 401


def test_admin_expire_tokens(emu: EmulatorHandle, client: httpx.Client) -> None:
    assert client.get("/2/0/users/me").status_code == 200
    assert emu.admin.expire_tokens() >= 1
    assert client.get("/2/0/users/me").status_code == 401


def test_missing_or_unknown_bulk_token(anon: httpx.Client) -> None:
    assert anon.get("/2/0/users/me").status_code == 401
    assert anon.get("/2/0/users/me", headers={"Authorization": "AnaplanAuthToken nope"}).status_code == 401


@pytest.mark.parametrize("header", ["pem64", "body"])
def test_certificate_v1_and_v2(emu: EmulatorHandle, anon: httpx.Client, cert_pair, header: str) -> None:
    key, pem = cert_pair
    emu.admin.register_certificate("demo@example.com", pem)
    for v2 in (False, True):
        headers, body = cert_request(key, pem, v2=v2, header=header)
        r = anon.post("/token/authenticate", headers=headers, json=body)
        assert r.status_code == 201, r.text
        token = r.json()["tokenInfo"]["tokenValue"]
        assert (
            anon.get("/2/0/users/me", headers={"Authorization": f"AnaplanAuthToken {token}"}).status_code
            == 200
        )
    assert emu.admin.counters()["authentications"] == {"certificate": 2}


def test_unregistered_certificate_rejected(anon: httpx.Client, cert_pair) -> None:
    key, pem = cert_pair
    headers, body = cert_request(key, pem)
    r = anon.post("/token/authenticate", headers=headers, json=body)
    assert r.status_code == 401
    assert r.json()["status"] == "FAILURE_BAD_CREDENTIAL"


def test_signature_from_another_key_rejected(emu: EmulatorHandle, anon: httpx.Client, cert_pair) -> None:
    key, pem = cert_pair
    emu.admin.register_certificate("demo@example.com", pem)
    other_key, _ = make_cert("intruder")
    headers, body = cert_request(other_key, pem)
    r = anon.post("/token/authenticate", headers=headers, json=body)
    assert r.status_code == 401
    assert "signature" in r.json()["statusMessage"]


def test_v2_replay_and_stale_timestamp_rejected(emu: EmulatorHandle, anon: httpx.Client, cert_pair) -> None:
    key, pem = cert_pair
    emu.admin.register_certificate("demo@example.com", pem)
    headers, body = cert_request(key, pem, v2=True)
    assert anon.post("/token/authenticate", headers=headers, json=body).status_code == 201
    replay = anon.post("/token/authenticate", headers=headers, json=body)
    assert replay.status_code == 401
    assert "already used" in replay.json()["statusMessage"]
    stale = (int(time.time()) - 3600).to_bytes(8, "big") + os.urandom(100)
    headers, body = cert_request(key, pem, v2=True, data=stale)
    r = anon.post("/token/authenticate", headers=headers, json=body)
    assert r.status_code == 401
    assert "recent" in r.json()["statusMessage"]


def test_v1_short_payload_and_v1_disabled(emu: EmulatorHandle, anon: httpx.Client, cert_pair) -> None:
    key, pem = cert_pair
    emu.admin.register_certificate("demo@example.com", pem)
    headers, body = cert_request(key, pem, v2=False, data=os.urandom(50))
    assert anon.post("/token/authenticate", headers=headers, json=body).status_code == 401
    emu.admin.configure(certificate_v1_allowed=False)
    headers, body = cert_request(key, pem, v2=False)
    r = anon.post("/token/authenticate", headers=headers, json=body)
    assert r.status_code == 401 and "v2" in r.json()["statusMessage"]


def test_certificate_bad_header_and_body(anon: httpx.Client, cert_pair) -> None:
    key, pem = cert_pair
    r = anon.post("/token/authenticate", headers={"Authorization": "CACertificate bm90IGEgY2VydA=="}, json={})
    assert r.status_code == 400 and r.json()["status"] == "FAILURE_BAD_HEADER"
    headers, _ = cert_request(key, pem)
    r = anon.post("/token/authenticate", headers=headers, json={"encodedData": ""})
    assert r.status_code == 400


def test_register_certificate_for_unknown_user_fails(emu: EmulatorHandle, cert_pair) -> None:
    with pytest.raises(RuntimeError, match="404"):
        emu.admin.register_certificate("ghost@example.com", cert_pair[1])
