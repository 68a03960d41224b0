"""Handler settings from the environment the CDK app sets, validated once per cold start."""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel, Field, ValidationError

from domain.errors import ShipwaveError


class SettingsError(ShipwaveError):
    """A handler's environment is missing or malformed."""


class Settings(BaseModel):
    event_log_table: str = Field(min_length=3)
    home_region: str = Field(min_length=3)


@cache
def settings() -> Settings:
    try:
        return Settings(
            event_log_table=os.environ.get("EVENT_LOG_TABLE", ""),
            home_region=os.environ.get("HOME_REGION", os.environ.get("AWS_REGION", "")),
        )
    except ValidationError as error:
        raise SettingsError(f"handler environment is incomplete: {error}") from None
