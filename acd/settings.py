"""Settings slice for the ACD (routing core and its Asterisk driver)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AcdSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # How long a consultant's phone rings before the call goes back to the head of the queue.
    ring_timeout_s: int = Field(default=15, ge=3, le=120)
    # Roster: None means the shipped demo roster of c0001..c0471, all logged in and ready.
    roster_file: str | None = None
    # Only these consultants are logged in at start (None: all of the roster).
    logged_in: tuple[str, ...] | None = None
