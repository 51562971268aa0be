"""ClientConfig and credential validation: every bad option fails early with a specific message."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pytest

from airflow_provider_anaplan.client import (
    BasicCredentials,
    CertificateCredentials,
    ClientConfig,
    OAuthCredentials,
    RetryPolicy,
    Secret,
)
from airflow_provider_anaplan.client.ids import action_collection, normalize_object_id
from airflow_provider_anaplan.exceptions import (
    AnaplanAuthError,
    AnaplanConfigError,
    AnaplanNotFoundError,
)

WS = "8a868cd985f53e7701860542f59e276e"
MODEL = "75A40874E6B64FA3AE0B4E5D5B4B9A0B"
CREDS = BasicCredentials("demo@example.com", "emulator-demo-pw")


def cfg(**kw: object) -> ClientConfig:
    values: dict[str, object] = {"credentials": CREDS, "workspace_id": WS, "model_id": MODEL}
    values.update(kw)
    return ClientConfig(**values)  # type: ignore[arg-type]


def test_defaults_and_normalisation() -> None:
    c = cfg(workspace_id=WS.upper(), model_id=MODEL.lower(), api_url="https://eu1.api.anaplan.com/2/0/")
    assert c.workspace_id == WS
    assert c.model_id == MODEL
    assert c.api_url == "https://eu1.api.anaplan.com/2/0"
    assert c.auth_url == "https://auth.anaplan.com"
    assert c.oauth_url == "https://us1a.app.anaplan.com"
    assert (c.chunk_size_mb, c.compression, c.max_concurrency, c.poll_interval) == (25, True, 4, 5.0)
    assert c.chunk_size == 25 * 1024 * 1024


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"workspace_id": "not-a-workspace"}, "workspace_id must be 32 hexadecimal"),
        ({"workspace_id": WS[:-1]}, "workspace_id must be 32 hexadecimal"),
        ({"model_id": "75A40874E6B64FA3AE0B4E5D5B4B9A0Z"}, "model_id must be 32 hexadecimal"),
        ({"api_url": "ftp://api.anaplan.com"}, "api_url must be an http(s) URL"),
        ({"auth_url": "auth.anaplan.com"}, "auth_url must be an http(s) URL"),
        ({"oauth_url": "https://"}, "oauth_url must be an http(s) URL"),
        ({"api_url": "https://u:p@api.anaplan.com"}, "must not contain a query, fragment or user info"),
        ({"verify": "/no/such/ca-bundle.pem"}, "CA bundle path '/no/such/ca-bundle.pem' does not exist"),
        ({"verify": 3}, "verify must be True/False"),
        ({"timeout": 0}, "timeout must be >= 0.1 seconds"),
        ({"timeout": float("nan")}, "timeout must be a finite number of seconds"),
        ({"timeout": "60"}, "timeout must be a number"),
        ({"chunk_size_mb": 0}, "chunk_size_mb must be an integer from 1 to 50, got 0"),
        ({"chunk_size_mb": 51}, "chunk_size_mb must be an integer from 1 to 50, got 51"),
        ({"chunk_size_mb": True}, "chunk_size_mb must be an integer"),
        ({"compression": "yes"}, "compression must be True or False"),
        ({"max_concurrency": 0}, "max_concurrency must be an integer from 1 to 64"),
        ({"max_concurrency": 65}, "max_concurrency must be an integer from 1 to 64"),
        ({"retry": {"max_attempts": 3}}, "retry must be a RetryPolicy"),
        ({"token_refresh_lead": -1}, "token_refresh_lead must be >= 0"),
        ({"poll_interval": 0}, "poll_interval must be >= 0.1 seconds"),
        ({"credentials": ("user", "password")}, "credentials must be BasicCredentials"),
    ],
)
def test_bad_options(options: dict[str, object], message: str) -> None:
    with pytest.raises(AnaplanConfigError) as info:
        cfg(**options)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "retry.max_attempts must be an integer from 1 to 100"),
        ({"backoff_initial": -1}, "retry.backoff_initial must be >= 0 seconds"),
        ({"retry_statuses": {200}}, "retry.retry_statuses must be HTTP error statuses"),
    ],
)
def test_bad_retry_policy(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(AnaplanConfigError, match=message):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_retry_delay_full_jitter_and_retry_after_cap() -> None:
    policy = RetryPolicy(backoff_initial=1.0, backoff_max=8.0, retry_after_max=30.0)
    assert all(0 <= policy.delay(n) <= min(8.0, 2 ** (n - 1)) for n in range(1, 10) for _ in range(20))
    assert policy.delay(1, retry_after=3.0) == 3.0
    assert policy.delay(1, retry_after=600.0) == 30.0


def test_verify_accepts_existing_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    assert cfg(verify=str(bundle)).verify == str(bundle)
    assert cfg(verify=False).verify is False


def test_model_operations_need_workspace_and_model() -> None:
    c = ClientConfig(credentials=CREDS)
    with pytest.raises(AnaplanConfigError, match="workspace_id and model_id must be set"):
        c.require_model()


@pytest.mark.parametrize(
    ("value", "kinds", "message"),
    [
        ("11300000000", ("file",), "must be a 12-digit Anaplan id"),
        ("abc", (), "must be a 12-digit Anaplan id"),
        (True, (), "must be a 12-digit Anaplan id"),
        ("112000000000", ("file",), "112000000000 is an import id (prefix 112); expected file (113…)"),
    ],
)
def test_bad_object_ids(value: object, kinds: tuple[str, ...], message: str) -> None:
    with pytest.raises(AnaplanConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        normalize_object_id(value, *kinds, what="id")


def test_action_routing() -> None:
    assert action_collection(112000000000) == ("112000000000", "imports")
    assert action_collection("116000000001") == ("116000000001", "exports")
    assert action_collection("117000000000") == ("117000000000", "actions")
    assert action_collection("118000000000") == ("118000000000", "processes")
    with pytest.raises(AnaplanConfigError, match="expected import"):
        action_collection("113000000000")


# ------------------------------------------------------------------------------------ credentials
def test_secrets_never_in_repr() -> None:
    basic = BasicCredentials("u@example.com", "S3cret-P4ss")
    oauth = OAuthCredentials("client", "refresh-XYZ", client_secret="client-secret-ABC")
    for text in (repr(basic), str(basic), repr(oauth), repr(basic.password), repr(cfg(credentials=basic))):
        assert "S3cret-P4ss" not in text and "refresh-XYZ" not in text and "client-secret-ABC" not in text
    assert Secret("a") == Secret("a") and basic.password.get() == "S3cret-P4ss"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", "pw"), "username must not be empty"),
        (("user", ""), "password must not be empty"),
        (("user", 123), "password must be a string"),
    ],
)
def test_bad_basic_credentials(args: tuple[object, object], message: str) -> None:
    with pytest.raises(AnaplanConfigError, match=message):
        BasicCredentials(*args)  # type: ignore[arg-type]


def test_bad_oauth_credentials() -> None:
    with pytest.raises(AnaplanConfigError, match="refresh_token must not be empty"):
        OAuthCredentials("client", "  ")
    with pytest.raises(AnaplanConfigError, match="on_rotate must be a callable"):
        OAuthCredentials("client", "rt", on_rotate="persist")  # type: ignore[arg-type]


def test_certificate_from_text_and_paths(make_cert, tmp_path: Path) -> None:
    cert_pem, key_pem = make_cert(passphrase="pw")
    (tmp_path / "c.pem").write_bytes(cert_pem)
    (tmp_path / "k.pem").write_bytes(key_pem)
    from_text = CertificateCredentials(cert_pem.decode(), key_pem.decode(), passphrase="pw")
    from_paths = CertificateCredentials(tmp_path / "c.pem", str(tmp_path / "k.pem"), passphrase="pw")
    assert from_text.fingerprint() == from_paths.fingerprint()
    assert from_text.format == "v2"
    assert "BEGIN" not in repr(from_text) and "pw" not in repr(from_text).replace("private_key", "")


def test_certificate_errors(make_cert, tmp_path: Path) -> None:
    cert_pem, key_pem = make_cert(passphrase="right")
    _, other_key = make_cert()
    plain_cert, plain_key = make_cert()
    with pytest.raises(AnaplanConfigError, match=r"certificate file .*missing\.pem does not exist"):
        CertificateCredentials(tmp_path / "missing.pem", key_pem)
    with pytest.raises(AnaplanConfigError, match=r"private_key file .*nokey\.pem does not exist"):
        CertificateCredentials(cert_pem, str(tmp_path / "nokey.pem"))
    (tmp_path / "junk.pem").write_text("hello")
    with pytest.raises(AnaplanConfigError, match="is not a PEM certificate"):
        CertificateCredentials(tmp_path / "junk.pem", key_pem)
    with pytest.raises(AnaplanConfigError, match="is not a PEM private key"):
        CertificateCredentials(cert_pem, b"-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n")
    with pytest.raises(AnaplanAuthError, match="is encrypted: give its passphrase"):
        CertificateCredentials(cert_pem, key_pem)
    with pytest.raises(AnaplanAuthError, match="Wrong passphrase for private_key"):
        CertificateCredentials(cert_pem, key_pem, passphrase="wrong")
    with pytest.raises(AnaplanAuthError, match="does not match certificate"):
        CertificateCredentials(plain_cert, other_key)
    with pytest.raises(AnaplanConfigError, match='certificate format must be "v1" or "v2"'):
        CertificateCredentials(plain_cert, plain_key, format="v3")  # type: ignore[arg-type]
    # A passphrase given for an unencrypted key is harmless.
    CertificateCredentials(plain_cert, plain_key, passphrase="unused")


def test_certificate_expiry_warning(make_cert, caplog: pytest.LogCaptureFixture) -> None:
    cert_pem, key_pem = make_cert(days=10)
    with caplog.at_level(logging.WARNING, logger="airflow_provider_anaplan.client"):
        CertificateCredentials(cert_pem, key_pem)
    assert "expires in" in caplog.text and "renew it" in caplog.text


def test_exceptions_pickle_with_attributes() -> None:
    exc = AnaplanNotFoundError(
        "File 113: gone", status_code=404, object_id="113000000000", method="GET", path="/x"
    )
    back = pickle.loads(pickle.dumps(exc))
    assert (type(back), str(back), back.status_code, back.object_id, back.path) == (
        AnaplanNotFoundError,
        "File 113: gone",
        404,
        "113000000000",
        "/x",
    )


def test_ca_bundle_path_becomes_ssl_context(make_cert, tmp_path: Path) -> None:
    import ssl

    from airflow_provider_anaplan.client.http import ssl_verify

    cert_pem, _ = make_cert()
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(cert_pem)
    assert isinstance(ssl_verify(str(bundle)), ssl.SSLContext)
    assert isinstance(ssl_verify(str(tmp_path)), ssl.SSLContext)
    assert ssl_verify(False) is False
