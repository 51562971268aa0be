"""Files: chunked (gzip/plain) uploads, unknown chunk count, whole-file PUT, downloads, limits, spooling."""

from __future__ import annotations

import gzip

import httpx
import pytest

from airflow_provider_anaplan.testing.emulator.state import SPOOL
from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle

from .conftest import MD, M, upload


def test_chunked_gzip_upload_round_trip(client: httpx.Client, emu: EmulatorHandle) -> None:
    data = ("Product,Category,Discontinued\n" + "".join(f"X{i},Cat,false\n" for i in range(2000))).encode()
    upload(client, "113000000000", data, chunk_size=7000)
    listed = {f["id"]: f for f in client.get(f"{M}/files").json()["files"]}
    assert listed["113000000000"]["chunkCount"] == -(-len(data) // 7000)
    assert client.get(f"{M}/files/113000000000").content == data
    assert client.get(f"{MD}/files/113000000000").content == data
    chunks = client.get(f"{M}/files/113000000000/chunks").json()["chunks"]
    assert b"".join(client.get(f"{M}/files/113000000000/chunks/{c['id']}").content for c in chunks) == data
    assert emu.admin.file_content("113000000000") == data


def test_multibyte_characters_split_across_chunks(client: httpx.Client) -> None:
    data = "Product,Category,Discontinued\nÜber,Çafé ☕,false\n".encode()
    split = data.index("☕".encode()) + 1  # cut inside the 3-byte character
    r = client.post(f"{M}/files/113000000000", json={"chunkCount": 2})
    assert r.json()["file"]["chunkCount"] == 2
    client.put(f"{M}/files/113000000000/chunks/0", content=data[:split])
    client.put(
        f"{M}/files/113000000000/chunks/1",
        content=gzip.compress(data[split:]),
        headers={"Content-Type": "application/x-gzip"},
    )
    assert client.get(f"{M}/files/113000000000").content == data


def test_unknown_chunk_count_needs_complete(client: httpx.Client) -> None:
    assert client.post(f"{M}/files/113000000001", json={"chunkCount": -1}).status_code == 200
    for index in range(3):
        assert client.put(f"{M}/files/113000000001/chunks/{index}", content=b"abc").status_code == 204
    r = client.post(f"{M}/files/113000000001/complete")
    assert r.status_code == 200 and r.json()["file"]["chunkCount"] == 3
    assert client.get(f"{M}/files/113000000001").content == b"abcabcabc"


def test_complete_with_missing_chunks_is_400(client: httpx.Client) -> None:
    client.post(f"{M}/files/113000000001", json={"chunkCount": 3})
    client.put(f"{M}/files/113000000001/chunks/0", content=b"a")
    client.put(f"{M}/files/113000000001/chunks/2", content=b"c")
    r = client.post(f"{M}/files/113000000001/complete")
    assert r.status_code == 400 and "[1]" in r.json()["status"]["message"]


def test_whole_file_put_and_delete(client: httpx.Client) -> None:
    assert client.put(f"{M}/files/113000000000", content=b"x,y\n1,2\n").status_code == 204
    assert client.get(f"{M}/files/113000000000").content == b"x,y\n1,2\n"
    assert (
        client.put(
            f"{M}/files/113000000000",
            content=gzip.compress(b"gz\n"),
            headers={"Content-Type": "application/x-gzip"},
        ).status_code
        == 204
    )
    assert client.get(f"{M}/files/113000000000").content == b"gz\n"
    assert client.delete(f"{M}/files/113000000000").status_code == 204
    r = client.get(f"{M}/files/113000000000")
    assert r.status_code == 404 and "no content" in r.json()["status"]["message"]
    body = client.get(f"{M}/files/113000000000/chunks").json()
    assert "chunks" not in body and body["meta"]["paging"]["totalSize"] == 0


def test_file_errors(client: httpx.Client, emu: EmulatorHandle) -> None:
    # POSTing a chunk count to a file id that does not exist must not create a file
    r = client.post(f"{M}/files/113000000042", json={"chunkCount": 1})
    assert r.status_code == 404 and "113000000042" in r.json()["status"]["message"]
    assert "113000000042" not in {f["id"] for f in client.get(f"{M}/files").json()["files"]}
    assert client.put(f"{M}/files/113000000042/chunks/0", content=b"x").status_code == 404
    assert client.get(f"{M}/files/113000000000/chunks/0").status_code == 404
    assert client.get(f"{M}/files/113000000000/chunks/abc").status_code == 404
    assert client.post(f"{M}/files/113000000000", json={"nope": 1}).status_code == 400
    assert client.post(f"{M}/files/113000000000", json={"chunkCount": 1001}).status_code == 400
    client.post(f"{M}/files/113000000000", json={"chunkCount": 2})
    r = client.put(f"{M}/files/113000000000/chunks/2", content=b"x")
    assert r.status_code == 400 and "out of range" in r.json()["status"]["message"]
    assert client.put(f"{M}/files/113000000000/chunks/1000", content=b"x").status_code == 400
    r = client.put(
        f"{M}/files/113000000000/chunks/0",
        content=b"not gzip",
        headers={"Content-Type": "application/x-gzip"},
    )
    assert r.status_code == 400 and "gzip" in r.json()["status"]["message"]


def test_chunk_size_limit_applies_to_decompressed_size(client: httpx.Client, emu: EmulatorHandle) -> None:
    emu.admin.configure(max_chunk_bytes=1000)
    client.post(f"{M}/files/113000000000", json={"chunkCount": -1})
    bomb = gzip.compress(b"a" * 5000)
    assert len(bomb) < 1000
    r = client.put(
        f"{M}/files/113000000000/chunks/0", content=bomb, headers={"Content-Type": "application/x-gzip"}
    )
    assert r.status_code == 400 and "limit" in r.json()["status"]["message"]
    assert client.put(f"{M}/files/113000000000/chunks/0", content=b"b" * 1001).status_code == 400
    assert client.put(f"{M}/files/113000000000/chunks/0", content=b"b" * 1000).status_code == 204


def test_large_uploads_spool_to_disk(client: httpx.Client, emu: EmulatorHandle) -> None:
    emu.admin.configure(spool_threshold_bytes=2 * 1024 * 1024)
    data = bytes(range(256)) * (4096 * 3)  # 3 MiB
    upload(client, "113000000001", data, chunk_size=1024 * 1024)
    spooled = list(SPOOL.directory.glob("*.chunk*"))
    assert spooled, "chunks beyond the threshold should live on disk"
    assert client.get(f"{M}/files/113000000001").content == data
    emu.admin.reset()
    assert not any(p.exists() for p in spooled), "reset discards spooled chunks"


@pytest.mark.parametrize("bad", ["75a40874e6b64fa3ae0b4e5d5b4b9a0b", "nope"])
def test_model_id_case_matters(client: httpx.Client, bad: str) -> None:
    r = client.get(f"/2/0/models/{bad}/files")
    assert r.status_code == 404


def test_workspace_id_case_and_membership(client: httpx.Client) -> None:
    upper = M.replace("8a868cd985f53e7701860542f59e276e", "8A868CD985F53E7701860542F59E276E")
    r = client.get(f"{upper}/files")
    assert r.status_code == 404 and "lower case" in r.json()["status"]["message"]
    other = M.replace("8a868cd985f53e7701860542f59e276e", "0" * 32)
    assert client.get(f"{other}/files").status_code == 404
    assert client.get(f"/2/0/workspaces/{'0' * 32}/models").status_code == 404


def test_locked_and_archived_models(emu: EmulatorHandle, client: httpx.Client) -> None:
    from airflow_provider_anaplan.testing.emulator import default_fixture

    fixture = default_fixture()
    fixture["models"][0]["activeState"] = "LOCKED"
    emu.admin.load_fixture(fixture)
    assert client.get(f"{M}/files").status_code == 200
    r = client.post(f"{M}/files/113000000000", json={"chunkCount": 1})
    assert r.status_code == 423
    assert client.post(f"{M}/imports/112000000000/tasks", json={"localeName": "en_US"}).status_code == 423
    fixture["models"][0]["activeState"] = "ARCHIVED"
    emu.admin.load_fixture(fixture)  # tokens of users that still exist survive a fixture load
    assert client.get(f"{M}/files").status_code == 422


def test_lazy_gzip_stores_chunks_compressed_and_inflates_on_read(client: httpx.Client, emu: EmulatorHandle) -> None:
    """``lazy_gzip`` (benchmarks): same answers, the chunk is only inflated when someone reads it."""
    emu.admin.configure(lazy_gzip=True)
    data = ("Product,Category,Discontinued\n" + "".join(f"L{i},Cat,false\n" for i in range(3000))).encode()
    upload(client, "113000000000", data, chunk_size=9000)
    assert client.get(f"{M}/files/113000000000").content == data
    listed = {f["id"]: f for f in client.get(f"{M}/files").json()["files"]}
    assert listed["113000000000"]["chunkCount"] == -(-len(data) // 9000)
    # The import parses the lazily stored file like any other.
    task = client.post(f"{M}/imports/112000000000/tasks", json={"localeName": "en_US"}).json()["task"]
    for _ in range(200):
        status = client.get(f"{M}/imports/112000000000/tasks/{task['taskId']}").json()["task"]
        if status["taskState"] == "COMPLETE":
            break
    assert status["result"]["successful"] is True
    assert {"L0", "L2999"} <= {i["name"] for i in emu.admin.list_items("101000000001")}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not gzip at all, certainly not", "not valid gzip data"),
        (gzip.compress(b"x" * 100)[:-4] + (60 * 1024 * 1024).to_bytes(4, "little"), "the limit is"),
    ],
)
def test_lazy_gzip_still_rejects_bad_headers_and_oversized_chunks(
    client: httpx.Client, emu: EmulatorHandle, body: bytes, message: str
) -> None:
    emu.admin.configure(lazy_gzip=True)
    client.post(f"{M}/files/113000000000", json={"chunkCount": 1})
    r = client.put(f"{M}/files/113000000000/chunks/0", content=body, headers={"Content-Type": "application/x-gzip"})
    assert r.status_code == 400 and message in r.text
