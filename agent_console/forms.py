"""Reading what a page's URL and form carry, the same way on every page: ids in the path, whole numbers and lists
of ids typed or ticked in a form, and a service's error code in words."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aiohttp import web

from agent_console.i18n import Translator

#: The largest id the database hands out (bigint); a larger one in a URL is simply not found.
MAX_ID = 2**63 - 1
#: The range of a PostgreSQL integer column.
INT4 = 2**31 - 1


def path_id(request: web.Request, name: str = "id") -> int:
    """A ``{name}`` of the URL (digits only by its route)."""
    value = int(request.match_info[name])
    if value > MAX_ID:
        raise web.HTTPNotFound()
    return value


def whole_number(value: str, low: int = -INT4, high: int = INT4) -> int | None:
    """A whole number typed into a form (``-3``, `` 12 ``), or None when it is not one or outside [low, high]."""
    value = value.strip()
    if not re.fullmatch(r"[-+]?\d{1,10}", value):
        return None
    number = int(value)
    return number if low <= number <= high else None


def id_list(values: Sequence[object]) -> list[int] | None:
    """Ids ticked in a form, in their order; None if one is not an id."""
    out: list[int] = []
    for value in values:
        if not isinstance(value, str) or not value.isdigit() or int(value) > MAX_ID:
            return None
        out.append(int(value))
    return out


def error_text(tr: Translator, code: str, pages: str) -> str:
    """A service error code (``error.pool_taken``) in words: the ``pages``' own text (``pools.errors.pool_taken``)
    when the catalogue has one, else the shared one (``error.pool_taken``)."""
    name = code.removeprefix("error.")
    own = f"{pages}.errors.{name}"
    return tr(own) if tr.catalogue.languages_of(own) else tr(f"error.{name}")
