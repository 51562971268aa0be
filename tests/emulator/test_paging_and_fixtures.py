"""Paging envelope, fixture loading (dict, JSON, YAML via the CLI), reset, TLS, the subprocess helper."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml

from airflow_provider_anaplan.testing.certificates import make_certificate
from airflow_provider_anaplan.testing.emulator import EmulatorServer, default_fixture
from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle, run_emulator_subprocess

from .conftest import PRODUCTS_CSV, M, login, run, upload


def test_limit_offset_paging(client: httpx.Client) -> None:
    first = client.get(f"{M}/files", params={"limit": 3}).json()
    assert first["meta"]["paging"]["currentPageSize"] == 3
    assert first["meta"]["paging"]["totalSize"] == 4
    assert first["meta"]["paging"]["offset"] == 0
    assert "previous" not in first["meta"]["paging"]
    next_url = first["meta"]["paging"]["next"]
    assert next_url.endswith("?limit=3&offset=3")
    second = client.get(next_url).json()
    assert [f["id"] for f in second["files"]] == ["116000000001"]
    assert "next" not in second["meta"]["paging"]
    assert second["meta"]["paging"]["previous"].endswith("?limit=3&offset=0")
    ids = [f["id"] for f in first["files"] + second["files"]]
    assert ids == [f["id"] for f in client.get(f"{M}/files").json()["files"]]
    empty = client.get(f"{M}/imports", params={"offset": 10}).json()
    assert empty["imports"] == [] and empty["meta"]["paging"]["currentPageSize"] == 0


@pytest.mark.parametrize("params", [{"limit": "x"}, {"limit": 0}, {"offset": -1}])
def test_bad_paging_parameters(client: httpx.Client, params: dict) -> None:
    r = client.get(f"{M}/files", params=params)
    assert r.status_code == 400 and r.json()["status"]["code"] == 400


def test_default_page_size_is_configurable(emu: EmulatorHandle, client: httpx.Client) -> None:
    emu.admin.configure(default_page_size=2)
    body = client.get("/2/0/models/" + emu.model_id + "/imports").json()
    assert len(body["imports"]) == 2 and body["meta"]["paging"]["totalSize"] == 3


def small_fixture() -> dict:
    return {
        "users": [{"email": "ops@example.com", "password": "pw", "id": "0123456789abcdef0123456789abcdef"}],
        "workspaces": [{"id": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "name": "WS"}],
        "models": [
            {
                "id": "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
                "name": "Tiny",
                "workspaceId": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "lists": [{"id": "101000000007", "name": "Regions", "items": ["North"]}],
                "files": [{"id": "113000000005", "name": "regions.txt", "content": "Region\nSouth\n"}],
                "imports": [
                    {
                        "id": "112000000005",
                        "name": "Regions",
                        "fileId": "113000000005",
                        "target": "101000000007",
                        "columns": {"Region": "name"},
                    }
                ],
                "exports": [
                    {
                        "id": "116000000005",
                        "name": "Regions.csv",
                        "source": "101000000007",
                        "columns": {"Region": "name"},
                    }
                ],
            }
        ],
    }


def test_load_fixture_and_reset(emu: EmulatorHandle) -> None:
    emu.admin.load_fixture(small_fixture())
    token = login(emu.url, "ops@example.com", "pw")
    base = (
        f"{emu.api_url}/workspaces/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/models/BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
    )
    with httpx.Client(headers={"Authorization": f"AnaplanAuthToken {token}"}) as http:
        r = http.post(f"{base}/imports/112000000005/tasks", json={"localeName": "en_US"})
        task_id = r.json()["task"]["taskId"]
        for _ in range(200):
            task = http.get(f"{base}/imports/112000000005/tasks/{task_id}").json()["task"]
            if task["taskState"] == "COMPLETE":
                break
        assert task["result"]["successful"] is True
    assert [i["name"] for i in emu.admin.list_items("101000000007")] == ["North", "South"]
    emu.admin.reset()
    assert httpx.post(f"{emu.url}/token/authenticate", auth=("ops@example.com", "pw")).status_code == 401
    assert len(emu.admin.list_items("101000000001")) == 5


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f["models"][0].update(id="bbbb"), "upper-case"),
        (lambda f: f["models"][0]["imports"][0].update(target="101000000099"), "neither a list nor a module"),
        (lambda f: f["models"][0]["exports"][0].update(id="112000000009"), "starting with 116"),
        (lambda f: f.update(models=[]), "at least one model"),
        (lambda f: f.update(config={"nope": 1}), "unknown key"),
    ],
)
def test_bad_fixture_is_rejected_and_changes_nothing(emu: EmulatorHandle, mutate, message: str) -> None:
    fixture = small_fixture()
    mutate(fixture)
    with pytest.raises(RuntimeError, match=message):
        emu.admin.load_fixture(fixture)
    assert len(emu.admin.list_items("101000000001")) == 5


def test_subprocess_cli_with_yaml_fixture(tmp_path: Path) -> None:
    fixture_file = tmp_path / "fixture.yaml"
    fixture_file.write_text(yaml.safe_dump(small_fixture()), encoding="utf-8")
    with run_emulator_subprocess(fixture=fixture_file) as handle:
        assert handle.process is not None and handle.process.poll() is None
        token = login(handle.url, "ops@example.com", "pw")
        r = httpx.get(f"{handle.api_url}/models", headers={"Authorization": f"Bearer {token}"})
        assert [m["name"] for m in r.json()["models"]] == ["Tiny"]
        handle.admin.reset()  # back to the --fixture, not to the default seed
        assert handle.admin.list_items("101000000007")[0]["name"] == "North"
        process = handle.process
    assert process.poll() is not None


def test_subprocess_with_dict_fixture_and_json_file(tmp_path: Path) -> None:
    with run_emulator_subprocess(fixture=default_fixture(), extra_args=["--log-level", "error"]) as handle:
        assert handle.admin.health()
        assert handle.admin.config()["rows_per_second"] == 200000.0
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"models": []}), encoding="utf-8")
    with pytest.raises(RuntimeError, match="exited"):
        with run_emulator_subprocess(fixture=path):
            pass


def test_tls(tmp_path: Path) -> None:
    cert = make_certificate("127.0.0.1", days=1, ip_address="127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    certfile.write_text(cert.certificate_pem)
    keyfile.write_text(cert.private_key_pem)
    with EmulatorServer(ssl_certfile=str(certfile), ssl_keyfile=str(keyfile)) as server:
        assert server.url.startswith("https://")
        r = httpx.post(
            f"{server.url}/token/authenticate", auth=("demo@example.com", "emulator-demo-pw"), verify=str(certfile)
        )
        assert r.status_code == 201
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.url}/_emulator/health")  # untrusted without the CA


def test_handle_urls(emu: EmulatorHandle, client: httpx.Client) -> None:
    assert emu.api_url == emu.url + "/2/0" and emu.auth_url == emu.oauth_url == emu.url
    upload(client, "113000000000", PRODUCTS_CSV.encode())
    assert run(client, "imports", "112000000000")["result"]["successful"] is True
    assert httpx.get(f"{emu.model_url}/files", headers=client.headers).status_code == 200
