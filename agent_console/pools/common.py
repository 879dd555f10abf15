"""What the data pool pages share: the app keys of their service and upload store, the URL and form value
readers, file names and texts of file facts."""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from aiohttp import web

from agent_console.forms import path_id
from agent_console.i18n import Translator
from agent_console.keys import DB
from agent_console.pools.uploads import UploadStore
from dialer.pools.imports import ImportSummary
from dialer.pools.model import Pool
from dialer.pools.repository import PoolRepository
from dialer.pools.service import PoolService

POOLS = web.AppKey("pool_service", PoolService)
UPLOADS = web.AppKey("pool_uploads", UploadStore)

_ENCODINGS = {
    "utf-8": "pools.encoding_utf8",
    "utf-8-sig": "pools.encoding_utf8_bom",
    "utf-16": "pools.encoding_utf16",
    "windows-1254": "pools.encoding_cp1254",
}
_DELIMITERS = {";": "pools.delimiter_semicolon", ",": "pools.delimiter_comma", "\t": "pools.delimiter_tab"}


async def pool_of(request: web.Request) -> Pool:
    async with request.app[DB].acquire() as conn:
        pool = await PoolRepository(conn).get(path_id(request, "id"))
    if pool is None:
        raise web.HTTPNotFound()
    return pool


async def import_of(request: web.Request, pool: Pool) -> ImportSummary:
    import_id = path_id(request, "import_id")
    for summary in await request.app[POOLS].imports(pool.id):
        if summary.id == import_id:
            return summary
    raise web.HTTPNotFound()


def clean_filename(name: str) -> str:
    """The name of an uploaded file without any folder a browser sent along, control characters or excess length.
    Percent escapes are undone: browsers send ``"`` as ``%22`` (HTML's form encoding), some clients escape all."""
    name = re.split(r"[\\/]", unquote(name))[-1]
    name = "".join(c for c in name if c.isprintable()).strip()
    return name[-200:] or "dosya"


def attachment(filename: str) -> str:
    """A Content-Disposition header that keeps a Turkish file name (RFC 6266 / 5987) with an ASCII fallback."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def encoding_text(tr: Translator, encoding: str | None) -> str:
    key = _ENCODINGS.get(encoding or "")
    return tr(key) if key else (encoding or tr("app.none"))


def delimiter_text(tr: Translator, delimiter: str | None) -> str:
    key = _DELIMITERS.get(delimiter or "")
    return tr(key) if key else (delimiter or tr("app.none"))
