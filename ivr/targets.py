"""Names the IVR shares with routing: languages, routing targets, tag keys.

Invariants:
- Language codes are ISO 639-1 and limited to the six the center serves.
- A routing target is either an ACD service id or an offer (``callback``, ``sms``) that the
  ACD handles without a consultant; a menu may hand a call only to a name listed here (or to
  an extra list the deployment passes to validation).
"""

from __future__ import annotations

LANGUAGES: tuple[str, ...] = ("ko", "en", "zh", "ja", "vi", "mn")
DEFAULT_LANGUAGE = "ko"

FOREIGN_SERVICES: tuple[str, ...] = tuple(f"foreign_{code}" for code in LANGUAGES if code != "ko")

SERVICES: tuple[str, ...] = (
    "general",
    "transport",
    "documents",
    "water_tax",
    "welfare",
    "care129",
    *FOREIGN_SERVICES,
    "sign_language",
)

OFFERS: tuple[str, ...] = ("callback", "sms")

TARGETS: tuple[str, ...] = (*SERVICES, *OFFERS)

# The consultant queue that takes every call the IVR could not place otherwise.
FALLBACK_TARGET = "general"

# Tag keys with a meaning for routing; menus may add others (free-form strings).
TAG_LANGUAGE = "language"
TAG_SERVICE = "service"
TAG_SKILL = "skill"
TAG_PRIORITY = "priority"
TAG_FALLBACK = "ivr_fallback"

PRIORITY_MIN = 1
PRIORITY_MAX = 9
DEFAULT_PRIORITY = 5
