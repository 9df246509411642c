"""The one configuration object.

Values come, highest first, from: explicit keyword arguments, ``MOBILISE_*`` environment
variables, a ``mobilise.toml`` file (path in ``MOBILISE_CONFIG``, default ``./mobilise.toml``),
then the defaults below, which are the embedded demo set-up (SQLite, local folders, the
Graph emulator). Domain code receives a ``Settings``; nothing reads ``os.environ`` itself.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

# Known to everyone who has read the source: a cookie signed with it is forged at will.
DEFAULT_SECRET = "change-me-mobilise-dev-secret"
MIN_SECRET_LENGTH = 32


# Folders that default to a place under data_dir (see Settings._folders_under_data_dir).
_DATA_DIR_FOLDERS = {"home_root": "home", "archive_root": "archive",
                     "migration_destination_root": "onedrive"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOBILISE_", extra="ignore")

    # --- core -------------------------------------------------------------------------
    database_url: str = Field(
        default="sqlite:///./mobilise.db",
        description="SQLAlchemy URL; sqlite:///path (embedded) or postgresql+psycopg://...",
    )
    data_dir: Path = Field(default=Path("./mobilise-data"), description="inventories, journals")
    secret_key: SecretStr = Field(
        default=SecretStr(DEFAULT_SECRET),
        description="signs web sessions and CSRF tokens: at least 32 random characters "
                    "(mobilise serve refuses the default or a short one)",
    )
    audit_key: SecretStr | None = Field(
        default=None,
        description="keys the audit chain (HMAC-SHA256) and signs audit checkpoints; kept "
                    "outside the database, distinct from secret_key (docs/security.md)",
    )
    audit_retired_keys: list[SecretStr] = Field(
        default_factory=list,
        description="earlier audit keys, still needed to verify the entries they keyed",
    )
    organisation: str = Field(default="Example Police", description="used in User-Agent")
    email_domain: str = Field(default="example.police.uk")
    timezone: str = Field(default="Europe/London")
    secure_cookies: bool = Field(default=False, description="set true behind HTTPS")
    login_attempts: int = Field(
        default=30, ge=1, description="failed sign-ins for one username, from any address, "
        "within login_window_seconds before the username is locked")
    login_lockout_seconds: int = Field(default=300, ge=1, description="a username's lock")
    login_address_attempts: int = Field(
        default=10, ge=1, description="failed sign-ins from one source address within "
        "login_window_seconds before the address is blocked (keep it below login_attempts)")
    login_address_block_seconds: int = Field(default=900, ge=1, description="an address's block")
    login_window_seconds: int = Field(default=900, ge=1, description="failures older than "
                                      "this are forgotten")

    # --- sign-in with Microsoft Entra ID (docs/operators.md) ---------------------------
    entra_authority: str | None = Field(
        default=None, description="https://login.microsoftonline.com/<tenant id>; unset: "
        "no sign-in with Microsoft")
    entra_client_id: str | None = Field(default=None, description="the app registration's "
                                        "Application (client) ID")
    entra_client_secret: SecretStr | None = Field(default=None, description="its client "
                                                  "secret (never logged)")
    entra_redirect_uri: str | None = Field(
        default=None, description="https://<mobilise host>/auth/callback, as registered "
        "(Web platform) on the app registration")
    entra_ca_bundle: Path | None = Field(default=None, description="CA for a private "
                                         "identity endpoint (the emulator's tls/ca.pem)")
    entra_role_map: dict[str, list[str]] = Field(
        default={}, description="an app role value or group object id in the ID token -> "
        "the Mobilise roles it gives; a person whose claims map to nothing signs in with "
        "no staff role")
    entra_unknown_person: Literal["refuse", "viewer"] = Field(
        default="refuse", description="someone not in the people register: refused, or "
        "signed in with the viewer role only")
    local_passwords: bool = Field(
        default=True, description="sign-in with a local password (break-glass "
        "administration); false: only sign-in with Microsoft")

    # --- Microsoft Graph --------------------------------------------------------------
    graph_url: str = Field(default="https://127.0.0.1:8443/v1.0")
    graph_authority: str = Field(default="https://127.0.0.1:8443/mobilise-tenant")
    graph_tenant_id: str = Field(default="mobilise-tenant")
    graph_client_id: str = Field(default="mobilise-app")
    graph_client_secret: SecretStr = Field(default=SecretStr("emulator-secret"))
    graph_certificate_path: Path | None = None
    graph_certificate_thumbprint: str | None = None
    graph_ca_bundle: Path | None = Field(default=None, description="CA for a private endpoint")
    graph_resource_units_per_minute: int = Field(default=1250)
    graph_max_retries: int = Field(default=8)
    graph_simple_upload_limit: int = Field(default=4 * 1024 * 1024)
    graph_fragment_size: int = Field(default=10 * 1024 * 1024)
    graph_backoff_base_seconds: float = Field(default=0.5, description="first 5xx back-off")
    graph_backoff_cap_seconds: float = Field(default=60.0, description="longest back-off")
    graph_timeout_seconds: float = Field(default=120.0, description="per request")
    tenant_host: str = Field(default="example-my.sharepoint.com")

    # --- people ---------------------------------------------------------------------
    roster_max_leaver_share: float = Field(
        default=0.05, ge=0.0, le=1.0,
        description="a roster import that would make more than this share of the active "
        "register leavers needs --allow-mass-leavers (the file is probably truncated)",
    )

    # --- storage, drives, migration ---------------------------------------------------
    home_root: Path = Field(default=Path("./mobilise-data/home"),
                            description="H: share mount (default: <data_dir>/home)")
    home_template: str | None = Field(default=None, description="e.g. /mnt/isilon/home/{sam}")
    home_unc_root: str | None = Field(
        default=None,
        description="UNC prefix of the roster's home paths (e.g. \\\\isilon\\home$), "
        "read as home_root on this machine",
    )
    smb_server: str | None = None
    smb_port: int = 445
    smb_share: str | None = None
    smb_username: str | None = None
    smb_password: SecretStr | None = None
    onedrive_quota_bytes: int = Field(default=1024**4)
    archive_root: Path = Field(default=Path("./mobilise-data/archive"),
                               description="default: <data_dir>/archive")
    scan_processes: int = Field(default=2)
    migration_concurrency: int = Field(default=8)
    migration_max_concurrency: int = Field(default=32)
    migration_destination: str = Field(
        default="onedrive", description="onedrive, or local (a folder per person) for trials")
    migration_destination_root: Path = Field(
        default=Path("./mobilise-data/onedrive"),
        description="with migration_destination=local (default: <data_dir>/onedrive)")
    migration_shard_files: int = Field(
        default=50_000, description="files per task at most: large drives are split")
    retention_review_days: int = Field(
        default=14, ge=1, le=365, description="days a person has to decide a queued review "
        "item (never past their wave's cutover) before it goes to their line manager")
    retention_review_reminder_days: int = Field(
        default=3, ge=0, le=365, description="days before a review deadline that the person "
        "is reminded (once per review round)")

    # --- devices, rollout, comms, finance ---------------------------------------------
    mdm_capacity: int = Field(default=40_000)
    mdm_warning_ratio: float = Field(default=0.95)
    intune_writes_per_20s: int = Field(default=200)
    handset_service_life_years: int = Field(default=3)
    recovery_due_days: int = Field(default=14, description="days a leaver has to return a handset")
    acceptable_use_version: str = Field(default="1.0", description="current AUP version")
    rollout_deadline: date = Field(default=date(2023, 3, 31), description="last issue day")
    rollout_priority: list[str] = Field(
        default=["bcu", "ocu", "department"],
        description="served first to last: org unit codes, org unit kinds or person kinds "
        "(BCUs hold the response and neighbourhood teams)",
    )
    rollout_slots_per_day: int = Field(default=20, description="per issuing site, by default")
    rollout_staging_per_day: int = Field(default=300, description="handsets staged a day")
    rollout_alternative_models: dict[str, str] = Field(
        default={"large-screen": "large-screen", "hearing aid": "hearing-aid-compatible"},
        description="words in a person's adjustments -> the alternative handset model",
    )
    rollout_managed_before: int = Field(
        default=10_000, description="devices already managed before the rollout (PCD 1322)"
    )
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = "mobilise@example.police.uk"
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = 30.0
    smtp_max_retries: int = Field(default=4, description="for refusals that say 'try later'")
    smtp_retry_seconds: float = Field(default=2.0, description="first back-off, then doubled")
    procurement_threshold: int = Field(default=213_477, description="PCR 2015, pounds")
    delegation_limit: int = Field(default=500_000, description="Deputy Mayor approval, pounds")
    chromium: str = Field(default="chromium", description="headless Chromium for PDF reports")
    chromium_timeout_seconds: int = Field(default=120)

    # --- celery -----------------------------------------------------------------------
    broker_url: str = "redis://127.0.0.1:6379/0"
    worker_visibility_timeout: int = Field(
        default=3600, description="seconds before a dead worker's task is delivered again")
    smb_map_private_names: bool = Field(
        default=False,
        description="SMB scans: read Samba's private-use characters (catia/fruit, U+F001-"
                    "U+F027) as the characters Windows forbids that they stand for")

    # --- SIM carriers (bar and unbar requests by e-mail) -------------------------------
    carrier_addresses: dict[str, str] = Field(
        default={}, description="carrier name -> the address that takes bar requests")
    carrier_default_address: str | None = Field(
        default=None, description="for SIMs whose carrier has no address of its own")
    background_executor: str = Field(
        default="inprocess", description="where work started from the web runs: inprocess "
        "(a thread of the web process) or celery (mobilise worker)")

    # --- migration cutover ------------------------------------------------------------
    migration_freeze_hook: str | None = Field(
        default=None, description="command that makes a person's H: drive read-only before "
        "cutover; gets MOBILISE_PERSON, MOBILISE_WAVE, MOBILISE_UPN, MOBILISE_SOURCE")
    migration_freeze_hook_timeout_seconds: float = Field(default=120.0, gt=0)
    # How long a cutover holds the people it cuts over against a second cutover of the
    # same people: longer than any cutover runs; a run that crashed frees them after it.
    migration_cutover_lease_hours: float = Field(default=12.0, gt=0, le=24 * 14)

    # --- after cutover: the H: drive's lifecycle --------------------------------------
    after_grace_days: int = Field(
        default=30, ge=0, le=3650, description="days after cutover during which late "
        "files are swept from the H: drive before it is made read-only")
    after_read_only_days: int = Field(
        default=60, ge=0, le=3650, description="days a drive stays read-only (and mapped) "
        "before its mapping is removed and it is archived")
    after_archive_days: int = Field(
        default=90, ge=0, le=3650, description="days an archived drive is kept before its "
        "space may be released (with sign-off, through a disposal batch)")
    after_read_only_hook: str | None = Field(
        default=None, description="command that makes a migrated person's H: drive "
        "read-only; gets MOBILISE_PERSON, MOBILISE_WAVE, MOBILISE_UPN, MOBILISE_SOURCE")
    after_unmap_hook: str | None = Field(
        default=None, description="command that removes a migrated person's H: drive "
        "mapping (GPO, AD home directory); same environment as the read-only hook")
    after_hook_timeout_seconds: float = Field(default=120.0, gt=0)
    kfm_group_id: str | None = Field(
        default=None, description="Entra ID group (object id) whose members the Known "
        "Folder Move policy applies to: people whose cutover is complete join it")

    # --- operations -------------------------------------------------------------------
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        default="warning", description="of every entry point; secrets are masked at any level")
    web_threads: int = Field(
        default=40, ge=1, le=1000,
        description="threads serving web requests (each holds at most one database connection)")
    web_aggregates_stale_seconds: float = Field(
        default=30.0, ge=0, le=3600,
        description="how long after a change the pages' whole-register figures (overview, "
                    "rollout, drives, finance) may still show the figures from before it, "
                    "while the server works them out again in the background; 0: every "
                    "change is seen on the next read, at its cost")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("MOBILISE_CONFIG", "mobilise.toml"))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_path),
        )

    @model_validator(mode="after")
    def _folders_under_data_dir(self) -> Settings:
        # A folder left unset lives under data_dir: one setting (MOBILISE_DATA_DIR, the
        # demo's --dir) moves everything Mobilise writes, never into the current folder.
        for name, leaf in _DATA_DIR_FOLDERS.items():
            if name not in self.model_fields_set:
                setattr(self, name, self.data_dir / leaf)
        return self

    @model_validator(mode="after")
    def _audit_key_apart(self) -> Settings:
        # One leaked secret must not give both: sessions can be forged with secret_key,
        # the audit chain rewritten with audit_key.
        key = self.audit_key.get_secret_value() if self.audit_key else None
        if key is not None and key == self.secret_key.get_secret_value():
            raise ValueError("audit_key must differ from secret_key")
        if key is not None and len(key) < 16:
            raise ValueError("audit_key is too short: use 32 random bytes or more")
        return self

    @model_validator(mode="after")
    def _entra_roles_known(self) -> Settings:
        from mobilise.core.actor import Role

        known = {r.value for r in Role}
        for claim, roles in self.entra_role_map.items():
            unknown = sorted(set(roles) - known)
            if unknown:
                raise ValueError(f"entra_role_map[{claim!r}] names unknown roles {unknown}; "
                                 f"roles are {', '.join(sorted(known))}")
        return self

    def masked(self) -> dict[str, Any]:
        """Every setting, secrets shown as ``********`` (and passwords in URLs hidden)."""
        out: dict[str, Any] = {}
        for name, value in self.model_dump().items():
            if isinstance(getattr(self, name), SecretStr):
                out[name] = "********" if value is not None else None
            elif isinstance(value, list) and any(isinstance(v, SecretStr) for v in value):
                out[name] = ["********"] * len(value)
            elif name.endswith("_url") and isinstance(value, str):
                out[name] = mask_url(value)
            else:
                out[name] = str(value) if isinstance(value, Path | date) else value
        return out


    def __repr_args__(self) -> Any:
        # repr() and str() reach logs and tracebacks: URLs lose their passwords
        # (SecretStr fields already print as stars).
        for name, value in super().__repr_args__():
            if name is not None and name.endswith("_url") and isinstance(value, str):
                yield name, mask_url(value)
            else:
                yield name, value


def secret_problem(settings: Settings) -> str | None:
    """Why ``settings.secret_key`` must not sign sessions of a served app, or None."""
    secret = settings.secret_key.get_secret_value()
    if secret == DEFAULT_SECRET:
        return ("MOBILISE_SECRET_KEY is the default, published in the source: anyone could "
                "sign a session cookie. Set it to a random value of at least "
                f"{MIN_SECRET_LENGTH} characters, e.g. python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'")
    if len(secret) < MIN_SECRET_LENGTH:
        return (f"MOBILISE_SECRET_KEY has {len(secret)} characters: it needs at least "
                f"{MIN_SECRET_LENGTH} random ones")
    return None


def mask_url(url: str) -> str:
    """Hide the password in ``scheme://user:password@host/...``."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    if ":" in creds:
        creds = creds.split(":", 1)[0] + ":********"
    return f"{scheme}://{creds}@{host}"
