"""Configuration read from ``FUNNELBOX_*`` environment variables (one table in the README)."""

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The argon2 cost of new password hashes (``core.auth.PROFILES``).
PasswordProfile = Literal["rfc_9106_low_memory", "cheapest"]


class Settings(BaseSettings):
    """Every knob of the service; defaults give a working single-machine install."""

    model_config = SettingsConfigDict(env_prefix="FUNNELBOX_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite://funnelbox.sqlite3",
        description="Tortoise URL: sqlite://PATH or postgres://USER:PASS@HOST:PORT/DB.",
    )
    redis_url: str | None = Field(
        default=None,
        description="redis://HOST:PORT/DB; send rate limits shared by every process, and the"
        " Telegram bots' conversation state.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Derives the keys for stored credentials and signed links. Keep it stable.",
    )
    host: str = Field(default="127.0.0.1", description="Address `funnelbox serve` binds.")
    port: int = Field(default=8080, description="Port `funnelbox serve` binds.")
    phone_region: str | None = Field(
        default=None,
        description="ISO country (e.g. GB) for phone numbers typed without +country code.",
    )
    intake_worker: bool = Field(
        default=True,
        description="Process accepted webhook deliveries in this process (off: another does).",
    )
    event_worker: bool = Field(
        default=True,
        description="Feed committed events to triggers, automations and reports here.",
    )
    workers: int = Field(
        default=1, ge=1, description="`funnelbox serve` processes sharing the port (PostgreSQL)."
    )
    db_pool_size: int = Field(default=10, description="PostgreSQL connection pool size.")
    session_days: int = Field(default=14, description="Lifetime of a web login session.")
    timezone: str = Field(
        default="UTC", description="IANA zone the web pages show dates and times in."
    )
    locale: str = Field(default="en", description="Language and formats of the web pages.")
    outbox_worker: bool = Field(
        default=True,
        description="Send queued messages and Conversions API events from this process.",
    )
    media_dir: str = Field(
        default="media",
        description="Directory where files operators send are kept (by their SHA-256).",
    )
    altegio_sync_minutes: int = Field(
        default=10,
        ge=0,
        description="Minutes between pulls of every enabled Altegio connection's changed"
        " records, where the intake runs (0: no periodic pull).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO",
        description="What the console shows: INFO is requests, sends, failures and sync runs;"
        " DEBUG adds the schedulers' every tick.",
    )
    password_profile: PasswordProfile = Field(
        default="rfc_9106_low_memory",
        description="argon2 cost of new password hashes: RFC 9106's low-memory choice;"
        " `cheapest` is for test suites only.",
    )


@lru_cache
def get_settings() -> Settings:
    """Settings are read once per process; tests build their own ``Settings`` instead."""
    return Settings()
