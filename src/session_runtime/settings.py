"""Settings, read once from the environment (prefix ``SESSION_RUNTIME_``) into one object."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything configurable, with the embedded defaults.

    >>> Settings(database_path="var/demo.db").synchronous
    'FULL'
    """

    model_config = SettingsConfigDict(env_prefix="SESSION_RUNTIME_", frozen=True, extra="ignore")

    database_path: Path = Field(
        default=Path("var/session-runtime.db"), description="The SQLite file (embedded default)."
    )
    synchronous: Literal["FULL", "NORMAL"] = Field(
        default="FULL",
        description="FULL: every acknowledged write survives power loss. NORMAL: faster; "
        "survives a process crash but may lose the last commits on power loss.",
    )
