"""Installation settings from the environment (prefix `KRAVFLYT_`) or a `.env` file.

Per-company settings (ladder, unknown-KID policy, schedules, ...) are rows in the database:
see `adapter.company_settings`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class AppSettings(BaseSettings):
    """Settings of one installation. Every field is documented in README.md."""

    model_config = SettingsConfigDict(env_prefix="KRAVFLYT_", env_file=".env", extra="ignore")

    database_url: str = Field(
        "sqlite:///kravflyt.db",
        description="SQLAlchemy URL: a SQLite file (default, in the working folder) or "
        "postgresql+psycopg://user@host:5432/db",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Fernet key (urlsafe base64, 32 bytes) that encrypts stored credentials. "
        "When unset, a key is created in `key_file` on first use.",
    )
    key_file: Path = Field(
        Path("kravflyt.key"),
        description="Where the key is kept (mode 0600); a relative path is made absolute once, "
        "from the working folder at start.",
    )
    database_busy_timeout_s: float = Field(
        30.0,
        gt=0,
        le=600,
        description="SQLite: how long a writer waits for another writer (e.g. a bank import "
        "publishing) before it gives up with a 'busy, try again' message. Readers never wait.",
    )
    log_format: Literal["auto", "console", "json"] = Field(
        "auto", description="auto: console on a terminal, JSON otherwise."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    language: Literal["nb", "en"] = Field(
        "nb",
        description="Language of the command line's messages: nb (bokmål) or en. "
        "`kravflyt --language en` overrides it; the web app has its own switch per user.",
    )
    web_secure_cookies: bool = Field(
        False, description="Send the session cookie only over HTTPS (set true behind a TLS proxy)."
    )
    web_session_hours: int = Field(8, ge=1, le=720, description="How long a web session lasts.")
    web_sign_in_failures_per_address: int = Field(
        20,
        ge=1,
        le=10_000,
        description="Failed sign-ins (page or API, any accounts) one client address may make in "
        "15 minutes; past it the address gets 429 until the window ends.",
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token that /metrics asks for (Authorization: Bearer ...); "
        "unset: /metrics is off (404).",
    )
    tripletex_max_in_flight: int = Field(
        4,
        ge=1,
        le=64,
        description="Requests one company's Tripletex client has on their way at once, per "
        "worker process (its outbox rows sent at once, too): a fair share per company.",
    )
    worker_senders: int = Field(
        16,
        ge=1,
        le=256,
        description="Outbox rows one worker process has on their way at once (a pool of "
        "sender threads, rows taken and recorded in batches); 1 sends one row per worker "
        "thread. `kravflyt worker --senders` overrides it.",
    )
    data_dir: Path = Field(
        Path("kravflyt-data"),
        description="Root of the per-company bank folders (<data_dir>/<company id>/incoming, ...).",
    )

    @field_validator("key_file")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return Path(os.path.abspath(value.expanduser()))


@lru_cache(maxsize=1)
def get_settings() -> AppSettings:
    """The installation's settings, read once per process."""
    return AppSettings()
