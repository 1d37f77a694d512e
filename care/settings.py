"""Care's settings slice (``[care]`` in the configuration, ``DASAN_CARE__*``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class CareSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Districts, categories, departments and routing rules; None: care/data/care.yaml.
    rules_file: Path | None = None
    # The engine dials the call-back list by itself (off: the list is kept and shown only;
    # the shared integration config turns it off so other tests never see call-backs dialed).
    callback_dialing: bool = True
    # When call-backs are dialed (local time of ``timezone``), and how hard we try.
    timezone: str = "Asia/Seoul"
    callback_open: dt.time = dt.time(9, 0)
    callback_close: dt.time = dt.time(18, 0)
    callback_max_attempts: int = Field(default=3, ge=1, le=20)
    callback_retry_s: float = Field(default=600.0, gt=0, le=86_400)
    # How many call-backs may be in flight at once, at most (also bounded by free consultants).
    callback_concurrency: int = Field(default=2, ge=1, le=100)
    # How often the list, the outbox and the overdue tickets are looked at.
    poll_s: float = Field(default=5.0, gt=0, le=3600)
    # How long a call-back waits for a free consultant before the attempt counts as failed.
    callback_wait_s: float = Field(default=600.0, gt=0, le=86_400)
    # The optional survey after a consultation (keys 1-5, dialplans/survey.conf); off: the
    # citizen's call ends when the consultant hangs up, as before.
    survey_enabled: bool = False
    # Tests and drills only: a file holding seconds to add to care's clock (re-read at every
    # look), so a test can move the engine's "now" to the opening hour. None: the real clock.
    clock_file: Path | None = None
