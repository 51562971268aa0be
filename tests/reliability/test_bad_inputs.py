"""The bad-input table: what a user gets for each wrong input or bad Anaplan answer.

ONE parametrized table (:data:`CASES`): each row runs one bad input against the in-process emulator
and asserts the EXACT exception type (``type(exc) is error``, not a subclass) and a substring of the
message the user sees. ``docs/bad-inputs.md`` is rendered from the same table
(:func:`render_markdown`); ``test_doc_is_in_sync`` fails when they drift. Regenerate the page with::

    .venv/bin/python tests/reliability/test_bad_inputs.py --write
"""

from __future__ import annotations

import copy
import json
import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "bad-inputs.md"
if str(REPO) not in sys.path:  # when run as a script
    sys.path.insert(0, str(REPO))

from airflow_provider_anaplan.client import (  # noqa: E402
    AnaplanClient,
    BasicCredentials,
    CertificateCredentials,
    ClientConfig,
    Content,
    OAuthCredentials,
    RetryPolicy,
    clear_token_cache,
)
from airflow_provider_anaplan.exceptions import (  # noqa: E402
    AnaplanAuthError,
    AnaplanConfigError,
    AnaplanConflictError,
    AnaplanModelLockedError,
    AnaplanNotFoundError,
    AnaplanRateLimitedError,
    AnaplanReauthorizationRequired,
    AnaplanServerError,
    AnaplanTaskCancelledError,
    AnaplanTaskFailedError,
    AnaplanTaskTimeoutError,
    AnaplanTransportError,
    AnaplanUnprocessableError,
    AnaplanUploadError,
)
from airflow_provider_anaplan.testing.certificates import make_certificate  # noqa: E402
from airflow_provider_anaplan.testing.context import operator_context  # noqa: E402

IMPORT_PRODUCTS = "112000000000"
IMPORT_BY_VERSION = "112000000002"
FILE_PRODUCTS = "113000000000"
FILE_REVENUE = "113000000001"
EXPORT_PRODUCTS = "116000000001"
CONN_ID = "anaplan_bad_input"
FAST_RETRY = RetryPolicy(max_attempts=3, backoff_initial=0.01, backoff_max=0.02, retry_after_max=0.05)
GOOD_PRODUCTS = b"Product,Category,Discontinued\nP100,Hardware,false\n"
BAD_PRODUCTS = b"Product,Category,Discontinued\nP100,Hardware,false\nP101,Hardware,perhaps\n"


def _not_found_exception() -> type[BaseException]:
    from airflow.sdk.exceptions import AirflowNotFoundException

    return AirflowNotFoundException


# ------------------------------------------------------------------------------------ test context


@dataclass
class Ctx:
    """What a case may use: the emulator, a temporary directory, clients and an Airflow connection."""

    emu: Any
    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    _clients: list[AnaplanClient] = field(default_factory=list)

    def config(self, credentials: Any = None, **options: Any) -> ClientConfig:
        values: dict[str, Any] = {
            "workspace_id": self.emu.workspace_id,
            "model_id": self.emu.model_id,
            "api_url": self.emu.api_url,
            "auth_url": self.emu.auth_url,
            "oauth_url": self.emu.oauth_url,
            "retry": FAST_RETRY,
            "poll_interval": 0.1,
            "timeout": 10.0,
            **options,
        }
        return ClientConfig(credentials or BasicCredentials(self.emu.user, self.emu.password), **values)

    def client(self, credentials: Any = None, **options: Any) -> AnaplanClient:
        client = AnaplanClient(self.config(credentials, **options))
        self._clients.append(client)
        return client

    def connection(self, *, login: Any = "default", password: Any = "default", **extra: Any) -> str:
        """Set ``AIRFLOW_CONN_ANAPLAN_BAD_INPUT`` (JSON) to the emulator plus ``extra``; return the id."""
        extras = {
            "api_url": self.emu.api_url,
            "auth_url": self.emu.auth_url,
            "oauth_url": self.emu.oauth_url,
            "workspace_id": self.emu.workspace_id,
            "model_id": self.emu.model_id,
        }
        extras.update(extra)
        data = {
            "conn_type": "anaplan",
            "login": self.emu.user if login == "default" else login,
            "password": self.emu.password if password == "default" else password,
            "extra": {k: v for k, v in extras.items() if v is not None},
        }
        self.monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(data))
        return CONN_ID

    def hook_config(self, **conn: Any) -> Any:
        """Build the hook's client config from a connection with these fields."""
        return hook(self.connection(**conn)).get_client_config()

    def execute(self, operator_cls: str, **kwargs: Any) -> Any:
        """Build an operator (module.Class under ``airflow_provider_anaplan.operators``) and execute it."""
        import importlib

        module, name = operator_cls.rsplit(".", 1)
        cls = getattr(importlib.import_module(f"airflow_provider_anaplan.operators.{module}"), name)
        kwargs.setdefault("anaplan_conn_id", self.connection())
        operator = cls(task_id="bad_input", **kwargs)
        return operator.execute(operator_context())

    def close(self) -> None:
        for client in self._clients:
            client.close()


def hook(conn_id: str) -> Any:
    """An :class:`AnaplanHook` for ``conn_id``."""
    from airflow_provider_anaplan.hooks.anaplan import AnaplanHook

    return AnaplanHook(conn_id)


def sensor(**kwargs: Any) -> Any:
    """Build an :class:`AnaplanTaskSensor` (its arguments are checked at construction)."""
    from airflow_provider_anaplan.sensors.task import AnaplanTaskSensor

    return AnaplanTaskSensor(task_id="bad_input", action_id=IMPORT_PRODUCTS, task_id_to_watch="T", **kwargs)


def trigger(**kwargs: Any) -> Any:
    """Build an :class:`AnaplanTaskTrigger` (its arguments are checked at construction)."""
    from airflow_provider_anaplan.triggers.task import AnaplanTaskTrigger

    return AnaplanTaskTrigger(anaplan_conn_id=CONN_ID, action_id=IMPORT_PRODUCTS, task_id="T", **kwargs)


def certificate(passphrase: str | None = None) -> tuple[bytes, bytes]:
    """A fresh self-signed certificate and RSA key (PEM), generated at test time."""
    cert = make_certificate(passphrase=passphrase)
    return cert.certificate_pem.encode(), cert.private_key_pem.encode()


def with_model_state(ctx: Ctx, state: str) -> None:
    """Reload the default seed with the model in ``state`` (LOCKED -> 423, ARCHIVED -> 422)."""
    from airflow_provider_anaplan.testing.emulator.seed import DEFAULT_FIXTURE

    fixture = copy.deepcopy(DEFAULT_FIXTURE)
    fixture["models"][0]["activeState"] = state
    ctx.emu.admin.load_fixture(fixture)


def failed_import(ctx: Ctx) -> tuple[AnaplanClient, str]:
    """Run the Products import on a file with one bad boolean: (client, task id) of the failed task."""
    client = ctx.client()
    client.upload_file(FILE_PRODUCTS, BAD_PRODUCTS)
    status = client.run_action(IMPORT_PRODUCTS, raise_on_failure=False)
    assert status.failure_dump_available, status
    return client, status.task_id


def replaced_dump(ctx: Ctx) -> Any:
    """A failed import whose dump was replaced by a newer task of the same import; fetch the old dump."""
    client, old_task = failed_import(ctx)
    client.upload_file(FILE_PRODUCTS, GOOD_PRODUCTS)
    client.run_action(IMPORT_PRODUCTS)
    return b"".join(client.get_import_dump_stream(IMPORT_PRODUCTS, old_task))


def replaced_dump_via_download(ctx: Ctx) -> Any:
    """Same, through ``download_failure_dumps`` (what the operators call): a warning, no exception."""
    client = ctx.client()
    client.upload_file(FILE_PRODUCTS, BAD_PRODUCTS)
    status = client.run_action(IMPORT_PRODUCTS, raise_on_failure=False)
    client.upload_file(FILE_PRODUCTS, GOOD_PRODUCTS)
    client.run_action(IMPORT_PRODUCTS)
    written = client.download_failure_dumps(IMPORT_PRODUCTS, status, ctx.tmp / "dumps")
    assert written == []
    return written


def revenue_by_version(ctx: Ctx, mapping: dict[str, str] | None) -> Any:
    """Upload revenue.csv, then run "Revenue by Version" with ``mapping``."""
    client = ctx.client()
    client.upload_file(FILE_REVENUE, b"Product,Month,Revenue\nP001,Jan 26,10\n")
    return client.run_action(IMPORT_BY_VERSION, mapping_parameters=mapping)


def slow_task(ctx: Ctx) -> tuple[AnaplanClient, str]:
    ctx.emu.admin.configure(min_task_seconds=5)
    client = ctx.client()
    client.upload_file(FILE_PRODUCTS, GOOD_PRODUCTS)
    return client, client.start_task(IMPORT_PRODUCTS)


def cancelled_task(ctx: Ctx) -> Any:
    client, task_id = slow_task(ctx)
    client.cancel_task(IMPORT_PRODUCTS, task_id)
    return client.wait_for_task(IMPORT_PRODUCTS, task_id, poll_interval=0.1, timeout=10)


def dead_port_url() -> str:
    from airflow_provider_anaplan.testing.pytest_plugin import free_port

    return f"http://127.0.0.1:{free_port()}"


def encrypted_key_files(ctx: Ctx, passphrase: str) -> tuple[str, str]:
    cert, key = certificate(passphrase)
    (ctx.tmp / "cert.pem").write_bytes(cert)
    (ctx.tmp / "key.pem").write_bytes(key)
    return str(ctx.tmp / "cert.pem"), str(ctx.tmp / "key.pem")


def mismatched_key(ctx: Ctx) -> Any:
    cert, _ = certificate()
    _, other_key = certificate()
    return CertificateCredentials(cert, other_key)


def unregistered_certificate(ctx: Ctx) -> Any:
    cert, key = certificate()
    return ctx.client(CertificateCredentials(cert, key)).list_files()


def text_mode_file(ctx: Ctx) -> Any:
    path = ctx.tmp / "products.csv"
    path.write_bytes(GOOD_PRODUCTS)
    with path.open("r") as handle:
        return ctx.client().upload_file(FILE_PRODUCTS, handle)


def empty_file(ctx: Ctx) -> Any:
    path = ctx.tmp / "empty.csv"
    path.write_bytes(b"")
    return ctx.client().upload_file(FILE_PRODUCTS, path)


# ------------------------------------------------------------------------------------ the table


@dataclass(frozen=True)
class BadInput:
    """One row: ``given`` (what the user did) -> ``error`` (exact type) with ``message`` in ``str(exc)``.

    ``error=None`` means no exception: a WARNING containing ``message`` is logged instead.
    """

    id: str
    area: str
    given: str
    run: Callable[[Ctx], Any]
    error: type[BaseException] | Callable[[], type[BaseException]] | None
    message: str

    def error_type(self) -> type[BaseException] | None:
        if self.error is None or isinstance(self.error, type):
            return self.error
        return self.error()


C, H, OP, S, A = "client config", "Airflow connection", "operator argument", "upload source", "Anaplan answer"

CASES: list[BadInput] = [
    # --- Airflow connection fields (AnaplanHook, connection from an AIRFLOW_CONN_* JSON variable)
    BadInput("conn-unknown-id", H, "`anaplan_conn_id` that is not defined",
             lambda c: hook("anaplan_no_such_conn").get_client_config(),
             _not_found_exception, "The conn_id `anaplan_no_such_conn` isn't defined"),
    BadInput("conn-auth-type", H, "extra `auth_type: \"saml\"`",
             lambda c: c.hook_config(auth_type="saml"),
             AnaplanConfigError, "extra 'auth_type'='saml' must be one of basic, certificate, oauth"),
    BadInput("conn-no-password", H, "basic auth, password left empty",
             lambda c: c.hook_config(password=None),
             AnaplanConfigError, "auth_type 'basic' needs a password in the Anaplan connection"),
    BadInput("conn-no-login", H, "basic auth, login left empty",
             lambda c: c.hook_config(login=None),
             AnaplanConfigError, "auth_type 'basic' needs a login (Anaplan user name)"),
    BadInput("conn-workspace-id", H, "extra `workspace_id: \"Demo Workspace\"` (a name, not the id)",
             lambda c: c.hook_config(workspace_id="Demo Workspace"),
             AnaplanConfigError, "workspace_id must be 32 hexadecimal characters (as in the Anaplan URL)"),
    BadInput("conn-model-id", H, "extra `model_id` with 31 characters",
             lambda c: c.hook_config(model_id="75A40874E6B64FA3AE0B4E5D5B4B9A0"),
             AnaplanConfigError, "model_id must be 32 hexadecimal characters"),
    BadInput("conn-api-url", H, "extra `api_url: \"api.anaplan.com/2/0\"` (no scheme)",
             lambda c: c.hook_config(api_url="api.anaplan.com/2/0"),
             AnaplanConfigError, "api_url must be an http(s) URL such as https://host/path"),
    BadInput("conn-region", H, "extra `region: \"mars1\"`",
             lambda c: c.hook_config(region="mars1"),
             AnaplanConfigError, "extra 'region'='mars1' is not an Anaplan region; use one of us1, us2"),
    BadInput("conn-masked-value", H, "extra `rotatable_token: \"***\"` (saved by the UI form of older versions)",
             lambda c: c.hook_config(auth_type="oauth", client_id="emulator-device-client",
                                     refresh_token="rt-0123456789", rotatable_token="***"),
             AnaplanConfigError, "extra 'rotatable_token' is '***': Airflow masks any extra whose name contains 'token'"),
    BadInput("conn-ca-bundle", H, "extra `ca_bundle: \"/etc/ssl/no-such-ca.pem\"`",
             lambda c: c.hook_config(ca_bundle="/etc/ssl/no-such-ca.pem"),
             AnaplanConfigError, "extra 'ca_bundle': CA bundle path '/etc/ssl/no-such-ca.pem' does not exist"),
    BadInput("conn-verify-ssl-path", H, "extra `verify_ssl: \"/etc/ssl/no-such-ca.pem\"`",
             lambda c: c.hook_config(verify_ssl="/etc/ssl/no-such-ca.pem"),
             AnaplanConfigError, "verify: CA bundle path '/etc/ssl/no-such-ca.pem' does not exist"),
    BadInput("conn-timeout", H, "extra `timeout: \"soon\"`",
             lambda c: c.hook_config(timeout="soon"),
             AnaplanConfigError, "extra 'timeout'='soon' must be a number"),
    BadInput("conn-chunk-size", H, "extra `chunk_size_mb: 100`",
             lambda c: c.hook_config(chunk_size_mb=100),
             AnaplanConfigError, "chunk_size_mb must be an integer from 1 to 50, got 100"),
    BadInput("conn-compression", H, "extra `compression: \"sometimes\"`",
             lambda c: c.hook_config(compression="sometimes"),
             AnaplanConfigError, "extra 'compression'='sometimes' must be true or false"),
    BadInput("conn-cert-no-key", H, "`auth_type: certificate` without `private_key`",
             lambda c: c.hook_config(auth_type="certificate", certificate=certificate()[0].decode()),
             AnaplanConfigError, "auth_type 'certificate' needs extra 'private_key' in the Anaplan connection"),
    BadInput("conn-cert-missing-file", H, "extra `certificate: \"/no/such/cert.pem\"`",
             lambda c: c.hook_config(auth_type="certificate", certificate="/no/such/cert.pem",
                                     private_key=certificate()[1].decode()),
             AnaplanConfigError, "certificate file /no/such/cert.pem does not exist"),
    BadInput("conn-oauth-no-refresh-token", H, "`auth_type: oauth` without `refresh_token`",
             lambda c: c.hook_config(auth_type="oauth", client_id="emulator-device-client"),
             AnaplanConfigError, "auth_type 'oauth' needs extra 'refresh_token' in the Anaplan connection"),
    BadInput("conn-bad-password", H, "wrong password (first call through the hook)",
             lambda c: hook(c.connection(password="not-the-password")).list_files(),
             AnaplanAuthError, "Anaplan basic authentication for demo@example.com refused: HTTP 401"),
    # --- client config and credentials
    BadInput("cfg-credentials-type", C, "`ClientConfig(credentials=(\"user\", \"pass\"))`",
             lambda c: ClientConfig(credentials=("user", "pass")),  # type: ignore[arg-type]
             AnaplanConfigError, "credentials must be BasicCredentials, CertificateCredentials or OAuthCredentials, got tuple"),
    BadInput("cfg-empty-username", C, "`BasicCredentials(\"\", \"pw\")`",
             lambda c: BasicCredentials("", "pw"),
             AnaplanConfigError, "username must not be empty"),
    BadInput("cfg-retry", C, "`RetryPolicy(max_attempts=0)`",
             lambda c: RetryPolicy(max_attempts=0),
             AnaplanConfigError, "retry.max_attempts must be an integer from 1 to 100, got 0"),
    BadInput("cfg-poll-interval", C, "`ClientConfig(poll_interval=0)`",
             lambda c: c.config(poll_interval=0),
             AnaplanConfigError, "poll_interval must be >= 0.1 seconds, got 0"),
    BadInput("cfg-timeout-nan", C, "`ClientConfig(timeout=float(\"nan\"))`",
             lambda c: c.config(timeout=float("nan")),
             AnaplanConfigError, "timeout must be a finite number of seconds, got nan"),
    BadInput("cfg-timeout-bool", C, "`ClientConfig(timeout=True)`",
             lambda c: c.config(timeout=True),
             AnaplanConfigError, "timeout must be a number of seconds, got True"),
    BadInput("cfg-wait-timeout-nan", C, "`wait_for_task(..., timeout=float(\"nan\"))`",
             lambda c: c.client().wait_for_task(IMPORT_PRODUCTS, "ABC", timeout=float("nan")),
             AnaplanConfigError, "timeout must be a finite number of seconds, got nan"),
    BadInput("cfg-wait-poll-interval", C, "`wait_for_task(..., poll_interval=0.01)`",
             lambda c: c.client().wait_for_task(IMPORT_PRODUCTS, "ABC", poll_interval=0.01),
             AnaplanConfigError, "poll_interval must be >= 0.1 seconds, got 0.01"),
    BadInput("cred-cert-not-pem", C, "certificate file that is not PEM",
             lambda c: (c.tmp.joinpath("cert.pem").write_text("hello"),
                        CertificateCredentials(c.tmp / "cert.pem", certificate()[1])),
             AnaplanConfigError, "is not a PEM certificate (expected '-----BEGIN CERTIFICATE-----')"),
    BadInput("cred-key-encrypted", C, "encrypted private key, no passphrase",
             lambda c: CertificateCredentials(*encrypted_key_files(c, "right-passphrase")),
             AnaplanAuthError, "is encrypted: give its passphrase"),
    BadInput("cred-wrong-passphrase", C, "encrypted private key, wrong passphrase",
             lambda c: CertificateCredentials(*encrypted_key_files(c, "right-passphrase"), passphrase="wrong"),
             AnaplanAuthError, "Wrong passphrase for private_key file"),
    BadInput("cred-key-mismatch", C, "private key of another certificate",
             mismatched_key,
             AnaplanAuthError, "does not match certificate (PEM bytes) (different public keys)"),
    BadInput("cfg-task-timeout", C, "`wait_for_task(timeout=0.3)` on a 5 s import",
             lambda c: (lambda cl, t: cl.wait_for_task(IMPORT_PRODUCTS, t, poll_interval=0.1, timeout=0.3))(*slow_task(c)),
             AnaplanTaskTimeoutError, "is still IN_PROGRESS after 0.3 s"),
    # --- operator arguments
    BadInput("op-poll-interval", OP, "`AnaplanImportOperator(poll_interval=0)`",
             lambda c: c.execute("imports.AnaplanImportOperator", import_id=IMPORT_PRODUCTS, poll_interval=0),
             AnaplanConfigError, "poll_interval must be >= 0.1 seconds"),
    BadInput("op-timeout-nan", OP, "`AnaplanImportOperator(timeout=float(\"nan\"))`",
             lambda c: c.execute("imports.AnaplanImportOperator", import_id=IMPORT_PRODUCTS, timeout=float("nan")),
             AnaplanConfigError, "timeout must be a finite number of seconds, got nan"),
    BadInput("op-poll-interval-inf", OP, "`AnaplanExportOperator(poll_interval=float(\"inf\"))`",
             lambda c: c.execute("export.AnaplanExportOperator", export_id=EXPORT_PRODUCTS, poll_interval=float("inf")),
             AnaplanConfigError, "poll_interval must be a finite number of seconds, got inf"),
    BadInput("op-sensor-poke-interval-nan", OP, "`AnaplanTaskSensor(poke_interval=float(\"nan\"))`",
             lambda c: sensor(poke_interval=float("nan")),
             AnaplanConfigError, "poke_interval must be a finite number of seconds, got nan"),
    BadInput("op-sensor-timeout-nan", OP, "`AnaplanTaskSensor(timeout=float(\"nan\"), deferrable=True)`",
             lambda c: sensor(timeout=float("nan"), deferrable=True),
             AnaplanConfigError, "timeout must be a finite number of seconds, got nan"),
    BadInput("op-trigger-poll-interval", OP, "`AnaplanTaskTrigger(poll_interval=0)`",
             lambda c: trigger(poll_interval=0),
             AnaplanConfigError, "poll_interval must be >= 0.1 seconds, got 0"),
    BadInput("op-timeout", OP, "`AnaplanImportOperator(timeout=-1)`",
             lambda c: c.execute("imports.AnaplanImportOperator", import_id=IMPORT_PRODUCTS, timeout=-1),
             AnaplanConfigError, "timeout must be > 0 seconds"),
    BadInput("op-import-id-is-file", OP, "`AnaplanImportOperator(import_id=\"113000000000\")` (a file id)",
             lambda c: c.execute("imports.AnaplanImportOperator", import_id=FILE_PRODUCTS),
             AnaplanConfigError, "action_id 113000000000 is a file id (prefix 113); expected import (112…)"),
    BadInput("op-upload-to-import-id", OP, "`AnaplanUploadFileOperator(file_id=\"112000000000\")`",
             lambda c: c.execute("upload.AnaplanUploadFileOperator", file_id=IMPORT_PRODUCTS, source=b"x"),
             AnaplanConfigError, "file_id 112000000000 is an import id (prefix 112); expected file (113…)"),
    BadInput("op-mapping-parameters", OP, "`mapping_parameters=\"Version=Actual\"` (a string)",
             lambda c: c.execute("imports.AnaplanImportOperator", import_id=IMPORT_BY_VERSION,
                                 mapping_parameters="Version=Actual"),
             AnaplanConfigError, "mapping_parameters must be a dict (entityType -> entityName) or a list of dicts"),
    BadInput("op-uploads-missing-file", OP, "`uploads={\"113000000000\": \"/data/missing.csv\"}`",
             lambda c: c.execute("imports.AnaplanImportOperator", import_id=IMPORT_PRODUCTS,
                                 uploads={FILE_PRODUCTS: "/data/missing.csv"}),
             AnaplanConfigError, "Upload source file /data/missing.csv does not exist"),
    BadInput("op-export-destination-dir", OP, "`AnaplanExportOperator(destination=<an existing directory>)`",
             lambda c: c.execute("export.AnaplanExportOperator", export_id=EXPORT_PRODUCTS, destination=str(c.tmp)),
             AnaplanConfigError, "is a directory; give a file path"),
    # --- upload sources
    BadInput("src-empty-bytes", S, "`upload_file(file_id, b\"\")`",
             lambda c: c.client().upload_file(FILE_PRODUCTS, b""),
             AnaplanConfigError, "Nothing to upload to file 113000000000: the bytes content is empty"),
    BadInput("src-empty-file", S, "an empty local file",
             empty_file,
             AnaplanConfigError, "Nothing to upload to file 113000000000: the file"),
    BadInput("src-missing-path", S, "`Path(\"/data/missing.csv\")`",
             lambda c: c.client().upload_file(FILE_PRODUCTS, Path("/data/missing.csv")),
             AnaplanConfigError, "Upload source file /data/missing.csv does not exist"),
    BadInput("src-directory", S, "a directory `Path`",
             lambda c: c.client().upload_file(FILE_PRODUCTS, c.tmp),
             AnaplanConfigError, "is a directory, not a file"),
    BadInput("src-unencodable-str", S, "`Content(\"Product\\n\\ud800\\n\")` (a lone surrogate)",
             lambda c: c.client().upload_file(FILE_PRODUCTS, Content("Product\n\ud800\n")),
             AnaplanConfigError, "the Content text cannot be encoded as UTF-8"),
    BadInput("src-str-missing-path", S, "`AnaplanHook().upload_file(file_id, \"/data/x.csv\")` (a `str` is a path)",
             lambda c: hook(c.connection()).upload_file(FILE_PRODUCTS, "/data/x.csv"),
             AnaplanConfigError, "Upload source file /data/x.csv does not exist (a str source is a path; pass bytes or Content(...)"),
    BadInput("src-str-content", S, "CSV text given as a `str` (`upload_file(file_id, \"Product,...\\n...\")`)",
             lambda c: c.client().upload_file(FILE_PRODUCTS, GOOD_PRODUCTS.decode()),
             AnaplanConfigError, "is not a file path (a str source is a path; pass bytes or Content(...)"),
    BadInput("src-uri-without-airflow", S, "`AnaplanClient.upload_file(file_id, \"s3://bucket/x.csv\")`",
             lambda c: c.client().upload_file(FILE_PRODUCTS, "s3://bucket/x.csv"),
             AnaplanConfigError, "is an object-storage URI: pass an Airflow ObjectStoragePath"),
    BadInput("src-wrong-type", S, "`upload_file(file_id, 42)`",
             lambda c: c.client().upload_file(FILE_PRODUCTS, 42),
             AnaplanConfigError, "Cannot upload a int: give bytes or Content(...) (content), a str or pathlib.Path"),
    BadInput("src-text-mode-file", S, "a file object opened in text mode",
             text_mode_file,
             AnaplanConfigError, "the file object is open in text mode; open it with mode 'rb'"),
    BadInput("src-export-id-as-file", S, "`upload_file(\"116000000001\", ...)` (an export id)",
             lambda c: c.client().upload_file(EXPORT_PRODUCTS, b"x"),
             AnaplanConfigError, "file_id 116000000001 is an export id (prefix 116); expected file (113…)"),
    BadInput("src-unknown-file", S, "`upload_file(\"113999999999\", ...)` (no such file in the model)",
             lambda c: c.client().upload_file("113999999999", b"x"),
             AnaplanNotFoundError, "File 113999999999: not in model 75A40874E6B64FA3AE0B4E5D5B4B9A0B (not found or no access)"),
    # --- Anaplan answers
    BadInput("ans-bad-password", A, "wrong password",
             lambda c: c.client(BasicCredentials("demo@example.com", "not-the-password")).list_files(),
             AnaplanAuthError, "Anaplan basic authentication for demo@example.com refused: HTTP 401"),
    BadInput("ans-unregistered-cert", A, "certificate not registered to any Anaplan user",
             unregistered_certificate,
             AnaplanAuthError, "Anaplan certificate authentication for CN=demo@example.com refused: HTTP 401"),
    BadInput("ans-dead-refresh-token", A, "OAuth refresh token expired, revoked or already used",
             lambda c: c.client(OAuthCredentials("emulator-device-client", "dead-refresh-token")).list_files(),
             AnaplanReauthorizationRequired, "run `airflow-anaplan oauth-register` to register the client again"),
    BadInput("ans-unknown-import", A, "`run_action(\"112999999999\")` (unknown import id)",
             lambda c: c.client().run_action("112999999999"),
             AnaplanNotFoundError, "Import 112999999999: HTTP 404 Not Found from POST"),
    BadInput("ans-wrong-workspace", A, "model id under another workspace id",
             lambda c: c.client(workspace_id="0123456789abcdef0123456789abcdef").list_files(),
             AnaplanNotFoundError, "(not found or no access)"),
    BadInput("ans-model-locked", A, "model LOCKED (another user's job, maintenance)",
             lambda c: (with_model_state(c, "LOCKED"), c.client().run_action(IMPORT_PRODUCTS)),
             AnaplanModelLockedError, "Import 112000000000: HTTP 423"),
    BadInput("ans-model-archived", A, "model ARCHIVED",
             lambda c: (with_model_state(c, "ARCHIVED"), c.client().list_files()),
             AnaplanUnprocessableError, "HTTP 422"),
    BadInput("ans-409-after-retries", A, "409 model busy on every task POST (after retries)",
             lambda c: (c.emu.admin.add_fault(method="POST", path_regex=r"/tasks$", status=409),
                        c.client().run_action(IMPORT_PRODUCTS)),
             AnaplanConflictError, "Import 112000000000: HTTP 409"),
    BadInput("ans-429-after-retries", A, "429 with Retry-After on every call (after retries)",
             lambda c: (c.emu.admin.add_fault(path_regex=r"/files$", status=429, retry_after=1),
                        c.client().list_files()),
             AnaplanRateLimitedError, "HTTP 429 Too Many Requests from GET"),
    BadInput("ans-5xx-after-retries", A, "503 on every status poll (after retries)",
             lambda c: (lambda cl, t: (c.emu.admin.add_fault(method="GET", path_regex=r"/tasks/", status=503),
                                       cl.get_task_status(IMPORT_PRODUCTS, t)))(*slow_task(c)),
             AnaplanServerError, "Import 112000000000: HTTP 503 Service Unavailable from GET"),
    BadInput("ans-chunk-5xx", A, "500 on every chunk PUT (after retries)",
             lambda c: (c.emu.admin.add_fault(method="PUT", path_regex=r"/chunks/", status=500),
                        c.client().upload_file(FILE_PRODUCTS, GOOD_PRODUCTS)),
             AnaplanUploadError, "Upload to file 113000000000 failed at chunk 1/1 (index 0)"),
    BadInput("ans-connection-refused", A, "nothing listening at `auth_url`",
             lambda c: c.client(auth_url=dead_port_url()).list_files(),
             AnaplanTransportError, "POST /token/authenticate connection error (ConnectError"),
    BadInput("ans-complete-failed", A, "import COMPLETE with `successful: false` (a bad boolean row)",
             lambda c: (c.client().upload_file(FILE_PRODUCTS, BAD_PRODUCTS),
                        c.client().run_action(IMPORT_PRODUCTS)),
             AnaplanTaskFailedError, "COMPLETE; NOT successful"),
    BadInput("ans-file-not-uploaded", A, "import run before its source file was ever uploaded",
             lambda c: c.client().run_action(IMPORT_PRODUCTS),
             AnaplanTaskFailedError, "The import file 113000000000 has no content: upload it before running"),
    BadInput("ans-mapping-missing", A, "import needing a mapping parameter run without it",
             lambda c: revenue_by_version(c, None),
             AnaplanTaskFailedError, "Mapping parameter 'Version' is required"),
    BadInput("ans-mapping-unknown", A, "`mapping_parameters={\"Version\": \"Plan\"}` (no such member)",
             lambda c: revenue_by_version(c, {"Version": "Plan"}),
             AnaplanTaskFailedError, "'Plan' is not a member of Versions"),
    BadInput("ans-cancelled", A, "task cancelled in Anaplan while waited for",
             cancelled_task,
             AnaplanTaskCancelledError, "CANCELLED (cancelled)"),
    BadInput("ans-dump-404", A, "failure dump replaced by a newer task (404), fetched directly",
             replaced_dump,
             AnaplanNotFoundError, "HTTP 404 Not Found from GET"),
    BadInput("ans-dump-404-download", A, "failure dump 404 in `download_failure_dumps` (what operators call)",
             replaced_dump_via_download,
             None, "is no longer available"),
]


def _error_name(case: BadInput) -> str:
    error = case.error_type()
    if error is None:
        return "no exception: WARNING logged"
    module = error.__module__
    short = error.__name__ if module in ("builtins", "airflow_provider_anaplan.exceptions") else f"{module}.{error.__name__}"
    return f"`{short}`"


def render_markdown(cases: list[BadInput] = CASES) -> str:
    """``docs/bad-inputs.md``, rendered from :data:`CASES`."""
    lines = [
        "# Bad inputs: what the user sees",
        "",
        "<!-- Generated from tests/reliability/test_bad_inputs.py (CASES); do not edit by hand.",
        "     Regenerate: .venv/bin/python tests/reliability/test_bad_inputs.py --write -->",
        "",
        "Every row is a test in `tests/reliability/test_bad_inputs.py`: it runs the bad input against the",
        "emulator and asserts the **exact** exception type and that the message contains the text shown.",
        "Exceptions without a module are in `airflow_provider_anaplan.exceptions` (all derive from",
        "`AnaplanError`; `AnaplanConfigError` is also a `ValueError`) or are Python built-ins.",
        "Errors about the configuration are raised before any request is sent; errors from Anaplan are",
        "raised after the client's retries (409, 429 and 5xx are retried with backoff, honouring",
        "`Retry-After`). No message contains a password, key, passphrase or token.",
        "",
        f"{len(cases)} cases.",
        "",
        "| # | area | bad input | exception | message contains |",
        "|---|---|---|---|---|",
    ]
    for number, case in enumerate(cases, start=1):
        message = case.message.replace("|", "\\|")
        shown = f"`` {message} ``" if "`" in message else f"`{message}`"
        given = case.given.replace("|", "\\|")
        lines.append(f"| {number} | {case.area} | {given} | {_error_name(case)} | {shown} |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------ the tests


@pytest.fixture
def ctx(anaplan_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ctx]:
    clear_token_cache()
    context = Ctx(anaplan_emulator, tmp_path, monkeypatch)
    try:
        yield context
    finally:
        context.close()
        clear_token_cache()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: BadInput, ctx: Ctx, caplog: pytest.LogCaptureFixture) -> None:
    """The exact exception type and the message a user sees (or the WARNING, for ``error=None``)."""
    expected = case.error_type()
    if expected is None:
        with caplog.at_level(logging.WARNING):
            case.run(ctx)
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert any(case.message in w for w in warnings), warnings
        return
    with pytest.raises(BaseException) as info:
        case.run(ctx)
    assert type(info.value) is expected, f"{type(info.value).__name__}: {info.value}"
    assert case.message in str(info.value), str(info.value)


def test_table_is_large_and_ids_unique() -> None:
    assert len(CASES) >= 25
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.area for c in CASES} == {C, H, OP, S, A}


def test_encrypted_key_hint_names_the_real_connection_extra(tmp_path: Path) -> None:
    """The hint for an encrypted key without passphrase must name the extra the hook actually reads."""
    cert, key = certificate("right-passphrase")
    with pytest.raises(AnaplanAuthError) as info:
        CertificateCredentials(cert, key)
    assert "'private_key_passphrase'" in str(info.value), str(info.value)


def test_doc_is_in_sync() -> None:
    """docs/bad-inputs.md is exactly what the table renders (regenerate with --write)."""
    assert DOC.read_text(encoding="utf-8") == render_markdown(), (
        "docs/bad-inputs.md is stale: run .venv/bin/python tests/reliability/test_bad_inputs.py --write"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        DOC.write_text(render_markdown(), encoding="utf-8")
        print(f"wrote {DOC} ({len(CASES)} cases)")
    else:
        sys.stdout.write(render_markdown())
