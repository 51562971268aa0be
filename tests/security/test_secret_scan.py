"""Secret scan: sentinel secrets never appear in logs, exceptions, XCom values, trigger kwargs or events.

For each auth mode (basic, certificate with an encrypted key, OAuth with a rotatable refresh token
and a client secret) the test runs, through the Airflow connection -> hook -> operator/trigger path:

* a sync import (upload + task + poll) -> its XCom return value and pushed XComs;
* a deferrable import under faults (429 on a chunk, 503 twice on status polls, a dropped
  connection) after every access token was expired (401 -> re-auth + replay) -> the
  ``TaskDeferred`` trigger's ``serialize()``, its event, ``execute_complete``'s XCom value;
* a failing import (rejected rows) -> the exception (str, repr, traceback) and ``status.to_dict()``;
* a trigger polling an unknown task -> its error event;
* the mode's bad-credential path (wrong password / wrong passphrase / dead refresh token), via the
  sync hook and via a trigger (error event).

Then every secret — password, private key PEM (encrypted and decrypted forms), passphrase, OAuth
client secret, every OAuth refresh token and every access token the emulator minted (read back from
the in-process emulator's state) — is searched in: all log records at DEBUG of every logger
(including httpx/httpcore, whose request lines carry URLs), everything written to stdout/stderr,
exception texts, XCom values, ``serialize()`` output and trigger events.

The task log files, component logs and metadata database of a real Airflow deployment are scanned
by ``tests/integration/test_secret_scan_logs.py`` (it needs the real-Airflow stack of that package).
Raw log records are checked, before Airflow's secret masker could redact anything, so a secret that
is merely masked would still fail this test.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
import secrets
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

# Airflow (re)configures logging when first imported, replacing the root handlers: import it at
# collection, before caplog installs its handler.
import airflow_provider_anaplan.operators.imports  # noqa: F401
import airflow_provider_anaplan.triggers.task  # noqa: F401
from airflow_provider_anaplan.client import clear_token_cache
from airflow_provider_anaplan.exceptions import (
    AnaplanAuthError,
    AnaplanReauthorizationRequired,
    AnaplanTaskFailedError,
)
from airflow_provider_anaplan.testing.certificates import make_certificate
from airflow_provider_anaplan.testing.context import operator_context

IMPORT_PRODUCTS = "112000000000"
FILE_PRODUCTS = "113000000000"
GOOD = b"Product,Category,Discontinued\nP100,Hardware,false\nP101,Software,true\n"
BAD = b"Product,Category,Discontinued\nP102,Hardware,false\nP103,Hardware,perhaps\n"
OAUTH_CLIENT = "secret-scan-client"
MODES = ("basic", "certificate", "oauth")


# ------------------------------------------------------------------------------------ scanning


@dataclass
class Haystack:
    """Every text a user or an operator could see, labelled by where it came from."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, where: str, value: Any) -> None:
        if isinstance(value, str):
            text = value
        else:
            try:
                text = json.dumps(value, default=repr)
            except (TypeError, ValueError):
                text = repr(value)
            text += "\n" + repr(value)
        self.items.append((where, text))

    def exception(self, where: str, exc: BaseException) -> None:
        self.add(f"{where}: str", str(exc))
        self.add(f"{where}: repr", repr(exc))
        self.add(f"{where}: traceback", "".join(traceback.format_exception(exc)))
        status = getattr(exc, "status", None)
        if status is not None:
            self.add(f"{where}: status.to_dict()", status.to_dict())

    def records(self, records: list[logging.LogRecord]) -> None:
        for record in records:
            parts = [record.getMessage(), repr(record.args), record.exc_text or ""]
            if record.exc_info and record.exc_info[1] is not None:
                parts.append("".join(traceback.format_exception(record.exc_info[1])))
            self.items.append((f"log {record.name}:{record.levelname}", "\n".join(parts)))

    def leaks(self, secrets_: dict[str, str]) -> list[str]:
        found = []
        for name, secret in secrets_.items():
            for where, text in self.items:
                if secret in text:
                    at = text.index(secret)
                    found.append(f"{name} in {where}: …{text[max(0, at - 80): at + 20]!r}…")
        return found


def pem_lines(pem: bytes) -> list[str]:
    """The full base64 lines of a PEM body (any one of them leaking leaks key material)."""
    return [line for line in pem.decode().splitlines() if len(line) == 64 and "-----" not in line]


def key_pair(passphrase: str) -> tuple[str, str, bytes]:
    """``(certificate PEM, encrypted private key PEM, decrypted PKCS#8 PEM)``, generated now."""
    cert = make_certificate(passphrase=passphrase)
    return cert.certificate_pem, cert.private_key_pem, cert.unencrypted_key_pem.encode()


# ------------------------------------------------------------------------------------ environment


def context() -> dict[str, Any]:
    return operator_context()


@dataclass
class Sentinels:
    """The secrets of one test (fixed ones now, minted tokens read back at the end)."""

    password: str = field(default_factory=lambda: "pw-SENTINEL-" + secrets.token_hex(12))
    wrong_password: str = field(default_factory=lambda: "wrongpw-SENTINEL-" + secrets.token_hex(12))
    passphrase: str = field(default_factory=lambda: "pp-SENTINEL-" + secrets.token_hex(12))
    wrong_passphrase: str = field(default_factory=lambda: "wrongpp-SENTINEL-" + secrets.token_hex(12))
    client_secret: str = field(default_factory=lambda: "cs-SENTINEL-" + secrets.token_hex(12))
    certificate: str = ""
    private_key: str = ""
    private_key_plain: bytes = b""
    refresh_token: str = ""

    def fixed(self) -> dict[str, str]:
        out = {
            "password": self.password,
            "wrong password": self.wrong_password,
            "passphrase": self.passphrase,
            "wrong passphrase": self.wrong_passphrase,
            "OAuth client secret": self.client_secret,
            "initial OAuth refresh token": self.refresh_token,
        }
        for i, line in enumerate(pem_lines(self.private_key.encode())):
            out[f"encrypted private key PEM line {i}"] = line
        for i, line in enumerate(pem_lines(self.private_key_plain)):
            out[f"private key PEM line {i}"] = line
        return out


@dataclass
class Env:
    emu: Any
    monkeypatch: pytest.MonkeyPatch
    s: Sentinels

    def connection(self, conn_id: str, mode: str, **override: Any) -> str:
        extra: dict[str, Any] = {
            "api_url": self.emu.api_url,
            "auth_url": self.emu.auth_url,
            "oauth_url": self.emu.oauth_url,
            "workspace_id": self.emu.workspace_id,
            "model_id": self.emu.model_id,
            "auth_type": mode,
        }
        login, password = (self.emu.user, self.s.password) if mode == "basic" else (None, None)
        if mode == "certificate":
            extra.update(
                certificate=self.s.certificate,
                private_key=self.s.private_key,
                private_key_passphrase=self.s.passphrase,
            )
        if mode == "oauth":
            extra.update(
                client_id=OAUTH_CLIENT,
                client_secret=self.s.client_secret,
                refresh_token=self.s.refresh_token,
                refresh_rotates=True,
            )
        password = override.pop("password", password)
        extra.update(override)
        data = {"conn_type": "anaplan", "login": login, "password": password, "extra": extra}
        self.monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(data))
        return conn_id

    def minted(self) -> dict[str, str]:
        """Every access and refresh token the emulator issued (its in-process state)."""
        security = self.emu.server.emulator.state.security
        out = {f"access token #{i}": v for i, v in enumerate(security.tokens)}
        out.update({f"refresh token #{i}": v for i, v in enumerate(security.refresh_tokens)})
        return out


@pytest.fixture
def env(anaplan_emulator: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[Env]:
    from airflow_provider_anaplan.testing.emulator.seed import DEFAULT_FIXTURE

    clear_token_cache()
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))  # rotated OAuth tokens are saved under it
    s = Sentinels()
    fixture = copy.deepcopy(DEFAULT_FIXTURE)
    fixture["users"][0]["password"] = s.password
    anaplan_emulator.admin.load_fixture(fixture)
    s.certificate, s.private_key, s.private_key_plain = key_pair(s.passphrase)
    anaplan_emulator.admin.register_certificate(anaplan_emulator.user, s.certificate)
    anaplan_emulator.admin.register_oauth_client(OAUTH_CLIENT, rotatable=True, client_secret=s.client_secret)
    s.refresh_token = anaplan_emulator.admin.issue_oauth_tokens(OAUTH_CLIENT)["refresh_token"]
    yield Env(anaplan_emulator, monkeypatch, s)
    clear_token_cache()


async def events_of(trigger: Any) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]


def run_flows(env: Env, mode: str, hay: Haystack) -> None:
    """The representative flows of one auth mode; everything visible goes into ``hay``."""
    from airflow.sdk.exceptions import TaskDeferred

    from airflow_provider_anaplan.hooks.anaplan import AnaplanHook
    from airflow_provider_anaplan.operators.imports import AnaplanImportOperator
    from airflow_provider_anaplan.triggers.task import AnaplanTaskTrigger

    admin = env.emu.admin
    conn = env.connection(f"scan_{mode}", mode)

    # 1. sync import: upload + task + poll
    ctx = context()
    op = AnaplanImportOperator(
        task_id="sync_import", import_id=IMPORT_PRODUCTS, uploads={FILE_PRODUCTS: GOOD},
        anaplan_conn_id=conn, deferrable=False, poll_interval=0.1,
    )  # fmt: skip
    hay.add("sync import XCom return value", op.execute(ctx))
    hay.add("sync import pushed XComs", ctx["ti"].xcom)

    # 2. deferrable import under faults, with every access token expired first (401 -> re-auth + replay)
    admin.expire_tokens("access")
    admin.add_fault(method="PUT", path_regex="/chunks/", status=429, retry_after=0, count=1)
    admin.add_fault(method="GET", path_regex="/files$", drop=True, count=1)
    ctx = context()
    op = AnaplanImportOperator(
        task_id="deferred_import", import_id=IMPORT_PRODUCTS, uploads={FILE_PRODUCTS: GOOD},
        anaplan_conn_id=conn, deferrable=True, poll_interval=0.1,
    )  # fmt: skip
    admin.configure(min_task_seconds=1.5)  # still running when execute() checks: it defers
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(ctx)
    trigger = deferred.value.trigger
    hay.add("trigger.serialize()", trigger.serialize())
    admin.expire_tokens("access")  # the trigger's first poll meets a dead token, then two 503s
    admin.add_fault(method="GET", path_regex=r"/tasks/[0-9A-F]{32}$", status=503, count=2)
    events = asyncio.run(events_of(trigger))
    assert [e["status"] for e in events] == ["success"], events
    hay.add("trigger events", events)
    hay.add("execute_complete XCom return value", op.execute_complete(ctx, events[0]))
    hay.add("deferred import pushed XComs", ctx["ti"].xcom)
    admin.configure(min_task_seconds=0)
    fired = admin.faults()["rules"]
    assert all(rule["fired"] >= 1 for rule in fired), fired  # every injected fault was met and retried
    admin.clear_faults()

    # 3. failing import (rejected rows): the exception a user sees
    op = AnaplanImportOperator(
        task_id="failed_import", import_id=IMPORT_PRODUCTS, uploads={FILE_PRODUCTS: BAD},
        anaplan_conn_id=conn, deferrable=False, poll_interval=0.1,
    )  # fmt: skip
    with pytest.raises(AnaplanTaskFailedError) as failed:
        op.execute(context())
    hay.exception("failed import", failed.value)

    # 4. a trigger polling a task that does not exist: error event
    missing = AnaplanTaskTrigger(
        anaplan_conn_id=conn, action_id=IMPORT_PRODUCTS, task_id="0" * 32, poll_interval=0.1
    )
    hay.add("unknown task trigger.serialize()", missing.serialize())
    events = asyncio.run(events_of(missing))
    assert [e["status"] for e in events] == ["error"], events
    hay.add("unknown task trigger events", events)

    # 5. the bad-credential path of this mode, via the sync hook and via a trigger
    clear_token_cache()
    if mode == "basic":
        bad = env.connection("scan_bad", mode, password=env.s.wrong_password)
        expected: type[BaseException] = AnaplanAuthError
    elif mode == "certificate":
        bad = env.connection("scan_bad", mode, private_key_passphrase=env.s.wrong_passphrase)
        expected = AnaplanAuthError
    else:
        admin.expire_tokens("all")  # every refresh token (initial and rotated) is dead now
        bad = conn
        expected = AnaplanReauthorizationRequired
    with pytest.raises(expected) as refused:
        AnaplanHook(bad).list_files()
    hay.exception("bad credential (sync hook)", refused.value)
    trigger = AnaplanTaskTrigger(anaplan_conn_id=bad, action_id=IMPORT_PRODUCTS, task_id="1" * 32, poll_interval=0.1)
    events = asyncio.run(events_of(trigger))
    assert [e["status"] for e in events] == ["error"], events
    assert expected.__name__ in events[0]["message"], events
    hay.add("bad credential trigger events", events)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", MODES)
def test_no_secret_anywhere(
    env: Env, mode: str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx/httpcore included
    for name in ("httpx", "httpcore", "airflow", "airflow_provider_anaplan"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    hay = Haystack()
    try:
        run_flows(env, mode, hay)
    finally:
        for name in ("httpx", "httpcore", "airflow", "airflow_provider_anaplan"):
            logging.getLogger(name).setLevel(logging.NOTSET)
    out, err = capfd.readouterr()
    hay.add("stdout", out)
    hay.add("stderr", err)
    hay.records(caplog.records)

    minted = env.minted()
    # The scan only means something if the secrets were really in play.
    assert sum(1 for k in minted if k.startswith("access")) >= 2, minted.keys()
    if mode == "oauth":
        assert sum(1 for k in minted if k.startswith("refresh")) >= 2, "the refresh token never rotated"
    assert any("HTTP Request:" in r.getMessage() for r in caplog.records), "httpx request logs not captured"
    assert any(r.name.startswith("httpcore") for r in caplog.records), "httpcore DEBUG logs not captured"
    everything = "\n".join(text for _, text in hay.items)
    for expected in ("re-authenticating once and replaying", "(HTTP 503); retry", "(HTTP 429); retry", "Started Anaplan task"):
        assert expected in everything, f"{expected!r} not captured: the flows did not run as planned"

    leaks = hay.leaks({**env.s.fixed(), **minted})
    assert not leaks, "\n".join(leaks)


def test_no_secret_in_request_urls(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    """Every URL the client requested (httpx's INFO line) is free of secrets: they travel in headers/bodies."""
    from airflow_provider_anaplan.hooks.anaplan import AnaplanHook

    caplog.set_level(logging.INFO, logger="httpx")
    for mode in MODES:
        clear_token_cache()
        AnaplanHook(env.connection(f"scan_url_{mode}", mode)).list_files()
    urls = [m.group(1) for r in caplog.records if (m := re.search(r"HTTP Request: \w+ (\S+)", r.getMessage()))]
    assert any("/token/authenticate" in u for u in urls) and any("/oauth/token" in u for u in urls), urls
    secrets_ = {**env.s.fixed(), **env.minted()}
    assert not [(n, u) for u in urls for n, s in secrets_.items() if s in u]
    assert not [u for u in urls if "?" in u and "token" in u.split("?", 1)[1].lower()], urls


def test_scanner_finds_a_planted_secret() -> None:
    """Control: the scan would report a secret in a log record, an exception or a serialized value."""
    secret = "planted-" + secrets.token_hex(8)
    record = logging.LogRecord("x", logging.DEBUG, __file__, 1, "token %s", (secret,), None)
    for plant in ("log", "exception", "value"):
        hay = Haystack()
        if plant == "log":
            hay.records([record])
        elif plant == "exception":
            hay.exception("e", RuntimeError(f"boom {secret}"))
        else:
            hay.add("xcom", {"nested": [secret]})
        assert hay.leaks({"planted": secret}), plant
    assert pem_lines(key_pair("x")[1].encode())
