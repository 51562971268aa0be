"""The browser pages over real HTTP: the home page, device activation (``verification_uri`` /
``verification_uri_complete``) and the model link the provider builds (``/anaplan/framework.jsp``)."""

from __future__ import annotations

import re
import time
from html import unescape
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from airflow_provider_anaplan.testing.emulator import DEMO_PASSWORD, DEMO_USER, MODEL_ID, WORKSPACE_ID
from airflow_provider_anaplan.testing.emulator.banner import model_link
from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle

from .conftest import PRODUCTS_CSV, run, upload

REPO = Path(__file__).resolve().parents[2]
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CLIENT = "emulator-device-client"


def html(response: httpx.Response, status: int = 200) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def text_of(page: str) -> str:
    """The page's visible text (tags dropped, whitespace collapsed)."""
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", page)).split())


def device_code(anon: httpx.Client, client_id: str = CLIENT) -> dict:
    r = anon.post("/oauth/device/code", json={"client_id": client_id})
    assert r.status_code == 200, r.text
    return r.json()


def poll(anon: httpx.Client, code: dict, client_id: str = CLIENT) -> httpx.Response:
    return anon.post(
        "/oauth/token",
        data={"grant_type": DEVICE_GRANT, "client_id": client_id, "device_code": code["device_code"]},
    )


@pytest.fixture
def fast_polling(emu: EmulatorHandle) -> None:
    emu.admin.configure(device_poll_interval=0)


def test_home_page(emu: EmulatorHandle, anon: httpx.Client) -> None:
    page = text_of(html(anon.get("/")))
    for fact in (DEMO_USER, DEMO_PASSWORD, WORKSPACE_ID, MODEL_ID, "Demo Model", "emulator-rotating-client"):
        assert fact in page
    assert f"{emu.url}/2/0" in page and f"{emu.url}/activate" in page
    assert "export AIRFLOW_CONN_ANAPLAN_DEFAULT=" in page
    link = (
        f"{emu.url}/anaplan/framework.jsp?selectedWorkspaceId={WORKSPACE_ID}&amp;selectedModelId={MODEL_ID}"
    )
    assert link in html(anon.get("/"))


def test_verification_uri_complete_shows_the_request_and_approving_completes_the_flow(
    emu: EmulatorHandle, anon: httpx.Client, fast_polling: None
) -> None:
    code = device_code(anon)
    assert code["verification_uri"] == f"{emu.url}/activate"
    assert code["verification_uri_complete"] == f"{emu.url}/activate?user_code={code['user_code']}"
    # what a browser gets when the user clicks the link
    page = html(httpx.get(code["verification_uri_complete"]))
    assert f"value='{code['user_code']}'" in page
    assert CLIENT in text_of(page) and "Approve" in page and "Deny" in page
    assert "<form method='post' action='/activate'>" in page
    assert f"<option value='{DEMO_USER}'>" in page
    # the bare verification_uri lists the pending request
    assert code["user_code"] in text_of(html(httpx.get(code["verification_uri"])))

    assert poll(anon, code).json()["error"] == "authorization_pending"
    # submit the form as a browser does (form encoded; the user may type the code in lower case)
    done = html(
        anon.post(
            "/activate", data={"user_code": code["user_code"].lower(), "user": DEMO_USER, "action": "approve"}
        )
    )
    assert f"{code['user_code']} approved as {DEMO_USER}" in text_of(done)
    tokens = poll(anon, code)
    assert tokens.status_code == 200, tokens.text
    assert {"access_token", "refresh_token"} <= tokens.json().keys()
    assert emu.admin.counters()["authentications"]["device"] == 1
    # the code is gone from the pending list and shown as answered
    assert code["user_code"] not in text_of(html(anon.get("/activate")))
    assert "already been answered" in text_of(html(anon.get(code["verification_uri_complete"])))


def test_deny_from_the_page(anon: httpx.Client, fast_polling: None) -> None:
    code = device_code(anon)
    page = html(anon.post("/activate", data={"user_code": code["user_code"], "action": "deny"}))
    assert "denied" in text_of(page)
    assert poll(anon, code).json()["error"] == "access_denied"


def test_bad_submissions(emu: EmulatorHandle, anon: httpx.Client) -> None:
    assert "Enter a code" in text_of(html(anon.post("/activate", data={"user_code": " "}), 400))
    unknown = html(anon.post("/activate", data={"user_code": "ZZZZ-ZZZZ"}), 404)
    assert "no pending device code with user_code 'ZZZZ-ZZZZ'" in text_of(unknown)
    code = device_code(anon)
    nobody = html(anon.post("/activate", data={"user_code": code["user_code"], "user": "x@example.com"}), 404)
    assert "unknown user" in text_of(nobody)
    assert "No device authorization has the code ZZZZ-ZZZZ" in text_of(
        html(anon.get("/activate", params={"user_code": "zzzz-zzzz"}))
    )
    emu.admin.configure(device_code_ttl_seconds=0.2)
    expiring = device_code(anon)
    time.sleep(0.3)
    assert "expired" in text_of(html(anon.get("/activate", params={"user_code": expiring["user_code"]})))
    assert "expired" in text_of(html(anon.post("/activate", data={"user_code": expiring["user_code"]}), 410))


def test_admin_approval_still_works(emu: EmulatorHandle, anon: httpx.Client, fast_polling: None) -> None:
    """The admin API and the page share the approval logic."""
    code = device_code(anon)
    assert emu.admin.approve_device_code(code["user_code"]) == {"status": "approved", "user": DEMO_USER}
    assert poll(anon, code).status_code == 200
    with pytest.raises(RuntimeError, match="404"):
        emu.admin.approve_device_code("ZZZZ-ZZZZ")


def test_model_link_built_by_the_provider_opens_the_model_page(
    emu: EmulatorHandle, client: httpx.Client, anon: httpx.Client
) -> None:
    # The link AnaplanModelLink shows: hooks/anaplan.py model_url() on the connection's oauth_url (the
    # hook is not imported here: importing Airflow would cost the emulator suite seconds).
    hook_source = (REPO / "airflow_provider_anaplan" / "hooks" / "anaplan.py").read_text(encoding="utf-8")
    assert '/anaplan/framework.jsp?{query}"' in hook_source
    assert '{"selectedWorkspaceId": workspace_id.lower(), "selectedModelId": model_id.upper()}' in hook_source
    query = urlencode({"selectedWorkspaceId": WORKSPACE_ID.lower(), "selectedModelId": MODEL_ID.upper()})
    link = f"{emu.oauth_url}/anaplan/framework.jsp?{query}"
    assert link == model_link(emu.oauth_url, WORKSPACE_ID, MODEL_ID)  # what the banner prints
    upload(client, "113000000000", PRODUCTS_CSV.encode())
    task = run(client, "imports", "112000000000")
    page = text_of(html(httpx.get(link)))
    assert "Demo Model" in page and MODEL_ID in page and WORKSPACE_ID in page and "Demo Workspace" in page
    assert "Products" in page and "P010" in page  # a member the import added
    assert "Revenue" in page and "Product x Month x Version" in page
    assert "products.csv" in page and "Delete discontinued products" in page and "Load all" in page
    assert task["taskId"] in page and "COMPLETE" in page


def test_model_url_of_the_api_opens_the_model_page(client: httpx.Client) -> None:
    model_url = client.get(f"/2/0/models/{MODEL_ID}").json()["model"]["modelUrl"]
    assert "Demo Model" in text_of(html(httpx.get(model_url)))


def test_unknown_model_or_workspace(anon: httpx.Client) -> None:
    for params in (
        {"selectedWorkspaceId": WORKSPACE_ID, "selectedModelId": "F" * 32},
        {"selectedWorkspaceId": "0" * 32, "selectedModelId": MODEL_ID},
        {},
    ):
        page = text_of(html(anon.get("/anaplan/framework.jsp", params=params), 404))
        assert "This emulator has no model" in page and MODEL_ID in page  # lists the models it has


def test_pages_escape_fixture_text(emu: EmulatorHandle, anon: httpx.Client) -> None:
    evil = "<script>alert(1)</script>"
    emu.admin.load_fixture(
        {
            "users": [{"email": "ops@example.com", "password": "pw-123456", "id": "0" * 32}],
            "workspaces": [{"id": "a" * 32, "name": evil}],
            "models": [
                {
                    "id": "B" * 32,
                    "name": evil,
                    "workspaceId": "a" * 32,
                    "lists": [{"id": "101000000007", "name": evil, "items": [evil]}],
                }
            ],
        }
    )
    for path in ("/", f"/anaplan/framework.jsp?selectedWorkspaceId={'a' * 32}&selectedModelId={'B' * 32}"):
        page = html(anon.get(path))
        assert "<script>" not in page and "&lt;script&gt;" in page
        assert "pw-123456" not in page  # only the seed's public password is ever shown
