"""Provider metadata for Airflow's ProvidersManager (entry point ``apache_airflow_provider``).

Plain data only: no I/O and no imports of the provider's modules (only the package's
``__version__``, the one source of the version), so ``airflow providers list`` and
the connection form stay fast. ``conn-fields`` declares every extra of the ``anaplan`` connection
type (secrets with ``format: password``); keep it in sync with
:data:`airflow_provider_anaplan.hooks.connection.EXTRA_KEYS` (a test checks it).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_anaplan import __version__

#: Placeholder repository URL until the project is published (also in ``pyproject.toml``'s
#: ``[project.urls]``, which is where Airflow reads ``documentation-url`` from at discovery).
REPOSITORY_URL = "https://github.com/airflow-provider-anaplan/airflow-provider-anaplan"
DOCUMENTATION_URL = f"{REPOSITORY_URL}#readme"

_S = ["string", "null"]
_B = ["boolean", "null"]
_I = ["integer", "null"]
_N = ["number", "null"]

# Form sections (Airflow 3.3's form shows each as a collapsible group, in this order). Airflow's UI
# cannot show or hide fields by auth type, so the fields are grouped, ordered and labelled by it.
_MAIN, _CERT, _OAUTH, _NET = "Anaplan", "Certificate auth", "OAuth auth", "Endpoints, TLS and transfers"

#: Anaplan regions for the ``region`` extra (code -> label); the URLs are in
#: :data:`airflow_provider_anaplan.hooks.connection.REGIONS` (a test checks both agree).
_REGIONS = {
    "us1": "Data Center - US East", "us2": "Data Center - US West", "us5": "Cloud - US East",
    "us7": "Cloud - US", "us9": "Cloud - US", "eu1": "Data Center - Netherlands",
    "eu2": "Data Center - Germany", "eu3": "Cloud - Europe", "eu4": "Cloud - Europe",
    "eu5": "Cloud - Europe", "gb1": "Cloud - UK", "ap1": "Cloud - Japan", "au1": "Cloud - Australia",
    "ca1": "Cloud - Canada", "sg1": "Cloud - Singapore", "ae1": "Cloud - UAE", "in1": "Cloud - India",
    "id1": "Cloud - Indonesia", "me1": "Cloud - Saudi Arabia",
}
_API_HOSTS = ["api", "us9.api", "eu3.api", "eu5.api", "gb1.api", "ca1a.api", "sg1.api", "ae1.api", "in1.api",
              "id1.api", "me1.api", "au1a.api2"]
_AUTH_HOSTS = ["auth", "us9.auth", "eu3.auth", "eu5.auth", "gb1.auth", "ca1a.auth", "sg1.auth", "ae1.auth",
               "in1.auth", "id1.auth", "me1.auth", "au1a.app2"]
_APP_HOSTS = ["us1a.app", "us9.app", "eu3.app", "eu5.app", "gb1.app", "ca1a.app", "sg1.app", "ae1.app", "in1.app",
              "id1.app", "me1.app", "au1a.app2"]

# Names: Airflow's secret masker hides the value of any extra whose name *contains* one of its
# sensitive words (token, secret, password, passphrase, private_key, api_key, access_token, ...): the
# UI form and the REST API then show "***". Only the secrets below have such names. Help texts are
# plain text (the form shows them verbatim). String fields' "examples" are what the form offers as
# suggestions (a datalist, with the placeholder "Start typing to see options"); placeholders in
# ui-field-behaviour reach the standard fields (Username, Password) only.
CONN_FIELDS: dict[str, dict[str, Any]] = {
    "auth_type": {
        "label": "Auth type",
        "description": "basic: Username and Password (Standard Fields). certificate: the Certificate auth "
        "fields. oauth: the OAuth auth fields. Fields of the other auth types are ignored.",
        "schema": {
            "type": _S, "enum": ["basic", "certificate", "oauth"], "default": "basic", "section": _MAIN,
            "values_display": {
                "basic": "basic (Username + Password)",
                "certificate": "certificate (CA certificate + private key)",
                "oauth": "oauth (client ID + refresh token)",
            },
        },
    },
    "region": {
        "label": "Region",
        "description": "Your tenant's Anaplan region: sets the Bulk API, Authentication API and OAuth/app "
        "URLs at once. Empty: the US/legacy hosts (api.anaplan.com, auth.anaplan.com, "
        "us1a.app.anaplan.com). A URL entered under Endpoints still overrides its part.",
        "schema": {
            "type": _S, "enum": list(_REGIONS), "section": _MAIN,
            "values_display": {code: f"{code.upper()} ({label})" for code, label in _REGIONS.items()},
        },
    },
    "workspace_id": {
        "label": "Workspace ID",
        "description": "32 hex characters, from the model's URL (.../workspaces/<workspace ID>/models/<model "
        "ID>/...). Operators may override it.",
        "schema": {"type": _S, "pattern": "^([0-9a-fA-F]{32})?$", "section": _MAIN},
    },
    "model_id": {
        "label": "Model ID",
        "description": "32 hex characters, from the model's URL. Operators may override it.",
        "schema": {"type": _S, "pattern": "^([0-9a-fA-F]{32})?$", "section": _MAIN},
    },
    "certificate": {
        "label": "Certificate: certificate (PEM or path)",
        "description": "The CA-issued certificate registered in Anaplan: PEM text (-----BEGIN CERTIFICATE-----) "
        "or the path of a PEM file on the workers.",
        "schema": {"type": _S, "format": "multiline", "section": _CERT},
    },
    "private_key": {
        "label": "Certificate: private key (PEM or path)",
        "description": "The certificate's RSA private key: PEM text (pasting it on one line is fine) or the "
        "path of a PEM file on the workers. Secret.",
        "schema": {"type": _S, "format": "password", "section": _CERT},
    },
    "private_key_passphrase": {
        "label": "Certificate: key passphrase",
        "description": "Only for an encrypted private key. Secret.",
        "schema": {"type": _S, "format": "password", "section": _CERT},
    },
    "certificate_format": {
        "label": "Certificate: payload format",
        "description": "v2 (default; mandatory at Anaplan from 2026-06-19) or v1.",
        "schema": {"type": _S, "enum": ["v2", "v1"], "default": "v2", "section": _CERT},
    },
    "client_id": {
        "label": "OAuth: client ID",
        "description": "The OAuth client registered in Anaplan Administration (a device-grant client for "
        "airflow-anaplan oauth-register).",
        "schema": {"type": _S, "section": _OAUTH},
    },
    "client_secret": {
        "label": "OAuth: client secret",
        "description": "Only for authorization-code clients; leave empty for device-grant clients. Secret.",
        "schema": {"type": _S, "format": "password", "section": _OAUTH},
    },
    "refresh_token": {
        "label": "OAuth: refresh token",
        "description": "From airflow-anaplan oauth-register (run it once in a terminal). Secret.",
        "schema": {"type": _S, "format": "password", "section": _OAUTH},
    },
    "refresh_rotates": {
        "label": "OAuth: refresh token rotates",
        "description": "On when the client issues single-use (rotatable) refresh tokens: the connection keeps "
        "the registered token and the current pair lives in a sealed Airflow Variable "
        "(anaplan_oauth_token_state_*) shared by every worker and the triggerer. Replaces the older "
        "rotatable_token extra.",
        "schema": {"type": _B, "default": False, "section": _OAUTH},
    },
    "api_url": {
        "label": "Bulk API URL",
        "description": "Leave empty to use the region's (or https://api.anaplan.com/2/0). Set it only for a "
        "proxy or a test server.",
        "schema": {"type": _S, "format": "url", "section": _NET,
                   "examples": [f"https://{h}.anaplan.com/2/0" for h in _API_HOSTS]},
    },
    "auth_url": {
        "label": "Authentication API URL",
        "description": "Leave empty to use the region's (or https://auth.anaplan.com).",
        "schema": {"type": _S, "format": "url", "section": _NET,
                   "examples": [f"https://{h}.anaplan.com" for h in _AUTH_HOSTS]},
    },
    "oauth_url": {
        "label": "OAuth / app URL",
        "description": "Leave empty to use the region's (or https://us1a.app.anaplan.com). Also builds the "
        "Anaplan model link.",
        "schema": {"type": _S, "format": "url", "section": _NET,
                   "examples": [f"https://{h}.anaplan.com" for h in _APP_HOSTS]},
    },
    "cloudworks_url": {
        "label": "CloudWorks API URL",
        "description": "Leave empty to derive it from the Bulk API URL (https://api.cloudworks.anaplan.com/2/0 "
        "for the default host, else <bulk API host>/cloudworks/2/0). Set it only for a proxy or a test server.",
        "schema": {"type": _S, "format": "url", "section": _NET,
                   "examples": ["https://api.cloudworks.anaplan.com/2/0", "https://api.anaplan.com/cloudworks/2/0"]},
    },
    "verify_ssl": {
        "label": "Verify TLS certificates",
        "description": "On (default): check Anaplan's TLS certificate. Never turn it off in production.",
        "schema": {"type": _B, "default": True, "section": _NET},
    },
    "ca_bundle": {
        "label": "CA bundle path",
        "description": "A PEM file of CA certificates to trust instead of the system's (e.g. behind a TLS "
        "inspecting proxy), as a path on the workers. Empty: the default trust store.",
        "schema": {"type": _S, "section": _NET,
                   "examples": ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"]},
    },
    "timeout": {
        "label": "HTTP timeout (s)",
        "description": "Seconds per HTTP request (default 60). Dormant models can take minutes to open: "
        "raise it.",
        "schema": {"type": _N, "minimum": 1, "default": 60, "section": _NET},
    },
    "chunk_size_mb": {
        "label": "Upload chunk size (MB)",
        "description": "1 to 50, default 25.",
        "schema": {"type": _I, "minimum": 1, "maximum": 50, "default": 25, "section": _NET},
    },
    "compression": {
        "label": "Compress uploads",
        "description": "gzip upload chunks (default on).",
        "schema": {"type": _B, "default": True, "section": _NET},
    },
    "max_concurrency": {
        "label": "Max concurrent chunks",
        "description": "Chunks in flight at once per transfer, 1 to 64 (default 4).",
        "schema": {"type": _I, "minimum": 1, "maximum": 64, "default": 4, "section": _NET},
    },
}

def get_provider_info() -> dict[str, Any]:
    """Return the provider description Airflow reads at startup (no I/O, no heavy imports)."""
    pkg = "airflow_provider_anaplan"
    integration = "Anaplan"
    return {
        "package-name": "airflow-provider-anaplan",
        "name": "Anaplan",
        "description": "`Anaplan <https://www.anaplan.com/>`__ bulk API: uploads, imports, exports, "
        "processes and actions, deferrable, with a local Anaplan emulator for tests.",
        "versions": [__version__],
        "documentation-url": DOCUMENTATION_URL,
        "integrations": [
            {
                "integration-name": integration,
                "external-doc-url": "https://anaplan.docs.apiary.io/",
                # paths from the root of the source distribution (Airflow's provider.yaml convention)
                "logo": "/docs/integration-logos/Anaplan.svg",
                "how-to-guide": ["/docs/airflow.md", "/docs/emulator.md"],
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
                    "relabeling": {"login": "Basic: Username", "password": "Basic: Password"},
                    "placeholders": {
                        "login": "user@example.com (basic auth only)",
                        "password": "basic auth only",
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
                    f"{pkg}.operators.alm",
                    f"{pkg}.operators.cloudworks",
                    f"{pkg}.operators.views",
                    f"{pkg}.operators.lists",
                    f"{pkg}.operators.cells",
                    f"{pkg}.operators.model",
                ],
            }
        ],
        "sensors": [{"integration-name": integration, "python-modules": [f"{pkg}.sensors.task", f"{pkg}.sensors.model"]}],
        "triggers": [{"integration-name": integration, "python-modules": [f"{pkg}.triggers.task"]}],
        "extra-links": [f"{pkg}.links.model.AnaplanModelLink", f"{pkg}.links.cloudworks.AnaplanCloudWorksLink"],
        "asset-uris": [
            {
                "schemes": ["anaplan"],
                "handler": f"{pkg}.operators.assets.sanitize_uri",
                "factory": f"{pkg}.operators.assets.create_asset",
                "to_openlineage_converter": f"{pkg}.operators.assets.to_openlineage",
            }
        ],
    }
