"""The emulated cloud object store behind CloudWorks connections: a local directory.

A connection's bucket (``bucketName`` of an AmazonS3 connection, ``containerName`` of an AzureBlob
one) is the sub-directory of that name under the root; an object key is a relative path inside it.
The root is, in order: :meth:`ObjectStore.set_root` (admin ``POST /_emulator/objectstore``, the
``--object-store`` option of ``python -m airflow_provider_anaplan.testing.emulator``), the
``ANAPLAN_EMULATOR_OBJECT_STORE`` environment variable, else a fresh temporary directory.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from pathlib import Path

__all__ = ["ENV_VAR", "ObjectStore", "object_store"]

ENV_VAR = "ANAPLAN_EMULATOR_OBJECT_STORE"
_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


class ObjectStore:
    """Buckets are directories under :attr:`root`; objects are files (written atomically)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self._root = Path(root).resolve() if root else None
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        """The directory (created on first use)."""
        with self._lock:
            if self._root is None:
                configured = os.environ.get(ENV_VAR)
                if configured:
                    self._root = Path(configured).resolve()
                else:
                    self._root = Path(tempfile.mkdtemp(prefix="anaplan-emulator-objects-"))
            self._root.mkdir(parents=True, exist_ok=True)
            return self._root

    def set_root(self, root: str | Path) -> None:
        """Use ``root`` from now on (created if missing)."""
        path = Path(root).expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._root = path

    def path(self, bucket: str, key: str = "") -> Path:
        """The file of ``key`` in ``bucket`` (``ValueError`` for a name that leaves the bucket)."""
        if not _BUCKET.match(bucket):
            raise ValueError(f"invalid bucket name {bucket!r}")
        base = (self.root / bucket).resolve()
        if not key:
            return base
        if key.startswith("/") or "\\" in key or any(part in ("", ".", "..") for part in key.split("/")):
            raise ValueError(f"invalid object key {key!r}")
        target = (base / key).resolve()
        if base not in target.parents:
            raise ValueError(f"invalid object key {key!r}")
        return target

    def ensure_bucket(self, bucket: str) -> None:
        self.path(bucket).mkdir(parents=True, exist_ok=True)

    def exists(self, bucket: str, key: str) -> bool:
        return self.path(bucket, key).is_file()

    def read(self, bucket: str, key: str) -> bytes:
        """The object's bytes (``FileNotFoundError`` when absent)."""
        path = self.path(bucket, key)
        if not path.is_file():
            raise FileNotFoundError(f"{bucket}/{key}")
        return path.read_bytes()

    def write(self, bucket: str, key: str, data: bytes) -> None:
        """Write atomically (temporary sibling + rename)."""
        path = self.path(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def delete(self, bucket: str, key: str) -> None:
        path = self.path(bucket, key)
        if not path.is_file():
            raise FileNotFoundError(f"{bucket}/{key}")
        path.unlink()

    def list_objects(self, bucket: str) -> list[dict[str, object]]:
        """``[{"key", "size"}]`` of the bucket, sorted by key."""
        base = self.path(bucket)
        if not base.is_dir():
            return []
        return [
            {"key": p.relative_to(base).as_posix(), "size": p.stat().st_size}
            for p in sorted(base.rglob("*"))
            if p.is_file() and not p.name.startswith(".")
        ]

    def buckets(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())


_STORE = ObjectStore()


def object_store() -> ObjectStore:
    """The process-wide object store of the emulator."""
    return _STORE
