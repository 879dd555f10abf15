"""Uploaded lead files waiting for their column mapping (the step between "upload" and "import").

A file is kept on the server's disk, never in the browser's cookie: under a random token that is the only name of
its two files (the bytes and a small JSON of who uploaded it, for which pool, under which name). Only its uploader
may read it back, only for that pool, and only for ``max_age``; it is removed once imported, and stale files are
swept at each upload. Files are written owner-only (0600) into an owner-only (0700) directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import secrets
import time
from pathlib import Path

import platformdirs

#: The largest file accepted. The web application's own request limit (``client_max_size``) caps it as well.
MAX_UPLOAD_BYTES = 20 * 2**20
MAX_AGE_SECONDS = 2 * 3600
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")


class UploadTooLargeError(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


@dataclasses.dataclass(frozen=True)
class StagedFile:
    token: str
    user_id: int
    pool_id: int
    filename: str
    content: bytes
    uploaded_at: float


def default_directory() -> Path:
    return Path(platformdirs.user_cache_dir("callcenter")) / "pool-uploads"


class UploadStore:
    def __init__(
        self, directory: Path, *, max_bytes: int = MAX_UPLOAD_BYTES, max_age_seconds: float = MAX_AGE_SECONDS
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.max_age_seconds = max_age_seconds

    def put(self, user_id: int, pool_id: int, filename: str, content: bytes) -> str:
        """Keep ``content`` and return its token. Blocking: call it in a worker thread."""
        if len(content) > self.max_bytes:
            raise UploadTooLargeError(self.max_bytes)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.purge()
        token = secrets.token_urlsafe(24)
        meta = {"user_id": user_id, "pool_id": pool_id, "filename": filename, "uploaded_at": time.time()}
        _write(self._path(token, "data"), content)
        _write(self._path(token, "json"), json.dumps(meta).encode())
        return token

    def get(self, token: str, user_id: int, pool_id: int) -> StagedFile | None:
        """The file of ``token`` if it is this user's, for this pool, and not expired; else None. Blocking."""
        if not _TOKEN.fullmatch(token):
            return None
        try:
            meta = json.loads(self._path(token, "json").read_bytes())
            if meta["user_id"] != user_id or meta["pool_id"] != pool_id:
                return None
            if time.time() - float(meta["uploaded_at"]) > self.max_age_seconds:
                self.discard(token)
                return None
            content = self._path(token, "data").read_bytes()
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return StagedFile(token, user_id, pool_id, str(meta["filename"]), content, float(meta["uploaded_at"]))

    def claim(self, token: str, user_id: int, pool_id: int) -> StagedFile | None:
        """:meth:`get`, and take the file so that nobody else gets it until :meth:`release` (a double-clicked
        "import" imports once). Blocking."""
        staged = self.get(token, user_id, pool_id)
        if staged is None:
            return None
        try:
            os.rename(self._path(token, "json"), self._path(token, "claimed"))  # atomic: one claimant wins
        except FileNotFoundError:
            return None
        return staged

    def release(self, token: str) -> None:
        """Give a claimed file back (its import did not happen)."""
        if _TOKEN.fullmatch(token):
            with contextlib.suppress(FileNotFoundError):
                os.rename(self._path(token, "claimed"), self._path(token, "json"))

    def discard(self, token: str) -> None:
        if not _TOKEN.fullmatch(token):
            return
        for suffix in ("data", "json", "claimed"):
            with contextlib.suppress(FileNotFoundError):
                self._path(token, suffix).unlink()

    def purge(self) -> int:
        """Remove the files older than ``max_age_seconds``; how many uploads were removed."""
        limit = time.time() - self.max_age_seconds
        removed = 0
        try:
            entries = list(self.directory.iterdir())
        except FileNotFoundError:
            return 0
        for path in entries:
            try:
                if path.stat().st_mtime < limit:
                    path.unlink()
                    removed += path.suffix == ".json"
            except FileNotFoundError:
                continue
        return removed

    def _path(self, token: str, suffix: str) -> Path:
        return self.directory / f"{token}.{suffix}"


def _write(path: Path, content: bytes) -> None:
    """Owner-only, and complete or absent: written under a temporary name, then renamed."""
    partial = path.with_name(path.name + ".part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(content)
    os.replace(partial, path)
