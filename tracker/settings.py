"""Configuration from ``TRACKER_*`` environment variables (and an optional ``.env`` file)."""

from __future__ import annotations

from ipaddress import ip_network
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from notifications.addresses import InvalidAddressError, parse_mailbox
from notifications.rendering import PDF_WORKERS
from schedules.errors import UnknownTimezoneError
from schedules.recurrence import resolve_timezone
from tracker.domain import limits
from tracker.errors import ConfigError

SUPPORTED_DATABASE_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


class Settings(BaseSettings):
    """Every knob of the service. Unknown ``TRACKER_*`` variables are ignored."""

    model_config = SettingsConfigDict(
        env_prefix="TRACKER_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite+aiosqlite:///./var/tracker.db"
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    base_url: str = "http://127.0.0.1:8080"
    smtp_url: SecretStr | None = None
    maildir: Path = Path("./var/mail")
    mail_from: str = "webinars@localhost"
    zoom_webhook_secret: SecretStr | None = None
    access_log_webhooks: Literal["per-second", "per-request"] = Field(
        default="per-second",
        description="The access log's Zoom webhooks answered 2xx: a count a second, or a line each",
    )
    credit_grace_minutes: int = Field(default=90, ge=0, le=7 * 24 * 60)
    scheduler: Literal["on", "off"] = "on"
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Service processes sharing the port (tracker serve --workers); PostgreSQL only above 1",
    )
    provider_name: str = Field(default="CME Webinar Tracker", min_length=1, max_length=200)
    accreditation_statement: str | None = Field(
        default=None,
        max_length=2000,
        description="Printed on certificates; default: ACCME's statement naming the provider",
    )
    accreditation_statement_fr: str | None = Field(
        default=None,
        max_length=2000,
        description="On French certificates; default: the English one if set, else a French "
        "rendering of ACCME's statement",
    )
    certificate_signatory_name: str = Field(default="", max_length=200)
    certificate_signatory_title: str = Field(default="", max_length=200)
    # certificate content per regime (issue 11 point 6)
    dpc_provider_name: str = Field(
        default="",
        max_length=200,
        description="French DPC certificates: the provider's name as ANDPC registered it "
        "(default: TRACKER_PROVIDER_NAME)",
    )
    dpc_provider_number: str = Field(
        default="",
        pattern=rf"^[A-Za-z0-9]{{0,{limits.DPC_PROVIDER_NUMBER}}}$",
        description="French DPC certificates: the provider's ODPC number",
    )
    council_name: str = Field(
        default="",
        max_length=limits.COUNCIL_NAME,
        description="Indian state medical council certificates: the council's name",
    )
    council_board: str = Field(
        default="SMC",
        pattern=rf"^[A-Za-z0-9_-]{{1,{limits.BOARD_NAME}}}$",
        description="The board id key under which physicians' registration numbers with the "
        "council are kept (their board_ids)",
    )
    default_timezone: str = "UTC"
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)
    outbox_lease_seconds: int = Field(default=120, ge=5, le=3600)
    database_pool_timeout: float = Field(
        default=10, gt=0, le=300, description="Seconds a request waits for a connection, then 503"
    )
    feed_recheck_seconds: float = Field(
        default=5,
        ge=0,
        le=300,
        description="How long a process answers a calendar feed from what it last read, unless it "
        "wrote since; bounds how late another process's change shows; 0: read every time",
    )
    finalisation_lease_seconds: int = Field(default=120, ge=5, le=3600)
    finalisation_batch: int = Field(
        default=1000, ge=10, le=10_000, description="Awards per finalisation transaction"
    )
    pdf_workers: int = Field(
        default=PDF_WORKERS,
        ge=0,
        le=16,
        description="Processes drawing certificate PDFs beside the event loop; 0: on the loop",
    )
    mail_rate: float = Field(
        default=5.0, ge=0, le=1000, description="Messages per second; 0: no limit"
    )
    auth_failure_limit: int = Field(
        default=10,
        ge=1,
        le=100_000,
        description="Failed credentials per client and door, within the window, before 429",
    )
    auth_failure_window_seconds: int = Field(default=60, ge=1, le=86_400)
    signing_key_file: Path | None = Field(
        default=None,
        description="PEM file (PKCS #8, unencrypted) of the Ed25519 key that signs the "
        "certificates' credentials; unset: a key generated once and kept in the database",
    )
    # Zoom account integration (SPEC 8; README "Zoom account"): all three credentials or none.
    zoom_account_id: str | None = None
    zoom_client_id: str | None = None
    zoom_client_secret: SecretStr | None = None
    zoom_api_url: str = "https://api.zoom.us/v2"
    zoom_oauth_url: str = Field(
        default="https://zoom.us/oauth/token",
        description="Server-to-Server OAuth token endpoint (tests point it at a local server)",
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses or networks of reverse proxies whose "
        "X-Forwarded-For names the client (empty: the TCP peer is the client)",
    )

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(f"not a database URL: {value!r}") from None
        if url.drivername not in SUPPORTED_DATABASE_DRIVERS:
            raise ValueError(
                f"driver {url.drivername!r} is not supported; use one of "
                + ", ".join(SUPPORTED_DATABASE_DRIVERS)
            )
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            raise ValueError(
                "an in-memory SQLite database holds nothing between connections; give a file, "
                "e.g. sqlite+aiosqlite:///./var/tracker.db"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an absolute http(s) URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("smtp_url")
    @classmethod
    def _check_smtp_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("must look like smtp://user:pass@host:port or smtps://...")
        return value

    @field_validator("mail_from")
    @classmethod
    def _check_mail_from(cls, value: str) -> str:
        """One mailbox, optionally named: ``webinars@example.org`` or
        ``Institut <webinars@example.org>``; written back in its normal form, the name quoted
        (``"Institut Numérique" <…>``: unquoted, a non-ASCII name is not a mailbox any more)."""
        try:
            mailbox = parse_mailbox(value)
        except InvalidAddressError as exc:
            raise ValueError(str(exc)) from None
        if not mailbox.name:
            return mailbox.address
        quoted = mailbox.name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{mailbox.address}>'

    @field_validator("default_timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            resolve_timezone(value)
        except UnknownTimezoneError as exc:
            raise ValueError(exc.message) from None
        return value

    @field_validator("signing_key_file", mode="before")
    @classmethod
    def _empty_signing_key_file(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("signing_key_file")
    @classmethod
    def _check_signing_key_file(cls, value: Path | None) -> Path | None:
        """The key must load now: a wrong file stops the start, not the first credential."""
        if value is None:
            return None
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        try:
            key = serialization.load_pem_private_key(value.read_bytes(), password=None)
        except OSError as exc:
            raise ValueError(f"cannot read {value}: {exc.strerror}") from None
        except (ValueError, TypeError):
            raise ValueError(f"{value} is not an unencrypted PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{value} must hold an Ed25519 key, not {type(key).__name__}")
        return value

    @field_validator("zoom_api_url", "zoom_oauth_url")
    @classmethod
    def _check_zoom_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an absolute http(s) URL, got {value!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _check_zoom_credentials(self) -> Settings:
        given = [
            bool(self.zoom_account_id),
            bool(self.zoom_client_id),
            bool(self.zoom_client_secret and self.zoom_client_secret.get_secret_value()),
        ]
        if any(given) and not all(given):
            raise ValueError(
                "TRACKER_ZOOM_ACCOUNT_ID, TRACKER_ZOOM_CLIENT_ID and TRACKER_ZOOM_CLIENT_SECRET "
                "go together: set all three or none"
            )
        return self

    @property
    def zoom_enabled(self) -> bool:
        """Whether the Zoom account integration (registrants, reconciliation) is on."""
        return bool(self.zoom_account_id and self.zoom_client_id and self.zoom_client_secret)

    @field_validator("trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                try:
                    ip_network(part.strip(), strict=False)
                except ValueError:
                    raise ValueError(f"not an IP address or network: {part.strip()!r}") from None
        return value

    @property
    def trusted_proxy_list(self) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.trusted_proxies.split(",") if part.strip())

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning any invalid value into a one-line :class:`ConfigError`."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # overrides are validated here
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        extra = f" ({len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        if not first["loc"]:  # a rule over several variables names them itself
            raise ConfigError(f"{message}{extra}") from None
        field = str(first["loc"][0])
        raise ConfigError(f"TRACKER_{field.upper()}: {message}{extra}") from None
