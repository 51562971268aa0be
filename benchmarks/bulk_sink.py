"""A neutral bulk-API sink for the transfer benchmark: as little server work as possible.

    python benchmarks/bulk_sink.py [--port 0]     # prints "PORT <n>" when ready

Threaded stdlib HTTP/1.1 server (one thread per connection) speaking just enough of the bulk API for
both clients: ``POST /token/authenticate``, list files, set a chunk count, ``PUT`` a chunk (read and
discarded), ``complete``, list chunks, ``GET`` a chunk or the whole file. Download content is the
file named by ``POST /_sink/load {"path", "chunk_mb", "gzip"}``: served with ``sendfile`` from that
file (tmpfs in the benchmark: from memory, no copy through Python), or, with ``gzip``, from chunks
compressed once at load time and sent with ``Content-Encoding: gzip``. ``GET /_sink/stats`` gives the
sink's CPU seconds and byte counts, so the benchmark can show the server is not the bottleneck.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FILE_ID = "113000000001"
_FILE = re.compile(r"^/2/0/workspaces/\w+/models/\w+/files(?:/(\d+))?(?:/(chunks|complete))?(?:/(\d+))?$")


class Store:
    """What the sink serves and counts."""

    def __init__(self) -> None:
        self.path: str | None = None
        self.chunk = 10 * 1024 * 1024
        self.size = 0
        self.gzipped: list[bytes] | None = None
        self.chunk_count = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.lock = threading.Lock()

    def load(self, path: str, chunk_mb: int, gzip: bool) -> None:
        self.path, self.chunk, self.size = path, chunk_mb * 1024 * 1024, os.path.getsize(path)
        self.gzipped = None
        if gzip:
            from concurrent.futures import ThreadPoolExecutor

            from isal import igzip_lib

            def deflate(index: int) -> bytes:
                with open(path, "rb") as f:
                    f.seek(index * self.chunk)
                    return igzip_lib.compress(f.read(self.chunk), level=1, flag=igzip_lib.COMP_GZIP)

            with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
                self.gzipped = list(pool.map(deflate, range(self.count())))

    def count(self) -> int:
        return max(1, -(-self.size // self.chunk)) if self.path else 0

    def span(self, index: int) -> tuple[int, int]:
        start = index * self.chunk
        return start, max(0, min(self.chunk, self.size - start))


STORE = Store()


def _file_json() -> dict[str, Any]:
    return {
        "id": FILE_ID, "name": "bench.csv", "chunkCount": STORE.count() or STORE.chunk_count,
        "delimiter": '"', "encoding": "UTF-8", "firstDataRow": 2, "format": "txt", "headerRow": 1,
        "separator": ",",
    }  # fmt: skip


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 0

    def setup(self) -> None:
        super().setup()
        # Headers and a small body are two writes: without TCP_NODELAY, Nagle holds the second until
        # the client's delayed ACK (40 ms) and every JSON answer would cost 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return

    def _json(self, body: object, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _empty(self, status: int = 204) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        with STORE.lock:
            STORE.bytes_in += len(data)
        return data

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        body = self._body()
        if self.path.startswith("/token/authenticate"):
            info = {
                "tokenValue": "sink-token",
                "expiresAt": 4102444800000,
                "tokenId": "t1",
                "refreshTokenId": "r1",
            }
            return self._json({"status": "SUCCESS", "statusMessage": "ok", "tokenInfo": info})
        if self.path == "/_sink/load":
            spec = json.loads(body)
            STORE.load(spec["path"], int(spec.get("chunk_mb", 10)), bool(spec.get("gzip")))
            return self._json({"chunks": STORE.count()})
        match = _FILE.match(self.path.split("?")[0])
        if match and match.group(1):
            if match.group(2) is None:
                STORE.chunk_count = int(json.loads(body or b"{}").get("chunkCount", 0))
            return self._json({"status": {"code": 200, "message": "Success"}, "file": _file_json()})
        self._json({"status": {"code": 404, "message": "not found"}}, 404)

    def do_PUT(self) -> None:  # noqa: N802
        self._body()
        self._empty()

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?")[0]
        if path == "/_sink/stats":
            usage = resource.getrusage(resource.RUSAGE_SELF)
            return self._json(
                {
                    "cpu_seconds": usage.ru_utime + usage.ru_stime,
                    "bytes_in": STORE.bytes_in,
                    "bytes_out": STORE.bytes_out,
                }
            )
        match = _FILE.match(path)
        if not match:
            return self._json({"status": {"code": 404, "message": "not found"}}, 404)
        if match.group(1) is None:
            files = [_file_json()]
            paging = {"currentPageSize": 1, "totalSize": 1, "offset": 0}
            return self._json({"meta": {"paging": paging}, "status": {"code": 200}, "files": files})
        if match.group(2) == "chunks" and match.group(3) is None:
            chunks = [{"id": str(i), "name": f"Chunk {i}"} for i in range(STORE.count())]
            paging = {"currentPageSize": len(chunks), "totalSize": len(chunks), "offset": 0}
            return self._json({"meta": {"paging": paging}, "status": {"code": 200}, "chunks": chunks})
        if match.group(2) == "chunks":
            return self._send_chunk(int(match.group(3)))
        return self._send_whole()

    def _send_chunk(self, index: int) -> None:
        if STORE.gzipped is not None and "gzip" in (self.headers.get("Accept-Encoding") or ""):
            data = STORE.gzipped[index]
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            sent = len(data)
        else:
            start, length = STORE.span(index)
            self._sendfile(start, length)
            sent = length
        with STORE.lock:
            STORE.bytes_out += sent

    def _send_whole(self) -> None:
        self._sendfile(0, STORE.size)
        with STORE.lock:
            STORE.bytes_out += STORE.size

    def _sendfile(self, start: int, length: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.end_headers()
        assert STORE.path is not None
        with open(STORE.path, "rb") as f:
            self.connection.sendfile(f, start, length)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
