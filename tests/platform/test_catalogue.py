"""One message catalogue: every key in Turkish and English; every key a template uses exists."""

from __future__ import annotations

import re
from pathlib import Path

from agent_console.i18n import Catalogue

ROOT = Path(__file__).resolve().parents[2] / "agent_console"


def test_every_message_has_turkish_and_english() -> None:
    catalogue = Catalogue.load()
    missing = [k for k in catalogue.keys() if catalogue.languages_of(k) != {"tr", "en"}]
    assert missing == []


def test_every_key_used_in_templates_and_code_exists() -> None:
    catalogue = Catalogue.load()
    known = set(catalogue.keys())
    used: set[str] = set()
    # Only whole literal keys (``_("login.title")`` or ``_("x.y", n=1)``), not built ones (``"role." ~ value``).
    pattern = re.compile(r"""_\(\s*["']([a-z_]+\.[a-z_.]+)["']\s*[,)]""")
    for path in [*ROOT.rglob("*.html"), *ROOT.rglob("*.py")]:
        used |= set(pattern.findall(path.read_text(encoding="utf-8")))
    assert used, "no message keys found: the pattern is wrong"
    assert sorted(used - known) == []
