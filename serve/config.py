"""Service settings: the only place that reads the environment (prefix `RAWAN_`) or a settings file.

Precedence: explicit keyword arguments > environment variables > the settings file (dotenv syntax, path in
`RAWAN_SETTINGS_FILE`, default `rawan.env` in the working directory) > defaults below.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from model.registry import DEFAULT_MODELS_DIR, DEFAULT_NAME
from model.runtime import DEFAULT_TOKEN_BUDGET

SETTINGS_FILE_ENV = "RAWAN_SETTINGS_FILE"


class Settings(BaseSettings):
    """Everything the service can be told; one instance is built per app."""

    model_config = SettingsConfigDict(env_prefix="RAWAN_", env_file=os.environ.get(SETTINGS_FILE_ENV, "rawan.env"),
                                      env_file_encoding="utf-8", extra="ignore", protected_namespaces=())

    # model
    model: str | None = Field(None, description="model dir, NAME@champion, NAME@VERSION or NAME (default champion)")
    models_dir: Path = Field(DEFAULT_MODELS_DIR, description="registry root")
    model_name: str = DEFAULT_NAME
    onnx_file: str | None = Field(None, description="serve this ONNX file of the model dir instead of the one "
                                                    "chosen at build time (e.g. model.onnx)")
    regions: bool = Field(True, description="tag Kemendagri regions (needs the gazetteer)")
    max_windows: int = Field(64, ge=1, le=4096, description="cap on token windows per article; more is truncated")
    reload_poll_s: float = Field(0.0, ge=0, description="poll the registry champion every N seconds (0 = off)")

    # runtime
    threads: int = Field(0, ge=0, description="ONNX Runtime intra-op threads (0 = all cores)")
    cpu_workers: int = Field(2, ge=1, le=64, description="threads for tokenisation, evidence and regions")
    batching: bool = Field(True, description="group windows of concurrent requests into one ONNX call")
    token_budget: int = Field(DEFAULT_TOKEN_BUDGET, ge=64, description="max padded tokens per ONNX call")
    max_wait_ms: float = Field(4.0, ge=0, le=1000, description="how long a batch waits for more windows")
    queue_size: int = Field(2048, ge=1, description="windows waiting or running before new requests get 503")
    max_inflight: int = Field(256, ge=1, description="requests admitted at once before new ones get 503")
    retry_after_s: int = Field(1, ge=1)

    # limits
    max_body_bytes: int = Field(1_000_000, ge=1024)
    max_articles: int = Field(64, ge=1)

    # http
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    admin_token: SecretStr | None = Field(None, description="Bearer token for annotations and admin routes")
    annotations_db: Path = Path("data/annotations.db")
    log_level: str = "INFO"
    warmup: bool = True

    # Label Studio ML backend (routes under /ls)
    ls_auth: Literal["bearer", "basic", "either"] = Field(
        "either", description="how Label Studio authenticates: the admin token as Bearer, HTTP basic auth, or either")
    ls_basic_user: str = Field("rawan", description="basic-auth user name Label Studio sends")
    ls_basic_password: SecretStr | None = Field(None, description="basic-auth password (unset: the admin token)")
    ls_retrain: bool = Field(False, description="start a retrain after a webhook stores a new annotation or on "
                                                "START_TRAINING (one at a time); off: webhooks only store")
    ls_retrain_command: str | None = Field(None, description="shell words run instead of the default "
                                                             "`python -m rawan.cli retrain ...`")

    @field_validator("model", mode="before")
    @classmethod
    def _empty_is_none(cls, v):
        return v or None

    @field_validator("log_level")
    @classmethod
    def _upper(cls, v: str) -> str:
        return v.upper()

    def admin_secret(self) -> str | None:
        token = self.admin_token.get_secret_value() if self.admin_token else ""
        return token or None

    def ls_basic_secret(self) -> str | None:
        """The basic-auth password Label Studio must send: its own setting, else the admin token."""
        password = self.ls_basic_password.get_secret_value() if self.ls_basic_password else ""
        return password or self.admin_secret()
