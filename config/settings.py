"""One pydantic-settings tree, env-prefixed WEERTHUIS_, built at the entry point and never at import."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REGIONS_DIR = Path(__file__).parent / "regions"


class IntegrationSettings(BaseModel):
    # "http": the httpx adapters, endpoints and secrets from Prefect Blocks (the zaaksysteem so far; the other
    # systems follow). "fake": in-process fakes, for tests of the case logic without servers.
    mode: Literal["fake", "http"] = "fake"
    # Where the fakes keep what they received, so a test or a person can count it from another process.
    fake_ledger: Path | None = None


class MailSettings(BaseModel):
    # The Prefect Block (type "Weer Thuis mailserver") with host, port, security and credentials.
    server_block: str = "weerthuis-mailserver"


class LoginSettings(BaseModel):
    """Personal login with OpenID Connect (weerthuis server). WEERTHUIS_LOGIN__ISSUER and so on."""

    # The identity provider's issuer; its discovery document is <issuer>/.well-known/openid-configuration.
    issuer: str | None = None
    client_id: str = "weerthuis"
    client_secret: SecretStr | None = None
    # The address people open (behind a TLS proxy: https://weerthuis.regio.nl); the provider sends them back to
    # <public_url>/auth/callback. Cookies are Secure when it starts with https.
    public_url: str | None = None
    # Signs the session cookies; the same on every server process, and secret.
    session_secret: SecretStr | None = None
    session_hours: float = Field(default=10, gt=0, le=24)  # a login holds this long at most
    idle_minutes: int = Field(default=60, gt=0, le=24 * 60)  # and ends sooner when unused this long
    scope: str = "openid"
    # The ID token's claims Weer Thuis maps to the region's people (a provider may name them otherwise).
    staff_code_claim: str = "weerthuis_staff_code"
    role_claim: str = "weerthuis_role"
    organisation_claim: str = "weerthuis_organisation"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WEERTHUIS_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Path(".data")
    # SQLite file under data_dir unless a URL is given (postgresql+psycopg://… to scale).
    case_db_url: str | None = None
    regions_dir: Path = REGIONS_DIR
    # Fernet key for the BSN; without one, a key file is made once in data_dir (demo and tests only).
    bsn_key: SecretStr | None = None
    integrations: IntegrationSettings = IntegrationSettings()
    mail: MailSettings = MailSettings()
    login: LoginSettings = LoginSettings()
    # The Prefect UI address people open from a mail; by default the one Prefect derives from its API URL.
    ui_url: str | None = None
    # Days a finished run stays in Prefect with its inputs (form answers) and logs; the `retention` flow
    # (flows/retention.py) deletes it after that, unless it is still a case's current run.
    prefect_retention_days: int = Field(default=90, ge=1, le=3650)

    @property
    def database_url(self) -> str:
        if self.case_db_url:
            return self.case_db_url
        return f"sqlite:///{(self.data_dir / 'cases.sqlite').resolve()}"

    @property
    def ledger_path(self) -> Path:
        return self.integrations.fake_ledger or self.data_dir / "fake-counterparts.sqlite"
