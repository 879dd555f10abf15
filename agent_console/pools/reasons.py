"""The import report in words: why a line was refused (or what the duplicate rule did with it), and why a file or a
column mapping could not be used, as the message catalogue says it (Turkish first), naming pools instead of ids.

The data-pool service reports reason codes with a short English detail (``line 3``, ``3 of 5 columns``,
``pool 2, 5``...); the values are taken out of the detail and put into the catalogue's sentence."""

from __future__ import annotations

import re
from collections.abc import Mapping

from agent_console.i18n import Translator
from dialer.pools.files import FileFormatError
from dialer.pools.mapping import CUSTOM, Issue

_LINE = re.compile(r"line (\d+)")
_COLUMNS = re.compile(r"(\d+) of (\d+) columns")
_POOLS = re.compile(r"(pool|also in pool|from pool|done in pool|being called in pool) ([\d, ]+)")


def _known(tr: Translator, key: str) -> bool:
    return bool(tr.catalogue.languages_of(key))


def issue_text(tr: Translator, issue: Issue, pool_names: Mapping[int, str]) -> str:
    """One line of the report: ``Dosyada tekrar eden numara (ilk: satır 3)``."""
    detail = issue.detail or ""
    params = {"value": detail, "line": "", "got": "", "want": "", "pools": ""}
    key = f"pools.reason.{issue.reason}"
    if match := _LINE.fullmatch(detail):
        params["line"] = match[1]
    elif match := _COLUMNS.fullmatch(detail):
        params["got"], params["want"] = match[1], match[2]
    elif match := _POOLS.fullmatch(detail):
        ids = [int(p) for p in match[2].replace(" ", "").split(",") if p]
        params["pools"] = ", ".join(pool_names.get(i, f"#{i}") for i in ids)
        if issue.reason == "duplicate.moved" and match[1] == "done in pool":
            key = "pools.reason.duplicate.moved_done"
    if not _known(tr, key):
        return f"{issue.reason} ({detail})" if detail else issue.reason
    return tr(key, **params)


def file_error_text(tr: Translator, error: FileFormatError) -> str:
    """Why a whole file (or the mapping chosen for it) cannot be imported."""
    line = _LINE.search(error.detail)
    key = f"pools.file_error.{error.code}"
    if not _known(tr, key):
        return f"{error.code}: {error.detail}" if error.detail else error.code
    detail = error.detail
    if error.code in ("mapping.duplicate_target", "mapping.unknown_target"):
        detail = target_text(tr, detail)
    return tr(key, detail=detail, line=line[1] if line else "?")


def target_text(tr: Translator, target: str) -> str:
    """Where a column goes, in words: ``Telefon``, ``Özel alan: abone_no``."""
    if target.startswith(CUSTOM):
        key = target[len(CUSTOM) :].strip()
        return tr("pools.target_custom_named", key=key) if key else tr("pools.target.custom")
    return tr(f"pools.target.{target}") if _known(tr, f"pools.target.{target}") else target
