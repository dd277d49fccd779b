"""The one Settings object. Nothing else in LendShield reads the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Configuration, built once at the edge (CLI, app factory) and passed down."""

    model_config = SettingsConfigDict(
        env_prefix="LENDSHIELD_",
        env_nested_delimiter="__",
        extra="ignore",
        frozen=True,
    )

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")
    database_url: str = ""
    """SQLAlchemy URL; empty means the embedded SQLite file under ``data_dir``."""

    key_provider: Literal["local", "vault"] = "local"
    key_file: Path | None = None
    """Local key file; defaults to ``data_dir/keys.json``."""
    vault_url: str = "http://127.0.0.1:8200"
    vault_token: SecretStr | None = None
    vault_transit_key: str = "lendshield-kek"

    policies_dir: Path = _PACKAGE_DIR / "policies"
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"

    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    hot_read_threads: int | None = Field(default=None, ge=0, le=20)
    """Threads that run the masked read (``GET /v1/subjects/{id}``: token, gate and ledger entry
    in one autocommit unit of work) in each API process; 0 runs it on the event loop itself,
    one read at a time, as a pre-fork worker does, with no thread hop and no contention for the
    interpreter lock. Unset: 0 on SQLite, where the reads themselves hold no lock and threads
    only add that contention; 2 on PostgreSQL, so one read's CPU work overlaps another's round
    trips (docs/benchmarks.md). A database many milliseconds away wants a few more; at most 20,
    the size of a process's PostgreSQL pool."""
    dek_cache_size: int = Field(default=4096, ge=0)
    """How many unwrapped per-subject data keys a process keeps in memory."""

    ledger_origin: str = "lendshield.example/log"
    ledger_integrate_interval_s: float = Field(default=1.0, gt=0)

    # --- ops ---
    backup_dir: Path | None = None
    """Where `lendshield backup` writes; defaults to ``data_dir/backups``."""
    drill_report_dir: Path | None = None
    """Where restore drills write their JSON and HTML reports; defaults to ``data_dir/drills``."""
    drill_max_age_days: int = Field(default=30, ge=1)
    """A restore drill older than this raises an alert."""
    incident_notice_hours: float = Field(default=72.0, gt=0)
    """The internal deadline for notifying the regulator of an incident (PIPL Art. 57 says "immediately"
    and sets no hours): past it, an alert."""
    job_modules: list[str] = Field(default_factory=list)
    """Extra modules whose ``@job`` handlers a worker loads (plug-ins; LendShield's own load always)."""
    job_lease_s: int = Field(default=300, ge=5)

    def resolved_backup_dir(self) -> Path:
        return self.backup_dir if self.backup_dir is not None else self.data_dir / "backups"

    def resolved_drill_report_dir(self) -> Path:
        return self.drill_report_dir if self.drill_report_dir is not None else self.data_dir / "drills"

    # --- gate ---
    consent_reprompt_limit: int = Field(default=1, ge=0)
    """After a refusal, how many times a person may be asked again within the window (PIPL Art. 16)."""
    consent_reprompt_window_days: int = Field(default=90, ge=1)

    # --- ledger ---
    ledger_witness_keys: list[str] = Field(default_factory=list)
    """Verifier keys (``name+id+base64``) of witnesses whose cosignatures the log accepts."""
    jobs_enabled: bool = True
    """Run in-process periodic jobs (the ledger integrator) in the web process."""

    # --- collection ---
    collection_preset: str = ""
    """Jurisdiction preset in policies/collection.yaml (``cn``, ``us_regf``); empty means the file's default."""
    collection_adapter: str = "outbox"
    """Telephony/SMS adapter: ``outbox`` (built in, records locally) or ``module:factory`` of a plug-in."""
    collection_blob_dir: Path | None = None
    """Where encrypted recordings and other evidence are kept; defaults to ``data_dir/collection-blobs``."""
    collection_retention_days: int = Field(default=1825, ge=1)
    """How long collection evidence is kept (NIFA 2018: at least 5 years)."""
    collection_callback_max_age_s: int = Field(default=300, ge=10)
    """How old a signed adapter callback may be before it is refused as a replay."""
    collection_max_recording_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)

    # --- alert delivery (watch): off until a webhook URL or an SMTP host is set ---
    alert_console_url: str = "http://127.0.0.1:8000"
    """Base URL of the staff console, for the link in a delivered alert."""
    alert_webhook_url: str = ""
    """Where alerts are POSTed (JSON, signed); empty means no webhook delivery."""
    alert_webhook_secret: SecretStr | None = None
    """HMAC-SHA256 key of the ``X-LendShield-Signature`` header; required with a webhook URL."""
    alert_webhook_timeout_s: float = Field(default=10.0, gt=0, le=120)
    alert_smtp_host: str = ""
    """SMTP server for alert e-mail; empty means no e-mail delivery."""
    alert_smtp_port: int = Field(default=587, ge=1, le=65535)
    alert_smtp_starttls: bool = True
    """Upgrade the connection with STARTTLS before sending (and before any login)."""
    alert_smtp_username: str = ""
    alert_smtp_password: SecretStr | None = None
    alert_smtp_timeout_s: float = Field(default=10.0, gt=0, le=120)
    alert_smtp_ca_file: Path | None = None
    """CA bundle that signs the SMTP server's certificate, when it is not a public CA."""
    alert_email_from: str = ""
    alert_email_to: list[str] = Field(default_factory=list)
    """The protection officer's addresses (JSON list in the environment)."""
    alert_delivery_interval_s: float = Field(default=10.0, gt=0)
    """How often the job runner sends what is due from the alert outbox."""
    alert_delivery_max_attempts: int = Field(default=60, ge=1, le=10_000)
    """Attempts before a delivery is marked failed (backoff doubles up to an hour: about 2.5 days)."""

    def resolved_collection_blob_dir(self) -> Path:
        return self.collection_blob_dir if self.collection_blob_dir is not None else self.data_dir / "collection-blobs"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'lendshield.db').resolve()}"

    def resolved_key_file(self) -> Path:
        return self.key_file if self.key_file is not None else self.data_dir / "keys.json"


__all__ = ["Settings"]
