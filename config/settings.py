"""One typed settings object for every process.

Layers, later wins: built-in defaults < ``callcenter.toml`` < environment variables ``CALLCENTER_<GROUP>__<NAME>``
(for example ``CALLCENTER_WEB__PORT=8081``). The file is ``callcenter.toml`` in the working directory, or the path
in ``CALLCENTER_CONFIG`` / ``--config``. :func:`load_settings` is called once, in a process's composition root;
everything else receives the object. A wrong value raises :class:`SettingsError` whose message names the setting,
the environment variable that sets it and what was wrong.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "CALLCENTER_"
DEFAULT_FILE = "callcenter.toml"


class SettingsError(Exception):
    """Start-up stops: one or more settings are wrong. The message names each of them."""


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Group):
    url: str | None = Field(
        default=None,
        description="PostgreSQL DSN. Empty: a private PostgreSQL (pgserver) is started in embedded_dir.",
    )
    embedded_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("callcenter")) / "pgdata",
        description="Data directory of the embedded PostgreSQL.",
    )
    pool_min_size: int = Field(default=2, ge=1, le=100)
    pool_max_size: int = Field(default=10, ge=1, le=500)
    command_timeout: float = Field(default=30.0, gt=0, description="Seconds before a query is cancelled.")
    migrate_on_start: bool = True

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        if not v.startswith(("postgres://", "postgresql://")):
            raise ValueError("must start with postgresql:// (or be empty for the embedded database)")
        return v


class BusSettings(_Group):
    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = Field(default="callcenter", min_length=1)
    history: int = Field(default=100_000, ge=100, description="Events kept per stream for catch-up.")

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, v: str) -> str:
        if not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return v


class WebSettings(_Group):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    cookie_secure: bool = Field(
        default=True,
        description="Send the session cookie only over HTTPS (browsers also accept it on http://127.0.0.1).",
    )
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    default_language: Literal["tr", "en"] = "tr"
    live_queue_size: int = Field(
        default=500, ge=1, description="Messages queued per browser on the live channel before it is cut off (4408)."
    )
    live_heartbeat_seconds: float = Field(default=20.0, gt=0, description="Ping interval of the live channel.")
    timezone: str = Field(default="Europe/Istanbul", description="Time zone in which screens show times.")
    trusted_proxies: Annotated[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...], NoDecode] = Field(
        default=(),
        description="Reverse proxies whose X-Forwarded-For is believed (for per-user IP login rules).",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone (use an IANA name such as Europe/Istanbul)") from None
        return v

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):
            return tuple(p.strip() for p in v.split(",") if p.strip())
        return v


class SecuritySettings(_Group):
    login_max_failures: int = Field(default=5, ge=1, description="Failed logins per user and address.")
    login_max_failures_per_address: int = Field(default=20, ge=1)
    login_window_minutes: float = Field(default=15.0, gt=0)


class AmiSettings(_Group):
    host: str = "127.0.0.1"
    port: int = Field(default=5038, ge=1, le=65535)
    username: str = "dialer"
    secret: SecretStr = SecretStr("dialer")
    action_timeout: float = Field(default=5.0, gt=0)
    ping_interval: float = Field(default=10.0, gt=0, description="Seconds between keep-alive Pings.")
    reconnect_max: float = Field(default=30.0, gt=0, description="Longest wait between reconnection attempts.")
    auth_retry_delay: float = Field(default=30.0, gt=0, description="Wait after a refused login before retrying.")
    events: str = Field(default="call,agent,system", description="AMI event classes to receive (Events: header).")
    outbound_context: str = Field(default="outbound", min_length=1, description="Dialplan context for Originate.")
    inbound_contexts: tuple[str, ...] = Field(
        default=("from-trunk", "to-queue"),
        description="Dialplan contexts where callers' calls start (they get call records too).",
    )
    agent_context: str = Field(
        default="agents",
        min_length=1,
        description="Dialplan context whose extension <agent's extension> rings that agent's phone "
        "(an answered campaign call is sent there).",
    )


class AgiSettings(_Group):
    host: str = "127.0.0.1"
    port: int = Field(default=4573, ge=1, le=65535)


class AmiUser(_Group):
    username: str = Field(min_length=1)
    secret: SecretStr


class PbxSimSettings(_Group):
    """The PBX simulator (``callcenter pbx-sim``): an AMI server and a simulated world of phones and customers."""

    host: str = "127.0.0.1"
    port: int = Field(default=5038, ge=1, le=65535)
    users: tuple[AmiUser, ...] = Field(
        default=(AmiUser(username="dialer", secret=SecretStr("dialer")),),
        description="AMI accounts, as [username] sections with secret= in manager.conf.",
    )
    world: Path | None = Field(default=None, description="TOML file describing the simulated world.")
    seed: int = 1
    speed: float = Field(default=1.0, gt=0, le=1000, description="Clock speed factor (2 = twice real time).")
    recordings_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("callcenter")) / "monitor")


class LogSettings(_Group):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "console"] = "console"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, v: Any) -> Any:
        return v.upper() if isinstance(v, str) else v


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    database: DatabaseSettings = DatabaseSettings()
    bus: BusSettings = BusSettings()
    web: WebSettings = WebSettings()
    security: SecuritySettings = SecuritySettings()
    ami: AmiSettings = AmiSettings()
    agi: AgiSettings = AgiSettings()
    pbx_sim: PbxSimSettings = PbxSimSettings()
    log: LogSettings = LogSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _CURRENT_FILE.get("path")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


# The file to read is chosen per call of load_settings; pydantic-settings asks for sources through a classmethod.
_CURRENT_FILE: dict[str, Path | None] = {"path": None}


def load_settings(config_file: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Build the settings from defaults, the TOML file and ``CALLCENTER_*`` variables.

    ``config_file``: an explicit file (must exist); otherwise ``$CALLCENTER_CONFIG`` (must exist), otherwise
    ``./callcenter.toml`` if present. ``overrides`` (group name -> dict) win over everything; the CLI uses them.
    """
    path = _choose_file(config_file)
    _CURRENT_FILE["path"] = path
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, path)) from None
    except (OSError, ValueError) as exc:  # an unreadable or malformed TOML file, an undecodable variable
        raise SettingsError(f"cannot read settings ({path or 'environment'}): {exc}") from None
    finally:
        _CURRENT_FILE["path"] = None


def _choose_file(config_file: str | os.PathLike[str] | None) -> Path | None:
    explicit = config_file or os.environ.get(ENV_PREFIX + "CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise SettingsError(f"settings file {path} does not exist")
        return path
    default = Path(DEFAULT_FILE)
    return default if default.is_file() else None


def _describe(exc: ValidationError, path: Path | None) -> str:
    lines = ["invalid settings:"]
    for err in exc.errors():
        loc = [str(part) for part in err["loc"]]
        name = ".".join(loc)
        env = ENV_PREFIX + "__".join(part.upper() for part in loc[:2])
        value = err.get("input")
        shown = "" if isinstance(value, dict) or err["type"] == "extra_forbidden" else f" (got {value!r})"
        message = "unknown setting" if err["type"] == "extra_forbidden" else err["msg"]
        where = f"{env} or [{loc[0]}] {'.'.join(loc[1:])} in {path or DEFAULT_FILE}" if len(loc) > 1 else env
        lines.append(f"  {name}: {message}{shown} — set by {where}")
    return "\n".join(lines)
