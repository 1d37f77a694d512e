"""Settings slice for safety calls (``[safety]`` in the TOML file, ``DASAN_SAFETY__*``).

Invariants: frozen and validated at start; the engine places no safety call unless
``enabled`` is true; pacing never lets more than ``trunk_limit`` safety calls be up at once.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class SafetySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # The engine runs the campaign (plans the week, places calls) only when this is true.
    enabled: bool = False
    # Days of the week calls are placed on (0 = Monday); holidays are skipped.
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    # Outbound channels safety calls may hold at once on the trunk.
    trunk_limit: int = Field(default=10, ge=1, le=1000)
    # Pacing by consultants: a call is placed only while the ready consultants exceed the
    # safety calls in progress by at least ``keep_free`` (left for inbound 120 callers), and
    # safety calls in progress stay under this share of the ready consultants.
    keep_free: int = Field(default=1, ge=0, le=1000)
    consultant_share: float = Field(default=0.5, gt=0, le=1)
    # How long the person's phone rings.
    ring_s: int = Field(default=30, ge=5, le=120)
    # Escalation: after this many attempts without contact within the window, a consultant
    # calls back with priority; after ``callback_attempts`` more without contact, the
    # emergency contact and the welfare officer are notified.
    attempts_before_escalation: int = Field(default=3, ge=1, le=20)
    escalation_window_h: float = Field(default=24.0, gt=0, le=24 * 14)
    retry_after_min: float = Field(default=60.0, ge=0, le=24 * 60)
    callback_attempts: int = Field(default=2, ge=1, le=20)
    # How long the check-in waits for a key after each prompt (two prompts are played).
    key_timeout_s: int = Field(default=6, ge=2, le=30)
    # How often the campaign looks for due calls.
    tick_s: float = Field(default=1.0, gt=0, le=60)
    # How the PBX dials a person ("{number}" replaced); None: the ACD's outside_dial.
    dial: str | None = None
    # Tests and drills only: when this file exists, the ISO time in it is the campaign's "now"
    # (schedules and escalation timing), so a week can be walked through in minutes.
    clock_file: Path | None = None
