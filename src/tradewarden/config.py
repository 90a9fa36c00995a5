"""One settings object: defaults < ``tradewarden.toml`` < ``TRADEWARDEN_*`` env < CLI flags."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_FILE_ENV = "TRADEWARDEN_CONFIG"
DEFAULT_CONFIG_FILE = "tradewarden.toml"


class Settings(BaseSettings):
    """Every tunable of a Tradewarden process.

    Precedence (lowest to highest): field defaults, the TOML file (``tradewarden.toml`` in the
    working directory, or the path in ``TRADEWARDEN_CONFIG``), ``TRADEWARDEN_*`` environment
    variables, and keyword arguments (the CLI passes its flags that way).
    """

    model_config = SettingsConfigDict(env_prefix="TRADEWARDEN_", extra="ignore")

    data_dir: Path = Field(default=Path(".tradewarden"), description="Where state files live.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<data_dir>/tradewarden.db"
    )
    paper_url: str | None = Field(
        default=None, description="Standalone paper broker URL; default: in-process simulator."
    )
    paper_clock: Literal["open", "real"] = Field(
        default="open", description="Session of the in-process paper broker: always open, or "
        "the NSE calendar at IST wall time.")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Addresses or networks of reverse proxies whose "
        "X-Forwarded-For / X-Forwarded-Proto are believed (default: none, the headers are "
        "ignored).")
    admin_api_key: SecretStr | None = Field(
        default=None, description="Becomes the admin's API key on first start (automation)."
    )
    log_level: str = "INFO"
    db_pool_size: int = Field(default=8, ge=1, le=128)
    dedupe_window_s: float = Field(default=5.0, ge=0)
    monitor_interval_s: float = Field(default=5.0, gt=0)
    monitor_idle_interval_s: float = Field(default=30.0, gt=0)
    #: how long a broker order with our tag but no record must be seen before it is recorded
    monitor_orphan_grace_s: float = Field(default=60.0, ge=0)
    broker_timeout_s: float = Field(default=10.0, gt=0, le=120,
                                    description="How long one broker call may take.")
    archive_after_days: int | None = Field(
        default=None, ge=1, description="EOD moves final orders older than this to "
        "<data_dir>/archive (None: keep everything in the database).")
    broker_orders_per_s: float | None = Field(
        default=None, gt=0, description="Pace of order placement per account (None: the "
        "broker adapter's own limit).")
    # notifications (docs/notifications.md)
    secret_key: SecretStr | None = Field(
        default=None, description="Encrypts secrets at rest (a Fernet key or a long random "
        "string); default: a key file generated in the data dir.")
    secret_key_file: Path | None = Field(
        default=None, description="Key file used when secret_key is unset "
        "(default <data_dir>/secret.key, created with mode 0600).")
    notify_poll_interval_s: float = Field(default=0.5, gt=0, le=60)
    notify_retry_initial_s: float = Field(default=5.0, gt=0)
    notify_retry_max_s: float = Field(default=300.0, gt=0)
    notify_max_attempts: int = Field(default=20, ge=1)
    notify_send_timeout_s: float = Field(default=30.0, gt=0, le=600)
    notify_digest_max_items: int = Field(default=30, ge=2, le=200)
    notify_retention_days: int = Field(default=30, ge=1)
    notify_telegram_api_url: str | None = Field(
        default=None, description="A self-hosted Telegram Bot API server "
        "(default https://api.telegram.org).")

    @field_validator("log_level")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: Any) -> Any:
        """A list, or (from the environment) a comma-separated string; each an IP or network."""
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if not isinstance(value, list):
            return value
        proxies = []
        for item in value:
            try:
                text = str(item).strip()
                proxies.append(str(ipaddress.ip_network(text, strict=False)) if "/" in text
                               else str(ipaddress.ip_address(text)))
            except ValueError:
                raise ValueError(f"trusted_proxies: {item!r} is not an IP address or "
                                 "network") from None
        return proxies

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file inside the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tradewarden.db').resolve()}"

    @property
    def resolved_secret_key_file(self) -> Path:
        return self.secret_key_file or self.data_dir / "secret.key"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_path),
        )


def load_settings(**overrides: Any) -> Settings:
    """Build settings, letting non-None ``overrides`` (CLI flags) win over everything else."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
