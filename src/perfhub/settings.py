"""Runtime configuration: one pydantic-settings object read from ``PERFHUB_*`` and ``.env``."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SOURCE_PRIORITY = ("oura", "whoop", "google", "apple", "manual")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PERFHUB_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///var/perfhub.db"
    nats_url: str | None = None
    secret_key: SecretStr | None = None
    base_url: str = "http://127.0.0.1:8000"
    var_dir: Path = Path("var")
    webhook_tolerance_s: int = 300
    # Request bodies larger than these are refused with 413 before they are read (core.limits).
    # A batch of 1000 readings is about 0.3 MB; a vendor's webhook notification well under 1 kB.
    max_json_body_bytes: int = 64 * 1024
    max_batch_body_bytes: int = 4 * 1024**2
    max_webhook_body_bytes: int = 64 * 1024

    # Embedded bus: how often the in-process dispatcher looks at the outbox when nobody wakes it,
    # and how many attempts a failing event gets before it is dead-lettered.
    bus_poll_interval_s: float = 1.0
    bus_max_attempts: int = 5
    raw_event_retention_days: int = 90

    # Production bus (NATS JetStream). Prefixes let several deployments or test runs share
    # one server without seeing each other's messages.
    nats_subject_prefix: str = ""
    nats_stream_prefix: str = "PERFHUB"
    consumer_max_deliver: int = 5
    consumer_ack_wait_s: float = 30.0
    consumer_backoff_s: tuple[float, ...] = (1.0, 5.0, 15.0, 30.0)
    worker_batch_size: int = 100
    consumer_concurrency: int = 2
    relay_batch_size: int = 500

    # Ed25519 message signing: key id → base64 raw private key (32 bytes). The first key, or
    # `signing_key_id`, signs; every key (plus `verify_keys`, public only) verifies, so keys
    # rotate by adding the new one everywhere first. Unset: one key derived from secret_key.
    signing_keys: dict[str, SecretStr] = Field(default_factory=dict)
    signing_key_id: str | None = None
    verify_keys: dict[str, str] = Field(default_factory=dict)

    # OpenTelemetry: OTLP/HTTP endpoint (e.g. http://collector:4318); unset exports nothing.
    otlp_endpoint: str | None = None
    service_name: str = "perfhub"

    # Vendors (docs/http-api.md "Configuration"): a vendor without a client id is not configured.
    # URLs default to the vendors' real ones; tests and staging point them at fakes.
    oura_client_id: str | None = None
    oura_client_secret: SecretStr | None = None
    oura_authorize_url: str | None = None
    oura_token_url: str | None = None
    oura_api_base: str | None = None
    oura_webhook_verification_token: SecretStr | None = None
    whoop_client_id: str | None = None
    whoop_client_secret: SecretStr | None = None
    whoop_authorize_url: str | None = None
    whoop_token_url: str | None = None
    whoop_api_base: str | None = None
    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None
    google_authorize_url: str | None = None
    google_token_url: str | None = None
    google_api_base: str | None = None
    oauth_state_ttl_s: int = 600
    # Re-poll every linked vendor's last days this often (catches missed webhooks; Google's
    # only path). 0 turns it off.
    reconcile_interval_s: float = 3 * 3600

    # Apple Health import (upload and CLI): beyond a limit an export is refused, nothing stored. Real
    # exports: export.xml 1–4 GB, export.zip a few hundred MB (it compresses 10–25 times); records
    # are the SDNN, resting-HR and sleep ones, a few hundred thousand for years of data.
    apple_health_max_upload_bytes: int = Field(default=1024**3, gt=0)
    apple_health_max_xml_bytes: int = Field(default=8 * 1024**3, gt=0)
    apple_health_max_zip_ratio: float = Field(default=100.0, gt=1)
    apple_health_max_records: int = Field(default=1_000_000, gt=0)

    # A training plan uploaded as CSV or iCalendar (the parser's own cap is the same 2 MiB).
    plan_import_max_upload_bytes: int = Field(default=2 * 1024 * 1024, gt=0)

    log_level: str = "INFO"
    source_priority: tuple[str, ...] = Field(default=DEFAULT_SOURCE_PRIORITY)

    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once into ``var/secret.key`` (mode 600)."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        key_file = self.var_dir / "secret.key"
        if key_file.exists():
            return key_file.read_text().strip()
        self.var_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
        return key

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


_active: Settings | None = None


@lru_cache(maxsize=1)
def _from_environment() -> Settings:
    return Settings()


def get_settings() -> Settings:
    """The settings this process runs with: the environment's, or those a Runtime was built with."""
    return _active or _from_environment()


def use_settings(settings: Settings | None) -> None:
    """Make ``settings`` the process's settings (consumers read them through get_settings)."""
    global _active
    _active = settings
