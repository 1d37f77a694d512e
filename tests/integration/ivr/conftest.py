"""IVR integration tests: service hours are configured per module (no dependence on the
real time of day in Seoul when the suite runs)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

ALWAYS_OPEN = """services:
  telephone: {always: true}
  sign_language: {always: true}
  chat: {always: true}
  foreign_language: {always: true}
"""


def closed_window_now() -> str:
    """A one-minute opening window that is certainly not now in Seoul."""
    now = dt.datetime.now(ZoneInfo("Asia/Seoul"))
    return "00:00-00:01" if now.hour or now.minute > 1 else "12:00-12:01"


def foreign_closed_hours() -> str:
    window = closed_window_now()
    return (
        "services:\n"
        "  telephone: {always: true}\n"
        f'  sign_language: {{every_day: ["{window}"]}}\n'
        f'  chat: {{every_day: ["{window}"]}}\n'
        f'  foreign_language: {{every_day: ["{window}"]}}\n'
    )


def hours_env(tmp: Path, text: str) -> dict[str, str]:
    path = tmp / "service_hours.yaml"
    path.write_text(text, encoding="utf-8")
    return {"DASAN_IVR__SERVICE_HOURS_FILE": str(path)}
