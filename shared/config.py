"""Typed settings, read from the environment (and an optional `.env`).

Only the composition roots in `services/` construct these; everything else
receives the values it needs as arguments.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = PROJECT_ROOT / "var"


class _Base(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")


class DatabaseSettings(_Base):
    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_VAR_DIR / 'xinfang.sqlite3'}",
        description="SQLAlchemy URL; PostgreSQL in production, SQLite embedded.",
    )


class BusSettings(_Base):
    event_bus_url: str = Field(
        default="embedded://",
        description="`embedded://` (in process) or `nats://host:4222` (NATS JetStream).",
    )
    # The stream/subject prefix lets several deployments (or test runs) share one NATS.
    event_bus_prefix: str = "xinfang"
    event_max_attempts: int = 6
    event_retry_base_seconds: float = 1.0
    event_ack_wait_seconds: float = 30.0
    outbox_poll_seconds: float = 0.1
    # How long a relay holds the rows it is publishing before another may take them.
    outbox_lease_seconds: float = 10.0


class ServerSettings(_Base):
    port: int = 8000
    host: str = "127.0.0.1"
    # The address citizens reach the system at (the reverse proxy's), printed in the
    # QR codes posted at sites: never taken from a request's Host header, which the
    # caller writes. Default: this server's own address.
    public_base_url: str = ""

    def base_url(self) -> str:
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")


class SecuritySettings(_Base):
    xinfang_secret_key: str = Field(
        default="", description="Signing and encryption key; `make run` generates one."
    )
    xinfang_secret_key_file: Path = DEFAULT_VAR_DIR / "secret.key"
    # Earlier keys, comma-separated, still read after a rotation (`xinfang keys reencrypt`).
    xinfang_previous_secret_keys: str = ""

    def previous_keys(self) -> tuple[bytes, ...]:
        return tuple(
            k.strip().encode() for k in self.xinfang_previous_secret_keys.split(",") if k.strip()
        )

    def secret_key(self) -> bytes:
        """The key from the environment, else from the key file; never empty."""
        if self.xinfang_secret_key:
            return self.xinfang_secret_key.encode()
        if self.xinfang_secret_key_file.exists():
            key = self.xinfang_secret_key_file.read_text().strip()
            if key:
                return key.encode()
        raise RuntimeError(
            "XINFANG_SECRET_KEY is not set and no key file exists at "
            f"{self.xinfang_secret_key_file}; run `make run` or set the variable"
        )


class LimitSettings(_Base):
    max_body_bytes: int = 1024 * 1024
    rate_ip_per_minute: int = 30
    rate_phone_per_hour: int = 10
    # Peers whose X-Forwarded-For is believed (the reverse proxy), comma-separated.
    trusted_proxies: str = ""


class Settings(_Base):
    """Everything one process needs, grouped by concern."""

    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    bus: BusSettings = Field(default_factory=BusSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    var_dir: Path = Field(default=DEFAULT_VAR_DIR, alias="XINFANG_VAR_DIR")


def load_settings() -> Settings:
    return Settings(
        db=DatabaseSettings(),
        bus=BusSettings(),
        server=ServerSettings(),
        security=SecuritySettings(),
        limits=LimitSettings(),
    )
