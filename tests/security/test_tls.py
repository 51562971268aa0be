"""TLS: verification is on by default, a CA bundle works, ``verify=False`` works (and is unsafe).

A CA and a server certificate for ``127.0.0.1``/``localhost`` are generated at test time with
``cryptography``; the emulator serves HTTPS with them (in-process, one server per module). A second
server certificate signed by the same CA but issued for another host name checks that the host name
is verified too, not only the chain.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from airflow_provider_anaplan.client import (
    AnaplanClient,
    BasicCredentials,
    ClientConfig,
    RetryPolicy,
    clear_token_cache,
)
from airflow_provider_anaplan.client.http import ssl_verify
from airflow_provider_anaplan.exceptions import AnaplanTransportError
from airflow_provider_anaplan.testing.emulator import EmulatorServer
from airflow_provider_anaplan.testing.emulator.seed import DEMO_PASSWORD, DEMO_USER, MODEL_ID, WORKSPACE_ID

ONE_TRY = RetryPolicy(max_attempts=1)
PRODUCTS = b"Product,Category,Discontinued\nP100,Hardware,false\n"


@dataclass(frozen=True)
class Pki:
    ca: Path
    cert: Path
    key: Path
    wrong_host_cert: Path
    wrong_host_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(
    ca_key: ec.EllipticCurvePrivateKey, ca_name: x509.Name, sans: list[x509.GeneralName], out: Path, stem: str
) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(stem))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = out / f"{stem}.pem", out / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def make_pki(out: Path) -> Pki:
    """A throw-away CA, a server certificate for 127.0.0.1/localhost and one for another host."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Anaplan provider test CA")
    now = dt.datetime.now(dt.UTC)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    ca_path = out / "ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert, key = _issue(
        ca_key,
        ca_name,
        [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")],
        out,
        "server",
    )
    wrong_cert, wrong_key = _issue(ca_key, ca_name, [x509.DNSName("api.example.com")], out, "wrong-host")
    return Pki(ca_path, cert, key, wrong_cert, wrong_key)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def https_emulator(pki: Pki) -> Iterator[EmulatorServer]:
    with EmulatorServer(ssl_certfile=str(pki.cert), ssl_keyfile=str(pki.key)) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_tokens() -> Iterator[None]:
    clear_token_cache()
    yield
    clear_token_cache()


def config(url: str, **options: Any) -> ClientConfig:
    values: dict[str, Any] = {
        "workspace_id": WORKSPACE_ID,
        "model_id": MODEL_ID,
        "api_url": f"{url}/2/0",
        "auth_url": url,
        "oauth_url": url,
        "retry": ONE_TRY,
        "timeout": 10.0,
        "poll_interval": 0.1,
        **options,
    }
    return ClientConfig(credentials=BasicCredentials(DEMO_USER, DEMO_PASSWORD), **values)


def test_https_emulator_is_really_https(https_emulator: EmulatorServer) -> None:
    assert https_emulator.url.startswith("https://127.0.0.1:")


def test_verification_is_on_by_default(https_emulator: EmulatorServer) -> None:
    """Default ``verify=True`` against an unknown CA: a clear AnaplanTransportError naming the cause."""
    cfg = config(https_emulator.url)
    assert cfg.verify is True
    with AnaplanClient(cfg) as client, pytest.raises(AnaplanTransportError) as info:
        client.list_files()
    message = str(info.value)
    assert "certificate verify failed" in message.lower(), message
    assert "POST /token/authenticate connection error (ConnectError" in message, message
    # Clear at the top, with the ssl cause kept for debugging.
    assert isinstance(info.value.__cause__, Exception)


def test_retries_do_not_hide_a_certificate_error(https_emulator: EmulatorServer) -> None:
    """With the default retry policy the certificate failure is still the error the user sees."""
    fast = RetryPolicy(max_attempts=3, backoff_initial=0.01, backoff_max=0.02)
    with AnaplanClient(config(https_emulator.url, retry=fast)) as client, pytest.raises(AnaplanTransportError) as info:
        client.list_files()
    assert "certificate verify failed" in str(info.value).lower()


def test_ca_bundle_path_succeeds(https_emulator: EmulatorServer, pki: Pki) -> None:
    """``verify="/path/ca.pem"``: authenticate, upload, import over HTTPS."""
    with AnaplanClient(config(https_emulator.url, verify=str(pki.ca))) as client:
        assert {f["id"] for f in client.list_files()} >= {"113000000000"}
        client.upload_file("113000000000", PRODUCTS)
        status = client.run_action("112000000000")
    assert status.is_success  # type: ignore[union-attr]


def test_ssl_context_succeeds(https_emulator: EmulatorServer, pki: Pki) -> None:
    context = ssl.create_default_context(cafile=str(pki.ca))
    with AnaplanClient(config(https_emulator.url, verify=context)) as client:
        assert client.list_files()


def test_host_name_is_verified_not_only_the_chain(pki: Pki) -> None:
    """A certificate from the trusted CA but for another host name is refused."""
    with EmulatorServer(ssl_certfile=str(pki.wrong_host_cert), ssl_keyfile=str(pki.wrong_host_key)) as server:
        with AnaplanClient(config(server.url, verify=str(pki.ca))) as client, pytest.raises(AnaplanTransportError) as info:
            client.list_files()
    text = str(info.value).lower()
    assert "certificate verify failed" in text and ("hostname" in text or "ip address mismatch" in text), text


def test_verify_false_works_but_is_unsafe(https_emulator: EmulatorServer) -> None:
    """``verify=False`` connects to any server (documented as unsafe in docs/reliability.md)."""
    with AnaplanClient(config(https_emulator.url, verify=False)) as client:
        assert client.list_files()


def _hook_config(monkeypatch: pytest.MonkeyPatch, url: str, **extra: Any) -> Any:
    from airflow_provider_anaplan.hooks.anaplan import AnaplanHook

    conn = {
        "conn_type": "anaplan",
        "login": DEMO_USER,
        "password": DEMO_PASSWORD,
        "extra": {
            "api_url": f"{url}/2/0",
            "auth_url": url,
            "oauth_url": url,
            "workspace_id": WORKSPACE_ID,
            "model_id": MODEL_ID,
            **extra,
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_ANAPLAN_TLS", json.dumps(conn))
    return AnaplanHook("anaplan_tls", retry=ONE_TRY)


@pytest.mark.parametrize(
    ("verify_ssl", "ok"),
    [(None, False), ("true", False), ("<ca>", True), ("false", True)],
    ids=["default", "true", "ca-bundle", "false"],
)
def test_hook_verify_ssl_extra(
    https_emulator: EmulatorServer, pki: Pki, monkeypatch: pytest.MonkeyPatch, verify_ssl: str | None, ok: bool
) -> None:
    """The connection extra ``verify_ssl``: default/true verify, a CA bundle path trusts it, false skips."""
    extra = {} if verify_ssl is None else {"verify_ssl": str(pki.ca) if verify_ssl == "<ca>" else verify_ssl}
    hook = _hook_config(monkeypatch, https_emulator.url, **extra)
    try:
        if ok:
            assert hook.list_files()
        else:
            assert hook.get_client_config().verify is True
            with pytest.raises(AnaplanTransportError, match="(?i)certificate verify failed"):
                hook.list_files()
    finally:
        hook.close()


def test_certificate_failure_is_not_retried(
    https_emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A certificate that fails verification stays bad: fail on the first attempt, no backoff."""
    patient = RetryPolicy(max_attempts=5, backoff_initial=0.01, backoff_max=0.02)
    caplog.set_level("WARNING", logger="airflow_provider_anaplan")
    with AnaplanClient(config(https_emulator.url, retry=patient)) as client, pytest.raises(AnaplanTransportError):
        client.list_files()
    retries = [r for r in caplog.records if "retry" in r.getMessage().lower()]
    assert retries == [], [r.getMessage() for r in retries]


def test_one_ssl_context_per_verify_setting(pki: Pki) -> None:
    """Every client of a process shares one SSLContext per setting (loading a CA bundle is costly)."""
    assert ssl_verify(True) is ssl_verify(True)
    assert isinstance(ssl_verify(True), ssl.SSLContext)
    assert ssl_verify(str(pki.ca)) is ssl_verify(str(pki.ca))
    assert ssl_verify(str(pki.ca)) is not ssl_verify(True)
    assert ssl_verify(False) is False
