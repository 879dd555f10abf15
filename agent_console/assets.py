"""Static files with content fingerprints: ``/static/app.css?v=<hash>`` is cached for a year (immutable); a
request without the current hash is served with ``no-cache`` so an old page never keeps a stale asset."""

from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path

from aiohttp import web

_IMMUTABLE = "public, max-age=31536000, immutable"


class StaticAssets:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._hashes: dict[str, str] = {}
        for path in sorted(self.root.rglob("*")):
            if path.is_file():
                name = path.relative_to(self.root).as_posix()
                self._hashes[name] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]

    def url(self, name: str) -> str:
        digest = self._hashes.get(name)
        if digest is None:
            raise KeyError(f"no static asset {name!r}")
        return f"/static/{name}?v={digest}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["path"]
        digest = self._hashes.get(name)
        if digest is None:
            raise web.HTTPNotFound()
        etag = f'"{digest}"'
        headers = {
            "Cache-Control": _IMMUTABLE if request.query.get("v") == digest else "no-cache",
            "ETag": etag,
            "X-Content-Type-Options": "nosniff",
        }
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return web.FileResponse(self.root / name, headers={**headers, "Content-Type": content_type})
