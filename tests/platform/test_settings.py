"""Settings: defaults < callcenter.toml < CALLCENTER_* environment; wrong values name the setting."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from config.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("CALLCENTER_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_defaults_run_the_product_on_a_laptop() -> None:
    settings = load_settings()
    assert settings.database.url is None  # the embedded PostgreSQL
    assert settings.bus.backend == "memory"
    assert (settings.web.host, settings.web.port) == ("127.0.0.1", 8080)
    assert settings.web.default_language == "tr"


def test_file_overrides_defaults_and_environment_overrides_file(monkeypatch: pytest.MonkeyPatch) -> None:
    Path("callcenter.toml").write_text('[web]\nport = 9000\nhost = "0.0.0.0"\n[bus]\nbackend = "redis"\n')
    monkeypatch.setenv("CALLCENTER_WEB__PORT", "9100")
    settings = load_settings()
    assert settings.web.port == 9100
    assert settings.web.host == "0.0.0.0"
    assert settings.bus.backend == "redis"


def test_list_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCENTER_WEB__TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1")
    assert load_settings().web.trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.168.1.1/32"),
    )


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("CALLCENTER_WEB__PORT", "abc", "web.port"),
        ("CALLCENTER_WEB__PORT", "70000", "web.port"),
        ("CALLCENTER_DATABASE__URL", "mysql://x", "database.url"),
        ("CALLCENTER_BUS__BACKEND", "kafka", "bus.backend"),
        ("CALLCENTER_WEB__TRUSTED_PROXIES", "not-a-network", "web.trusted_proxies"),
    ],
)
def test_a_wrong_value_names_the_setting_and_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = str(error.value)
    assert named in message
    assert variable.rsplit("__", 1)[0] in message


def test_an_unknown_setting_in_the_file_is_refused() -> None:
    Path("callcenter.toml").write_text("[web]\nprot = 9000\n")
    with pytest.raises(SettingsError, match=r"web\.prot: unknown setting"):
        load_settings()


def test_a_missing_explicit_file_is_refused() -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings("nowhere.toml")


def test_screens_show_istanbul_time_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().web.zone.key == "Europe/Istanbul"
    monkeypatch.setenv("CALLCENTER_WEB__TIMEZONE", "Mars/Olympus")
    with pytest.raises(SettingsError, match=r"web\.timezone: .*unknown time zone"):
        load_settings()
