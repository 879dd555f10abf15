"""One message catalogue for the whole user interface: Turkish first, English second.

``messages.toml`` holds every text once, with both languages side by side::

    [login]
    title = { tr = "Giriş", en = "Sign in" }

Keys are dotted (``login.title``). A missing key or language is a bug the test suite catches (every key must
have both); at run time it shows the key itself rather than failing the page.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from importlib import resources
from typing import Any

LANGUAGES = ("tr", "en")
DEFAULT_LANGUAGE = "tr"


class Catalogue:
    def __init__(self, messages: Mapping[str, Mapping[str, str]]) -> None:
        self._messages = messages

    @classmethod
    def load(cls) -> Catalogue:
        raw = tomllib.loads(resources.files("agent_console").joinpath("messages.toml").read_text("utf-8"))
        flat: dict[str, dict[str, str]] = {}
        _flatten(raw, "", flat)
        return cls(flat)

    def keys(self) -> list[str]:
        return sorted(self._messages)

    def languages_of(self, key: str) -> set[str]:
        return set(self._messages.get(key, {}))

    def text(self, language: str, key: str, /, **params: Any) -> str:
        entry = self._messages.get(key)
        if entry is None:
            return key
        template = entry.get(language) or entry.get(DEFAULT_LANGUAGE) or key
        return template.format(**params) if params else template

    def translator(self, language: str) -> Translator:
        return Translator(self, language)


class Translator:
    """``_("login.title")`` in templates and handlers, bound to one language."""

    def __init__(self, catalogue: Catalogue, language: str) -> None:
        self.catalogue = catalogue
        self.language = language

    def __call__(self, key: str, /, **params: Any) -> str:
        return self.catalogue.text(self.language, key, **params)


def _flatten(node: Mapping[str, Any], prefix: str, out: dict[str, dict[str, str]]) -> None:
    for key, value in node.items():
        name = f"{prefix}{key}"
        if (
            isinstance(value, Mapping)
            and value
            and set(value) <= set(LANGUAGES)
            and all(isinstance(v, str) for v in value.values())
        ):
            out[name] = dict(value)
            continue
        if isinstance(value, Mapping):
            _flatten(value, name + ".", out)
        else:
            raise ValueError(f"message {name!r} must be a table of languages")


def pick_language(*candidates: str | None) -> str:
    for candidate in candidates:
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE
