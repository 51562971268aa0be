"""The ``anaplan`` connection as the Airflow 3.3 UI creates, shows, edits and tests it.

``test_ui_connection_round_trip`` starts a real api-server (``AirflowStack`` with that component only,
``[core] test_connection = Enabled``) and an Anaplan emulator process, and for each auth type (basic,
certificate, OAuth with a rotatable and with a non-rotatable refresh token) does what the UI's
connection form does, request for request (Airflow 3.3.2's ``ui/dist`` bundle: ``ConnectionForm``,
``useParamStore``, ``EditConnectionButton``, ``TestConnectionButton``):

1. ``GET /ui/connections/hook_meta`` — the form's metadata. Every extra field starts with its
   ``value`` (the schema default, else null); the api-server masks the value of any field whose *name*
   Airflow finds sensitive, which is how the old ``rotatable_token`` switch arrived as ``"***"``.
2. ``POST /api/v2/connections`` — the add form sends every extra field (untouched ones with that
   initial value), pretty-printed; a password input drops the line breaks of a pasted PEM key.
3. ``GET /api/v2/connections/{id}`` — what the edit form starts from: secrets are ``"***"``.
4. ``PATCH /api/v2/connections/{id}?update_mask=...`` — the edit form saves the shown values back,
   ``"***"`` included; Airflow restores the real secret for each sensitive key it finds ``"***"`` in.
5. The metadata database row (decrypted) — the secrets survived, and ``build_client_config`` parses
   the stored extras into the right ``ClientConfig``.
6. ``POST /api/v2/connections/test`` — first with exactly the body of the connection list's Test
   button (Airflow 3.3.2 sends ``port: 0`` for a connection without a port and answers 400: Airflow's
   bug, the README documents ``airflow connections test <id>``), then without the port: the api-server
   merges the stored secrets, builds ``AnaplanHook`` and its ``test_connection()`` reads the model.

The other tests check the connection parsing the form relies on, without Airflow processes.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_anaplan.client.credentials import (
    BasicCredentials,
    CertificateCredentials,
    OAuthCredentials,
)
from airflow_provider_anaplan.compat import AIRFLOW_VERSION
from airflow_provider_anaplan.exceptions import AnaplanConfigError
from airflow_provider_anaplan.get_provider_info import CONN_FIELDS
from airflow_provider_anaplan.hooks.connection import (
    EXTRA_KEYS,
    REGIONS,
    SECRET_EXTRAS,
    build_client_config,
    load_extras,
)
from airflow_provider_anaplan.testing.airflow_stack import AirflowStack
from airflow_provider_anaplan.testing.certificates import make_certificate
from airflow_provider_anaplan.testing.emulator.seed import default_fixture
from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle, run_emulator_subprocess

WORKSPACE = "8a868cd985f53e7701860542f59e276e"
MODEL = "75A40874E6B64FA3AE0B4E5D5B4B9A0B"


def form_initial_extras() -> dict[str, Any]:
    """What the add form holds before the user types anything: each field's default, else None."""
    return {name: field["schema"].get("default") for name, field in CONN_FIELDS.items()}


# ------------------------------------------------------------------------- parsing (no processes)


def test_untouched_form_parses_to_the_defaults() -> None:
    cfg = build_client_config(login="me@example.com", password="pw-12345", extra=form_initial_extras())
    assert isinstance(cfg.credentials, BasicCredentials)
    assert (cfg.api_url, cfg.auth_url, cfg.oauth_url) == (
        "https://api.anaplan.com/2/0", "https://auth.anaplan.com", "https://us1a.app.anaplan.com"
    )
    assert (cfg.verify, cfg.timeout, cfg.chunk_size_mb, cfg.compression, cfg.max_concurrency) == (True, 60, 25, True, 4)


@pytest.mark.parametrize("code", list(REGIONS))
def test_region_sets_every_url(code: str) -> None:
    region = REGIONS[code]
    cfg = build_client_config(login="u", password="p", extra={**form_initial_extras(), "region": code.upper()})
    assert (cfg.api_url, cfg.auth_url, cfg.oauth_url) == (region.api_url, region.auth_url, region.oauth_url)


def test_region_values_from_anaplans_server_lists() -> None:
    eu3, au1, us5 = REGIONS["eu3"], REGIONS["au1"], REGIONS["us5"]
    assert (eu3.api_url, eu3.auth_url, eu3.oauth_url) == (
        "https://eu3.api.anaplan.com/2/0", "https://eu3.auth.anaplan.com", "https://eu3.app.anaplan.com"
    )
    assert (au1.api_url, au1.oauth_url) == ("https://au1a.api2.anaplan.com/2/0", "https://au1a.app2.anaplan.com")
    assert us5.api_url == "https://api.anaplan.com/2/0" and REGIONS["ca1"].oauth_url == "https://ca1a.app.anaplan.com"


def test_explicit_urls_override_the_region(caplog: pytest.LogCaptureFixture) -> None:
    cfg = build_client_config(
        login="u", password="p", extra={"region": "eu3", "api_url": "http://proxy.internal:8080/2/0"}
    )
    assert cfg.api_url == "http://proxy.internal:8080/2/0"
    assert (cfg.auth_url, cfg.oauth_url) == ("https://eu3.auth.anaplan.com", "https://eu3.app.anaplan.com")
    # a URL of another region left in the connection (e.g. an old form default) is warned about
    build_client_config(login="u", password="p", extra={"region": "eu3", "auth_url": "https://auth.anaplan.com"})
    assert "overrides region 'eu3'" in caplog.text


def test_unknown_region() -> None:
    with pytest.raises(AnaplanConfigError, match=r"extra 'region'='mars1' is not an Anaplan region; use one of us1,"):
        build_client_config(login="u", password="p", extra={"region": "mars1"})


@pytest.mark.parametrize("name", [*EXTRA_KEYS, "rotatable_token", "login", "password"])
def test_masked_placeholder_is_never_a_setting(name: str) -> None:
    """ "***" is what the UI and the REST API show for a masked value: never accepted, the field named."""
    login, password, extra = "u@example.com", "pw-12345", {"auth_type": "basic"}
    if name == "login":
        login = "***"
    elif name == "password":
        password = "***"
    else:
        extra[name] = "***"
    with pytest.raises(AnaplanConfigError) as info:
        build_client_config(login=login, password=password, extra=extra)
    message = str(info.value)
    assert "'***'" in message and "mask" in message
    assert (f"'{name}'" if name not in ("login", "password") else f"connection's {name}") in message


def test_rotatable_token_is_still_read_with_a_deprecation_warning(caplog: pytest.LogCaptureFixture) -> None:
    extra = {"auth_type": "oauth", "client_id": "c", "refresh_token": "rt-123456", "rotatable_token": "true"}
    with pytest.warns(DeprecationWarning, match="'rotatable_token' is deprecated; use 'refresh_rotates'"):
        cfg = build_client_config(login=None, password=None, extra=extra)
    assert isinstance(cfg.credentials, OAuthCredentials) and cfg.credentials.rotatable is True
    assert "deprecated" in caplog.text
    # the new switch wins over the old key; an old "***" (the UI bug) is then ignored
    both = {**extra, "rotatable_token": "***", "refresh_rotates": False}
    assert build_client_config(login=None, password=None, extra=both).credentials.rotatable is False
    with pytest.raises(AnaplanConfigError, match="'rotatable_token' is '\\*\\*\\*'.*Set 'refresh_rotates'"):
        build_client_config(login=None, password=None, extra={**extra, "rotatable_token": "***"})
    assert "rotatable_token" not in load_extras(extra) and load_extras(extra)["refresh_rotates"] is True


def test_verify_ssl_switch_and_ca_bundle(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")

    def verify(**extra: Any) -> Any:
        return build_client_config(login="u", password="p", extra=extra).verify

    assert verify(verify_ssl=True) is True and verify(verify_ssl=False) is False and verify() is True
    assert verify(verify_ssl="", ca_bundle=str(bundle)) == str(bundle)  # empty is "not set", never "off"
    assert verify(verify_ssl=True, ca_bundle=str(bundle)) == str(bundle) == verify(ca_bundle=str(bundle))
    assert verify(verify_ssl="false", ca_bundle=str(bundle)) is False and "not used" in caplog.text
    with pytest.warns(DeprecationWarning, match="use 'ca_bundle'"):  # the older string form still works
        assert verify(verify_ssl=str(bundle)) == str(bundle)
    with pytest.raises(AnaplanConfigError, match="extra 'ca_bundle': CA bundle path '/no/ca.pem' does not exist"):
        verify(ca_bundle="/no/ca.pem")
    with pytest.raises(AnaplanConfigError, match="disagree"), pytest.warns(DeprecationWarning):
        verify(verify_ssl=str(bundle), ca_bundle=str(tmp_path))


# ------------------------------------------------------------------------- the real api-server


class Api:
    """The api-server's REST API, as the UI calls it (SimpleAuthManager, all users admin)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def call(self, method: str, path: str, body: Any = None, query: list[tuple[str, str]] | None = None) -> tuple[int, Any]:
        url = self.base_url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            url, data=data, method=method, headers={"Content-Type": "application/json", "Accept": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                payload = response.read()
                return response.status, json.loads(payload) if payload else None
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace")
            try:
                return exc.code, json.loads(text)
            except ValueError:
                return exc.code, text

    def ok(self, method: str, path: str, body: Any = None, query: list[tuple[str, str]] | None = None) -> Any:
        status, payload = self.call(method, path, body, query)
        assert 200 <= status < 300, f"{method} {path} -> {status}: {payload}"
        return payload


@pytest.fixture(scope="module")
def ui_emulator() -> Iterator[EmulatorHandle]:
    """The emulator as a process, its user's password long enough for Airflow to mask it anywhere."""
    fixture = default_fixture()
    fixture["users"][0]["password"] = "pw-ui-form-0123456789"
    with run_emulator_subprocess(fixture=fixture) as emulator:
        emulator.password = "pw-ui-form-0123456789"
        yield emulator


@pytest.fixture(scope="module")
def ui_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowStack]:
    """Only the api-server (the UI's backend), with connection testing enabled."""
    dags = tmp_path_factory.mktemp("no_dags")
    stack = AirflowStack(dags, env={"AIRFLOW__CORE__TEST_CONNECTION": "Enabled"}, components=("api-server",))
    started = time.monotonic()
    try:
        stack.start(timeout=240)
    except BaseException:
        print(stack.dump_logs())
        stack.stop()
        raise
    print(f"\n[connection UI] api-server healthy {time.monotonic() - started:.1f} s after start")
    try:
        yield stack
    finally:
        stack.stop()


def stored_row(stack: AirflowStack, conn_id: str) -> dict[str, Any]:
    """The connection's metadata-database row, password and extra decrypted with the stack's Fernet key."""
    from cryptography.fernet import Fernet

    (row,) = stack.query(
        "SELECT conn_type, login, password, extra, is_encrypted, is_extra_encrypted FROM connection WHERE conn_id = ?",
        (conn_id,),
    )
    fernet = Fernet(stack.env["AIRFLOW__CORE__FERNET_KEY"].encode())

    def plain(value: str | None, encrypted: bool) -> str | None:
        return fernet.decrypt(value.encode()).decode() if value and encrypted else value

    return {
        "conn_type": row["conn_type"],
        "login": row["login"],
        "password": plain(row["password"], row["is_encrypted"]),
        "extra": json.loads(plain(row["extra"], row["is_extra_encrypted"]) or "{}"),
    }


def fill_form(auth: str, emulator: EmulatorHandle, extras: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Type into the add form what a user of ``auth`` would; returns (standard fields, secrets typed)."""
    extras.update(workspace_id=emulator.workspace_id, model_id=emulator.model_id, auth_type=auth.split("_")[0])
    # the emulator stands in for Anaplan: a region is chosen, the three URLs entered override it
    extras.update(region="eu3", api_url=emulator.api_url, auth_url=emulator.auth_url, oauth_url=emulator.oauth_url)
    if auth == "basic":
        return {"login": emulator.user, "password": emulator.password}, {"password": emulator.password}
    if auth == "certificate":
        cert = make_certificate(passphrase="pass-phrase-123")
        emulator.admin.register_certificate(emulator.user, cert.certificate_pem)
        extras["certificate"] = cert.certificate_pem  # a textarea keeps the line breaks
        # an <input type=password> drops the line breaks of a pasted PEM key
        extras["private_key"] = cert.private_key_pem.replace("\r", "").replace("\n", "")
        extras["private_key_passphrase"] = "pass-phrase-123"
        extras["certificate_format"] = "v1"
        return {}, {k: extras[k] for k in ("private_key", "private_key_passphrase")}
    rotates = auth == "oauth_rotatable"
    client_id, secret = f"ui-{auth.replace('_', '-')}", None if rotates else "client-secret-0123456789"
    emulator.admin.register_oauth_client(client_id, rotatable=rotates, client_secret=secret)
    extras.update(client_id=client_id, refresh_token=emulator.admin.issue_oauth_tokens(client_id)["refresh_token"])
    extras.update(client_secret=secret, refresh_rotates=rotates)
    if not rotates:
        import certifi

        extras["ca_bundle"] = certifi.where()  # plain http here, but the path flows through
    return {}, {k: extras[k] for k in ("client_secret", "refresh_token") if extras[k]}


@pytest.mark.slow
@pytest.mark.timeout(400)
@pytest.mark.skipif(AIRFLOW_VERSION < (3, 2), reason="the form's extra fields (conn-fields): Airflow >= 3.2")
@pytest.mark.parametrize("auth", ["basic", "certificate", "oauth_rotatable", "oauth_not_rotatable"])
def test_ui_connection_round_trip(auth: str, ui_stack: AirflowStack, ui_emulator: EmulatorHandle) -> None:
    api = Api(ui_stack.base_url)
    conn_id = f"anaplan_ui_{auth}"

    # 1. the form's metadata
    meta = {m["connection_type"]: m for m in api.ok("GET", "/ui/connections/hook_meta")}["anaplan"]
    fields = meta["extra_fields"]
    assert list(fields) == list(EXTRA_KEYS)
    assert all(spec["value"] != "***" for spec in fields.values()), "a field arrives masked in the form"
    for name, spec in fields.items():
        assert (spec["schema"].get("format") == "password") == (name in SECRET_EXTRAS), name
    assert fields["refresh_rotates"]["value"] is False and fields["verify_ssl"]["value"] is True
    assert fields["refresh_rotates"]["schema"]["type"] == ["boolean", "null"]  # a switch
    assert fields["verify_ssl"]["schema"]["type"] == ["boolean", "null"]
    assert fields["region"]["schema"]["enum"] == list(REGIONS)
    assert fields["client_id"]["schema"]["title"] == "OAuth: client ID"
    assert meta["standard_fields"]["login"]["title"] == "Basic: Username"
    assert meta["standard_fields"]["host"]["hidden"] and meta["standard_fields"]["port"]["hidden"]

    # 2. the add form: every field, untouched ones with their initial value; then Save
    extras = {name: spec["value"] for name, spec in fields.items()}
    standard, secrets = fill_form(auth, ui_emulator, extras)
    extras["timeout"] = 30
    body = {"conn_type": "anaplan", "connection_id": conn_id, "extra": json.dumps(extras, indent=2), **standard}
    api.ok("POST", "/api/v2/connections", body)

    # 3. read back: secrets masked, everything else as saved
    shown = api.ok("GET", f"/api/v2/connections/{conn_id}")
    shown_extra = json.loads(shown["extra"])
    for name in EXTRA_KEYS:
        expected = "***" if name in SECRET_EXTRAS and extras[name] else extras[name]
        assert shown_extra[name] == expected, name
    assert shown["password"] == ("***" if auth == "basic" else None)

    # 4. the edit form saves what it shows ("***" included) with one change
    edited = {**shown_extra, "timeout": 45}
    form = {
        "conn_type": shown["conn_type"], "connection_id": conn_id, "description": "edited in the UI",
        "extra": json.dumps(edited, indent=2), "host": "", "login": shown["login"] or "",
        "password": shown["password"] or "", "port": None, "schema": "",
    }
    api.ok("PATCH", f"/api/v2/connections/{conn_id}", form,
           query=[("update_mask", "extra"), ("update_mask", "description")])

    # 5. what is stored: the real secrets, and extras that parse into the right ClientConfig
    row = stored_row(ui_stack, conn_id)
    for name, value in secrets.items():
        assert (row["password"] if name == "password" else row["extra"][name]) == value, f"{name} lost"
    assert "***" not in json.dumps(row["extra"]) and row["extra"]["timeout"] == 45
    cfg = build_client_config(login=row["login"], password=row["password"], extra=row["extra"])
    assert (cfg.workspace_id, cfg.model_id) == (WORKSPACE, MODEL)
    assert (cfg.api_url, cfg.auth_url, cfg.oauth_url) == (ui_emulator.api_url, ui_emulator.auth_url, ui_emulator.oauth_url)
    assert (cfg.timeout, cfg.chunk_size_mb, cfg.compression, cfg.max_concurrency) == (45.0, 25, True, 4)
    credentials = cfg.credentials
    if auth == "basic":
        assert isinstance(credentials, BasicCredentials) and cfg.verify is True
    elif auth == "certificate":
        assert isinstance(credentials, CertificateCredentials) and credentials.format == "v1"
    else:
        assert isinstance(credentials, OAuthCredentials) and credentials.client_id == extras["client_id"]
        assert credentials.rotatable is (auth == "oauth_rotatable")
        assert cfg.verify == (True if auth == "oauth_rotatable" else extras["ca_bundle"])

    # 6. Test: the list's Test button body (Airflow 3.3.2: port 0 -> 400), then without the port
    shown = api.ok("GET", f"/api/v2/connections/{conn_id}")
    row_button = {
        "conn_type": shown["conn_type"], "connection_id": conn_id, "description": shown["description"] or "",
        "extra": shown["extra"], "host": shown["host"] or "", "login": shown["login"] or "",
        "password": shown["password"] or "", "port": 0, "schema": shown["schema"] or "",
    }
    status, answer = api.call("POST", "/api/v2/connections/test", row_button)
    if status == 400:  # Airflow's bug (documented): the stored port is null, the button sends 0
        assert "host or port to test differs" in json.dumps(answer), answer
    else:
        assert status == 200 and answer["status"] is True, answer
    del row_button["port"]
    answer = api.ok("POST", "/api/v2/connections/test", row_button)
    assert answer["status"] is True, answer["message"]
    assert "Connected to Anaplan: model 'Demo Model'" in answer["message"], answer["message"]
    for value in secrets.values():
        assert value not in json.dumps(answer)
    print(f"\n[connection UI] {auth}: row Test button -> HTTP {status}; without the port -> {answer['message']}")
    if auth == "oauth_rotatable":
        # the api-server refreshed the single-use token and stored the chain: test again, then with the
        # CLI (the documented workaround for the row button), a process of its own continuing the chain
        answer = api.ok("POST", "/api/v2/connections/test", row_button)
        assert answer["status"] is True, answer["message"]
        started = time.monotonic()
        result = ui_stack.run_cli(["connections", "test", conn_id], "cli-connections-test.log", timeout=240)
        output = (ui_stack.logs_dir / "cli-connections-test.log").read_text(errors="replace")
        assert result.returncode == 0 and "Connection success!" in output, output[-3000:]
        assert all(value not in output for value in secrets.values())
        print(f"[connection UI] airflow connections test {conn_id}: success in {time.monotonic() - started:.1f} s")
