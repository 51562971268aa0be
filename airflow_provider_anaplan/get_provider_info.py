"""Provider metadata for Airflow's ProvidersManager (entry point ``apache_airflow_provider``).

Plain data only: no I/O and no imports of the provider's modules, so ``airflow providers list`` and
the connection form stay fast. ``conn-fields`` declares every extra of the ``anaplan`` connection
type (secrets with ``format: password``); keep it in sync with
:data:`airflow_provider_anaplan.hooks.connection.EXTRA_KEYS` (a test checks it).
"""

from __future__ import annotations

from typing import Any

_S = ["string", "null"]
_B = ["boolean", "null"]
_I = ["integer", "null"]
_N = ["number", "null"]

CONN_FIELDS: dict[str, dict[str, Any]] = {
    "auth_type": {
        "label": "Auth type",
        "description": "basic (Username/Password), certificate (CA certificate + private key) or oauth "
        "(client id + refresh token from `airflow-anaplan oauth-register`).",
        "schema": {"type": _S, "enum": ["basic", "certificate", "oauth"], "default": "basic"},
    },
    "workspace_id": {
        "label": "Workspace ID",
        "description": "32 hex characters (from the model URL); operators may override it.",
        "schema": {"type": _S, "pattern": "^([0-9a-fA-F]{32})?$"},
    },
    "model_id": {
        "label": "Model ID",
        "description": "32 hex characters (from the model URL); operators may override it.",
        "schema": {"type": _S, "pattern": "^([0-9a-fA-F]{32})?$"},
    },
    "certificate": {
        "label": "Certificate (PEM or path)",
        "description": "certificate auth: the CA-issued certificate as PEM text or a file path on the workers.",
        "schema": {"type": _S, "format": "multiline"},
    },
    "private_key": {
        "label": "Private key (PEM or path)",
        "description": "certificate auth: the RSA private key as PEM text or a file path on the workers.",
        "schema": {"type": _S, "format": "password"},
    },
    "private_key_passphrase": {
        "label": "Private key passphrase",
        "description": "certificate auth: passphrase of an encrypted private key.",
        "schema": {"type": _S, "format": "password"},
    },
    "certificate_format": {
        "label": "Certificate payload format",
        "description": "v2 (default; mandatory at Anaplan from 2026-06-19) or v1.",
        "schema": {"type": _S, "enum": ["v2", "v1"], "default": "v2"},
    },
    "client_id": {
        "label": "OAuth client ID",
        "description": "oauth auth: the registered OAuth client id.",
        "schema": {"type": _S},
    },
    "client_secret": {
        "label": "OAuth client secret",
        "description": "oauth auth: only for authorization-code clients.",
        "schema": {"type": _S, "format": "password"},
    },
    "refresh_token": {
        "label": "OAuth refresh token",
        "description": "oauth auth: from `airflow-anaplan oauth-register`.",
        "schema": {"type": _S, "format": "password"},
    },
    "rotatable_token": {
        "label": "Rotatable refresh token",
        "description": "oauth auth: the refresh token is single-use; each refresh returns a new one. The "
        "connection keeps the registered token; the current pair lives in a sealed Airflow Variable "
        "(anaplan_oauth_token_state_*) shared by every worker and the triggerer.",
        "schema": {"type": _B, "default": False},
    },
    "api_url": {
        "label": "Bulk API URL",
        "description": "Default https://api.anaplan.com/2/0 (regional hosts exist).",
        "schema": {"type": _S, "format": "url", "default": "https://api.anaplan.com/2/0"},
    },
    "auth_url": {
        "label": "Authentication API URL",
        "description": "Default https://auth.anaplan.com.",
        "schema": {"type": _S, "format": "url", "default": "https://auth.anaplan.com"},
    },
    "oauth_url": {
        "label": "OAuth / app URL",
        "description": "Default https://us1a.app.anaplan.com (also used for the model link).",
        "schema": {"type": _S, "format": "url", "default": "https://us1a.app.anaplan.com"},
    },
    "verify_ssl": {
        "label": "Verify TLS",
        "description": "true, false, or a CA bundle path on the workers.",
        "schema": {"type": ["boolean", "string", "null"], "default": True},
    },
    "timeout": {
        "label": "HTTP timeout (s)",
        "description": "Seconds per HTTP request; dormant models load slowly.",
        "schema": {"type": _N, "minimum": 1, "default": 60},
    },
    "chunk_size_mb": {
        "label": "Upload chunk size (MB)",
        "description": "1 to 50, default 25.",
        "schema": {"type": _I, "minimum": 1, "maximum": 50, "default": 25},
    },
    "compression": {
        "label": "Compress uploads",
        "description": "gzip upload chunks (default on).",
        "schema": {"type": _B, "default": True},
    },
    "max_concurrency": {
        "label": "Max concurrent chunks",
        "description": "Chunks in flight at once, 1 to 64 (default 4).",
        "schema": {"type": _I, "minimum": 1, "maximum": 64, "default": 4},
    },
}


def get_provider_info() -> dict[str, Any]:
    """Return the provider description Airflow reads at startup (no I/O, no heavy imports)."""
    pkg = "airflow_provider_anaplan"
    integration = "Anaplan"
    return {
        "package-name": "airflow-provider-anaplan",
        "name": "Anaplan",
        "description": "Anaplan bulk API: uploads, imports, exports, processes and actions, deferrable.",
        "versions": ["0.1.0"],
        "integrations": [
            {
                "integration-name": integration,
                "external-doc-url": "https://anaplan.docs.apiary.io/",
                "tags": ["service"],
            }
        ],
        "connection-types": [
            {
                "hook-class-name": f"{pkg}.hooks.anaplan.AnaplanHook",
                "hook-name": "Anaplan",
                "connection-type": "anaplan",
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": {
                    "hidden-fields": ["host", "schema", "port", "extra"],
                    "relabeling": {"login": "Username", "password": "Password"},
                    "placeholders": {
                        "login": "user@example.com (basic auth only)",
                        "password": "basic auth only",
                        "workspace_id": "8a868cd985f53e7701860542f59e276e",
                        "model_id": "75A40874E6B64FA3AE0B4E5D5B4B9A0B",
                    },
                },
            }
        ],
        "hooks": [{"integration-name": integration, "python-modules": [f"{pkg}.hooks.anaplan"]}],
        "operators": [
            {
                "integration-name": integration,
                "python-modules": [
                    f"{pkg}.operators.upload",
                    f"{pkg}.operators.imports",
                    f"{pkg}.operators.export",
                    f"{pkg}.operators.process",
                    f"{pkg}.operators.action",
                    f"{pkg}.operators.download",
                ],
            }
        ],
        "sensors": [{"integration-name": integration, "python-modules": [f"{pkg}.sensors.task"]}],
        "triggers": [{"integration-name": integration, "python-modules": [f"{pkg}.triggers.task"]}],
        "extra-links": [f"{pkg}.links.model.AnaplanModelLink"],
        "asset-uris": [{"schemes": ["anaplan"], "handler": f"{pkg}.operators.assets.sanitize_uri"}],
    }
