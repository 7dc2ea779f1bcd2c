"""Settings from the environment (PROPOSAL_ROUTER_*), overridden by command-line flags."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from proposal_router.model.intake.tables import ReadLimits
from proposal_router.model.manifest import Precision

DATA_DIR = Path(user_data_dir("proposal-router", appauthor=False))


def _default_database_url() -> str:
    """A file in the user's data directory: never the directory a command happens to run in."""
    return f"sqlite:///{DATA_DIR / 'proposal-router.db'}"


class Settings(BaseSettings, ReadLimits):
    """The service's and the command line's settings; the file-reading limits come from `ReadLimits`."""

    model_config = SettingsConfigDict(env_prefix="PROPOSAL_ROUTER_")

    taxonomy: str = "data/taxonomy.yaml"
    base_model: str | None = None
    threads: int | None = None
    batch_size: int = 256
    engine: Literal["local", "ray"] = Field(default="local", description="where batch files are routed")
    ray_address: str | None = Field(default=None, description="Ray cluster for engine=ray; unset: a local Ray")
    ray_workers: int | None = Field(default=None, ge=1, description="Ray workers (default: CPUs / threads)")

    model: str | None = Field(default=None, description="bundle directory the service routes with")
    encoder: Precision | None = Field(default=None, description="exported encoder to serve: fp32 or int8")
    database_url: str = Field(default_factory=_default_database_url, description="SQLite file or PostgreSQL URL")
    session_secret: str | None = Field(default=None, description="signs web log-in cookies; random if unset")
    secure_cookies: bool = False
    api_docs: bool = Field(default=False, description="serve /docs and /openapi.json, open to anyone")
    similar_threshold: float = Field(
        default=0.2, gt=0.0, le=1.0, description="并案: least similarity of a candidate (chosen on labelled pairs)"
    )
    return_days: int = Field(
        default=10, ge=0, description="二次交办: days after its assignment a lead department may return a proposal"
    )
    audit_rate: float = Field(
        default=0.05, ge=0.0, le=1.0, description="抽查: share of automatically routed proposals also sent for audit"
    )
    breaker_min_audits: int = Field(
        default=50, ge=1, description="audits (抽查) of the served model needed before the circuit breaker may pause"
    )
    breaker_margin: float = Field(
        default=0.15,
        ge=0.0,
        le=1.0,
        description="pause automatic routing when the audited precision's lower bound is this far below the target",
    )
    timezone: str = Field(default="Asia/Shanghai", description="local time of the times the office's workbooks show")
    max_text_chars: int = Field(default=20_000, ge=1)
    max_items: int = Field(default=100, ge=1, description="proposals per POST /v1/proposals")
    max_body_bytes: int = Field(default=4_000_000, ge=1_000)
    max_upload_bytes: int = Field(default=200_000_000, ge=1_000, description="a batch file uploaded to /v1/batches")
    job_time_budget_seconds: int = Field(
        default=12 * 3600, ge=1, description="a batch job fails once this has passed since it started routing"
    )
    job_lease_seconds: float = Field(
        default=60, ge=1, description="a batch job whose process has not said it is at work for this long is taken over"
    )
    job_poll_seconds: float = Field(
        default=2, gt=0, description="how often a server looks in the database for batch jobs to claim"
    )

    @property
    def read_limits(self) -> ReadLimits:
        return ReadLimits.model_validate(self.model_dump(include=set(ReadLimits.model_fields)))

    def checked_taxonomy(self, given: str | None) -> Path | None:
        """The taxonomy a bundle is used with (serve, route, evaluate, predict). A flag or
        PROPOSAL_ROUTER_TAXONOMY must name a file; the default is used when it is there; otherwise None:
        the bundle's own taxonomy, which it carries."""
        if given is None and "taxonomy" not in self.model_fields_set:
            default = Path(self.taxonomy)
            return default if default.is_file() else None
        return self.taxonomy_path(given)

    def taxonomy_path(self, given: str | None) -> Path | None:
        """`none` learns labels from the data; a relative path is read from the current directory."""
        value = given or self.taxonomy
        return None if value.lower() == "none" else Path(value)
