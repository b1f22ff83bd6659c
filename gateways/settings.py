"""All settings in one typed object, read from the environment (prefix LIENTHONG_)."""

from __future__ import annotations

import os
from datetime import date, time
from functools import cached_property
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env_file() -> str:
    # The only environment read outside Settings: which file the settings come from.
    return os.environ.get("LIENTHONG_ENV_FILE", ".env")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIENTHONG_", extra="ignore")

    data_dir: Path = Path("var")
    event_store_url: str = ""  # default: sqlite under data_dir
    view_store_url: str = ""  # default: the event store's database
    kafka_bootstrap: str | None = None
    # Topic names are "<prefix>.dossier-events.v1" etc.; tests and side-by-side installs change the prefix.
    kafka_topic_prefix: str = "lienthong"
    kafka_event_partitions: int = 12
    # Replicas of every topic the project creates: 1 on the single local broker, 3 on a
    # cluster (then min.insync.replicas=2, so an acks=all write survives one broker's loss).
    kafka_replication_factor: int = 1
    relay_batch: int = 1000
    relay_idle_ms: int = 50
    projector_batch: int = 2000
    inbound_batch: int = 500
    inbound_consumers: int = 2  # consumers of the command topic per process (it has 3 partitions)
    checkpoint_every_events: int = 1000
    checkpoint_every_seconds: int = 300
    # A checkpoint is signed at most this long after the last event recorded (the tamper window).
    checkpoint_max_delay_seconds: int = 10
    jwt_secret: str | None = None
    # Where the master keys live (LIENTHONG_KEYS_DIR); default <data_dir>/keys. Put them on
    # another volume than the database so one copy of the data never holds both.
    keys_location: Path | None = Field(
        default=None, validation_alias=AliasChoices("keys_location", "LIENTHONG_KEYS_DIR")
    )
    jwt_ttl_seconds: int = 3600
    timezone: str = "Asia/Ho_Chi_Minh"
    office_hours: list[tuple[str, str]] = Field(
        default_factory=lambda: [("07:30", "11:30"), ("13:00", "17:00")]
    )
    same_day_cutoff: str = "15:00"
    extra_days_off: list[date] = Field(default_factory=list)
    extra_working_days: list[date] = Field(default_factory=list)
    holiday_first_year: int = 2000
    holiday_last_year: int = 2040
    host: str = "127.0.0.1"
    port: int = 8000
    # Where citizens reach the dashboard (the receipt's QR code); default: the request's own URL.
    public_url: str | None = None
    max_body_bytes: int = 256 * 1024
    # Dossier files: where their content lives (empty: files under <data_dir>/blobs; or
    # file:///path, or postgresql://…) and how large one upload may be.
    blob_store_url: str = ""
    max_upload_bytes: int = 20 * 1024 * 1024
    # An idempotency key is remembered longer than the Kafka commands topic keeps a command
    # (7 days): a command read again (redelivered, offsets reset) or retried while it may still
    # be on the topic replays its first answer instead of running again.
    idempotency_ttl_seconds: int = 8 * 24 * 3600
    # An event's occurred_at may be at most this far ahead of the server's clock (422 beyond).
    clock_skew_seconds: int = 120
    # How long after receipt the desk may ask for a supplement (working hours; empty: no limit);
    # docs/decisions.md says what the regulations give and why this is a setting.
    supplement_window_working_hours: float | None = 24.0
    # The writer: jobs per group commit, jobs waiting before the API answers 503, how long a
    # request waits for its turn, and how many dossiers' current states are kept in memory.
    writer_max_batch: int = 500
    writer_max_pending: int = 5000
    command_wait_seconds: float = 30.0
    state_cache_size: int = 20_000
    seed_dossiers: int = 400
    # The embedded demo's login page may issue tokens for any role (never in a real deployment).
    demo_login: bool = False
    log_level: str = "info"
    # Rate limits (token buckets per API process): requests a second and the burst saved up;
    # a rate of 0 turns that limit off. Commands per token and per client address (defaults
    # above what one process commits, so imports and benchmarks are not throttled: lower them
    # per deployment); the citizen lookup per client address (secrets are not to be guessed).
    rate_commands_per_token: float = 1000.0
    rate_commands_per_address: float = 2000.0
    rate_commands_burst: int = 2000
    rate_lookups_per_address: float = 1.0
    rate_lookups_burst: int = 20
    # Origins allowed to call the API from a browser (CORS); none by default.
    cors_allow_origins: list[str] = Field(default_factory=list)

    @classmethod
    def load(cls) -> Settings:
        return cls(_env_file=_env_file())  # type: ignore[call-arg]

    @cached_property
    def resolved_event_store_url(self) -> str:
        if self.event_store_url:
            return self.event_store_url
        return f"sqlite:///{self.data_dir / 'lienthong.sqlite'}"

    @cached_property
    def resolved_view_store_url(self) -> str:
        return self.view_store_url or self.resolved_event_store_url

    def office_intervals(self) -> tuple[tuple[time, time], ...]:
        return tuple((time.fromisoformat(a), time.fromisoformat(b)) for a, b in self.office_hours)

    @property
    def keys_dir(self) -> Path:
        return self.keys_location or self.data_dir / "keys"
