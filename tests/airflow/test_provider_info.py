"""Provider registration: schema validation, connection form, CLI, asset URIs, links."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import airflow
import jsonschema
import pytest

from airflow_provider_anaplan.compat import AIRFLOW_VERSION
from airflow_provider_anaplan.get_provider_info import CONN_FIELDS, get_provider_info
from airflow_provider_anaplan.hooks.connection import EXTRA_KEYS, SECRET_EXTRAS

AIRFLOW_DIR = Path(airflow.__file__).parent


def test_validates_against_airflow_schemas() -> None:
    info = get_provider_info()
    jsonschema.validate(info, json.loads((AIRFLOW_DIR / "provider_info.schema.json").read_text()))
    yaml_schema = json.loads((AIRFLOW_DIR / "provider.yaml.schema.json").read_text())
    conn_schema = yaml_schema["properties"]["connection-types"]["items"]
    for conn in info["connection-types"]:
        jsonschema.validate(conn, conn_schema)


def test_conn_fields_cover_every_extra() -> None:
    assert list(CONN_FIELDS) == list(EXTRA_KEYS)
    for name, field in CONN_FIELDS.items():
        assert field["label"] and field["description"]
        is_password = field["schema"].get("format") == "password"
        assert is_password == (name in SECRET_EXTRAS), name


def test_only_secrets_have_names_airflow_masks() -> None:
    """Airflow hides the value of any extra whose name contains a sensitive word: the UI form then shows
    and saves "***". Only the secrets may have such names (checked with Airflow's own rule and list)."""
    from airflow._shared.secrets_masker import DEFAULT_SENSITIVE_FIELDS, should_hide_value_for_key

    assert "token" in DEFAULT_SENSITIVE_FIELDS and should_hide_value_for_key("rotatable_token")
    for name in EXTRA_KEYS:
        assert should_hide_value_for_key(name) == (name in SECRET_EXTRAS), name
        assert should_hide_value_for_key(f"extra__anaplan__{name}") == (name in SECRET_EXTRAS), name


def test_form_fields_render_as_intended() -> None:
    """Booleans are single-type (a switch, not the multi-type JSON box), help texts are plain text,
    every field is in a section, auth-specific fields are labelled and grouped by auth type."""
    sections: list[str] = []
    for name, field in CONN_FIELDS.items():
        schema = field["schema"]
        non_null = [t for t in schema["type"] if t != "null"]
        assert len(non_null) == 1, name  # more than one type: the UI shows a JSON text box
        assert "`" not in field["description"], f"{name}: help is plain text, backticks would show"
        assert schema["section"], name
        if schema["section"] not in sections:
            sections.append(schema["section"])
        else:
            assert sections[-1] == schema["section"], f"{name}: sections must be contiguous"
        if name in ("certificate", "private_key", "private_key_passphrase", "certificate_format"):
            assert field["label"].startswith("Certificate: ") and schema["section"] == "Certificate auth"
        if name in ("client_id", "client_secret", "refresh_token", "refresh_rotates"):
            assert field["label"].startswith("OAuth: ") and schema["section"] == "OAuth auth"
        if "examples" in schema:  # what renders as a placeholder + suggestions for a string field
            assert non_null == ["string"] and "enum" not in schema, name
    for name in ("verify_ssl", "refresh_rotates", "compression"):
        assert CONN_FIELDS[name]["schema"]["type"] == ["boolean", "null"], name
    for name in ("api_url", "auth_url", "oauth_url", "region", "ca_bundle"):
        assert "default" not in CONN_FIELDS[name]["schema"], f"{name}: a default would be saved and win"


def test_region_field_matches_the_region_table() -> None:
    from airflow_provider_anaplan.hooks.connection import REGIONS

    schema = CONN_FIELDS["region"]["schema"]
    assert schema["enum"] == list(REGIONS)
    assert set(schema["values_display"]) == set(REGIONS)
    for code, region in REGIONS.items():
        assert region.label in schema["values_display"][code]
    for name in ("api_url", "auth_url", "oauth_url"):
        assert set(CONN_FIELDS[name]["schema"]["examples"]) == {getattr(r, name) for r in REGIONS.values()}, name


def test_every_declared_class_imports() -> None:
    info = get_provider_info()
    modules = [m for kind in ("hooks", "operators", "sensors", "triggers") for e in info[kind] for m in e["python-modules"]]
    for module in modules:
        importlib.import_module(module)
    for dotted in [*info["extra-links"], info["connection-types"][0]["hook-class-name"], info["asset-uris"][0]["handler"]]:
        module, name = dotted.rsplit(".", 1)
        assert getattr(importlib.import_module(module), name)


@pytest.mark.skipif(AIRFLOW_VERSION < (3, 2), reason="conn-fields in provider info: Airflow >= 3.2 (docs/compatibility.md)")
def test_providers_manager_sees_connection_form() -> None:
    from airflow.providers_manager import ProvidersManager

    pm = ProvidersManager()
    assert "airflow-provider-anaplan" in pm.providers
    assert pm.hooks["anaplan"].hook_class_name.endswith("AnaplanHook")
    widgets = pm.connection_form_widgets
    assert widgets["extra__anaplan__refresh_token"].is_sensitive
    assert not widgets["extra__anaplan__workspace_id"].is_sensitive
    behaviour = pm.field_behaviours["anaplan"]
    assert behaviour["relabeling"]["login"] == "Basic: Username" and "host" in behaviour["hidden_fields"]


def test_cli_lists_and_gets_the_provider(tmp_path: Path) -> None:
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path)}
    airflow_bin = str(Path(sys.executable).with_name("airflow"))
    out = subprocess.run([airflow_bin, "providers", "get", "airflow-provider-anaplan", "-o", "json"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "airflow-provider-anaplan" in out.stdout and "0.1.0" in out.stdout


def test_anaplan_asset_uris_are_normalized(emulator: Any) -> None:
    from airflow.sdk import Asset

    from airflow_provider_anaplan.operators.upload import AnaplanUploadFileOperator

    asset = Asset("anaplan://8A868CD985F53E7701860542F59E276E/75a40874e6b64fa3ae0b4e5d5b4b9a0b/files/113000000000")
    assert asset.uri == "anaplan://8a868cd985f53e7701860542f59e276e/75A40874E6B64FA3AE0B4E5D5B4B9A0B/files/113000000000"
    with pytest.raises(ValueError, match="object kind"):
        Asset("anaplan://8a868cd985f53e7701860542f59e276e/75A40874E6B64FA3AE0B4E5D5B4B9A0B/lists/101000000001")
    op = AnaplanUploadFileOperator(
        task_id="u", file_id="113000000000", source=b"x",
        workspace_id="8a868cd985f53e7701860542f59e276e", model_id="75A40874E6B64FA3AE0B4E5D5B4B9A0B",
    )
    assert [o.uri for o in op.outlets] == [asset.uri]
    templated = AnaplanUploadFileOperator(task_id="t", file_id="{{ params.f }}", source=b"x",
                                          workspace_id=emulator.workspace_id, model_id=emulator.model_id)
    assert templated.outlets == []  # unknown at parse time: no asset guessed


def test_model_link_registered_on_operators() -> None:
    from airflow_provider_anaplan.links.model import AnaplanModelLink
    from airflow_provider_anaplan.operators.export import AnaplanExportOperator

    op = AnaplanExportOperator(task_id="e", export_id="116000000000")
    assert any(isinstance(link, AnaplanModelLink) for link in op.operator_extra_links)
    assert AnaplanModelLink().xcom_key == "_link_AnaplanModelLink"
