"""AnaplanHook / AnaplanAsyncHook: connection parsing, every auth mode, masking, token persistence."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from airflow_provider_anaplan.exceptions import AnaplanConfigError
from airflow_provider_anaplan.hooks.anaplan import (
    DELEGATED_METHODS,
    DELEGATED_STREAMS,
    AnaplanAsyncHook,
    AnaplanHook,
)
from airflow_provider_anaplan.hooks.connection import build_client_config
from airflow_provider_anaplan.hooks.tokens import variable_key
from airflow_provider_anaplan.testing.certificates import make_certificate

SECRET = "s3cr3t-value-that-must-never-show"


def certificate_pair(passphrase: str | None = None) -> tuple[str, str]:
    cert = make_certificate(passphrase=passphrase)
    return cert.certificate_pem, cert.private_key_pem


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"auth_type": "kerberos"}, "auth_type"),
        ({"chunk_size_mb": "lots"}, "chunk_size_mb"),
        ({"rotatable_token": "perhaps", "auth_type": "oauth", "client_id": "c", "refresh_token": SECRET}, "rotatable_token"),
        ({"compression": "sometimes"}, "compression"),
        ({"verify_ssl": 3}, "verify_ssl"),
        ({"auth_type": "oauth", "client_id": "c"}, "refresh_token"),
        ({"auth_type": "certificate", "certificate": "/nonexistent.pem", "private_key": SECRET}, "certificate"),
        ({"timeout": "soon"}, "timeout"),
        ({"private_key": 42, "auth_type": "certificate", "certificate": "x"}, "private_key"),
    ],
)
def test_validation_errors_name_the_field_and_hide_secrets(extra: dict[str, Any], field: str) -> None:
    with pytest.raises(AnaplanConfigError) as info:
        build_client_config(login="u@example.com", password=SECRET, extra=extra)
    assert field in str(info.value)
    assert SECRET not in str(info.value) and "42" not in str(info.value) or field != "private_key"


def test_config_from_every_extra(tmp_path: Any) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    cfg = build_client_config(
        login="u@example.com",
        password=SECRET,
        extra={
            "workspace_id": "8A868CD985F53E7701860542F59E276E", "model_id": "75a40874e6b64fa3ae0b4e5d5b4b9a0b",
            "api_url": "https://eu1.api.anaplan.com/2/0", "auth_url": "https://eu1.auth.anaplan.com",
            "oauth_url": "https://eu1a.app.anaplan.com", "verify_ssl": str(bundle), "timeout": "30",
            "chunk_size_mb": "10", "compression": "false", "max_concurrency": 8,
        },
    )
    assert (cfg.workspace_id, cfg.model_id) == ("8a868cd985f53e7701860542f59e276e", "75A40874E6B64FA3AE0B4E5D5B4B9A0B")
    assert (cfg.timeout, cfg.chunk_size_mb, cfg.compression, cfg.max_concurrency) == (30.0, 10, False, 8)
    assert cfg.verify == str(bundle) and cfg.api_url.startswith("https://eu1.api")
    assert build_client_config(login="u", password="p", extra={"verify_ssl": "false"}).verify is False
    oauth = build_client_config(
        login=None, password=None, extra={"auth_type": "oauth", "client_id": "c", "refresh_token": SECRET, "rotatable_token": "true"}
    )
    assert oauth.credentials.rotatable is True and SECRET not in repr(oauth.credentials)


def test_secrets_are_masked_as_soon_as_read() -> None:
    from airflow.sdk._shared.secrets_masker import redact

    build_client_config(
        login=None, password=None,
        extra={"auth_type": "oauth", "client_id": "c", "refresh_token": SECRET, "client_secret": SECRET + "-2"},
    )
    assert SECRET not in str(redact(f"token={SECRET}"))
    assert SECRET + "-2" not in str(redact(f"x {SECRET}-2"))


def test_delegation_by_declared_names() -> None:
    for name in DELEGATED_METHODS + DELEGATED_STREAMS:
        assert callable(getattr(AnaplanHook, name)) and callable(getattr(AnaplanAsyncHook, name))
    assert AnaplanHook.conn_type == "anaplan" and AnaplanHook.default_conn_name == "anaplan_default"


def test_test_connection(emulator: Any, emulator_conn: Any) -> None:
    ok, message = AnaplanHook().test_connection()
    assert ok and "Demo Model" in message
    emulator_conn("anaplan_bad", password="wrong-password-123")
    ok, message = AnaplanHook("anaplan_bad").test_connection()
    assert not ok and "wrong-password-123" not in message and message


@pytest.mark.parametrize("mode", ["basic", "certificate_v2", "certificate_v1_passphrase", "oauth"])
async def test_every_auth_mode_sync_and_async(emulator: Any, emulator_conn: Any, mode: str) -> None:
    if mode == "basic":
        conn_id = "anaplan_default"
    elif mode.startswith("certificate"):
        passphrase = "pass-phrase-1" if "passphrase" in mode else None
        cert, key = certificate_pair(passphrase)
        emulator.admin.register_certificate(emulator.user, cert)
        extra: dict[str, Any] = {"auth_type": "certificate", "certificate": cert, "private_key": key,
                                 "certificate_format": "v1" if "v1" in mode else "v2"}
        if passphrase:
            extra["private_key_passphrase"] = passphrase
        conn_id = emulator_conn("anaplan_cert", login="", password="", **extra)
    else:
        emulator.admin.register_oauth_client("airflow-client", rotatable=False)
        tokens = emulator.admin.issue_oauth_tokens("airflow-client")
        conn_id = emulator_conn(
            "anaplan_oauth", login="", password="", auth_type="oauth", client_id="airflow-client",
            refresh_token=tokens["refresh_token"],
        )
    with AnaplanHook(conn_id) as hook:
        assert hook.get_model()["id"] == emulator.model_id
    hook_async = AnaplanAsyncHook(conn_id)
    try:
        assert (await hook_async.get_model())["id"] == emulator.model_id
    finally:
        await hook_async.aclose()
    # the sync and async hooks shared one token (process-wide cache)
    assert sum(emulator.admin.counters()["authentications"].values()) == 1


def _stored_variable(key: str) -> str | None:
    from airflow.models.variable import Variable

    return Variable.get(key, default_var=None)


def test_rotated_token_shared_through_the_variable_store(emulator: Any, emulator_conn: Any, airflow_db: str) -> None:
    """The connection (an environment variable here) keeps the registered token; the chain lives in a
    sealed Airflow Variable that a fresh process picks up."""
    from airflow_provider_anaplan.client.tokens import clear_token_cache

    emulator.admin.register_oauth_client("rot-client", rotatable=True)
    first = emulator.admin.issue_oauth_tokens("rot-client")["refresh_token"]
    conn_id = emulator_conn("anaplan_rot_env", login="", password="", auth_type="oauth", client_id="rot-client",
                            refresh_token=first, rotatable_token="true")
    key = variable_key("rot-client", first)
    with AnaplanHook(conn_id) as hook:
        hook.get_model()
    sealed = _stored_variable(key)
    assert sealed and first not in sealed and "sealed" in json.loads(sealed)
    for _ in range(3):  # three more processes, each refreshing once with the chain from the store
        clear_token_cache()
        with AnaplanHook(conn_id) as hook:
            assert hook.get_model()["id"] == emulator.model_id
    # they used the access token the first process stored: one refresh grant in all
    assert emulator.admin.counters()["authentications"]["oauth_refresh"] == 1
    assert _stored_variable(key) == sealed
    emulator.admin.expire_tokens("access")  # the shared access token dies: 401, refresh, new pair stored
    clear_token_cache()
    with AnaplanHook(conn_id) as hook:
        assert hook.get_model()["id"] == emulator.model_id
    assert emulator.admin.counters()["authentications"]["oauth_refresh"] == 2
    assert _stored_variable(key) != sealed


def test_rotated_token_stored_from_dag_test(emulator: Any, dag_runner: Any) -> None:
    """Inside dag.test() the connection comes from the metadata DB and the DB is reachable."""
    from airflow.models.connection import Connection
    from airflow.sdk import DAG, task
    from airflow.utils.session import create_session
    from sqlalchemy import select

    emulator.admin.register_oauth_client("db-client", rotatable=True)
    first = emulator.admin.issue_oauth_tokens("db-client")["refresh_token"]
    extra = {"auth_type": "oauth", "client_id": "db-client", "refresh_token": first, "rotatable_token": True,
             "api_url": emulator.api_url, "auth_url": emulator.auth_url, "oauth_url": emulator.oauth_url,
             "workspace_id": emulator.workspace_id, "model_id": emulator.model_id}
    with create_session() as session:
        session.add(Connection(conn_id="anaplan_in_db", conn_type="anaplan", extra=json.dumps(extra)))

    @task
    def read_model() -> str:
        with AnaplanHook("anaplan_in_db") as hook:
            return hook.get_model()["id"]

    with DAG("rotate_in_db", schedule=None, start_date=datetime.datetime(2026, 1, 1)) as dag:
        read_model()
    try:
        dr = dag_runner.run(dag)
        assert dag_runner.xcom(dr, "read_model") == emulator.model_id
        with create_session() as session:
            row = session.scalar(select(Connection).where(Connection.conn_id == "anaplan_in_db"))
            stored = row.extra_dejson["refresh_token"]
        assert stored == first  # the connection keeps the registered token ...
        sealed = _stored_variable(variable_key("db-client", first))
        assert sealed and first not in sealed  # ... and the current pair lives in the sealed Variable
        from airflow_provider_anaplan.client.tokens import clear_token_cache

        clear_token_cache()  # a new process reading the same connection continues the chain
        emulator.admin.expire_tokens("access")
        dr = dag_runner.run(dag)
        assert dag_runner.xcom(dr, "read_model") == emulator.model_id
        assert emulator.admin.counters()["authentications"]["oauth_refresh"] == 2
        assert _stored_variable(variable_key("db-client", first)) != sealed
    finally:
        with create_session() as session:
            for row in session.scalars(select(Connection).where(Connection.conn_id == "anaplan_in_db")):
                session.delete(row)
