"""The conversation model shared by every channel (pure: no I/O, no clock of its own).

Invariants:
- A conversation has one channel (voice, video, chat, sms), one citizen, a language (ISO
  639-1, one of the six), a service, the consultants who held it, ordered messages and an
  outcome; its record is the recording (voice/video) or the sealed transcript (chat/sms).
- A message text is refused, never trimmed: empty, too long, or holding control characters
  other than newline and tab raises ``MessageRefused`` with a reason a citizen can be shown.
- Text is stored and shown as text: markup in it is never interpreted (pages set textContent).
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass
from datetime import datetime

LANGUAGES = ("ko", "en", "zh", "ja", "vi", "mn")
MAX_TEXT = 2000  # characters of one chat message
MAX_SMS_TEXT = 1000  # characters of one (concatenated) SMS


class Channel(enum.StrEnum):
    VOICE = "voice"
    VIDEO = "video"
    CHAT = "chat"
    SMS = "sms"

    @property
    def is_text(self) -> bool:
        return self in (Channel.CHAT, Channel.SMS)


class Sender(enum.StrEnum):
    CITIZEN = "citizen"
    CONSULTANT = "consultant"
    SYSTEM = "system"


class Outcome(enum.StrEnum):
    ANSWERED = "answered"  # a consultant wrote back
    UNANSWERED = "unanswered"  # ended before any consultant wrote
    OPTED_OUT = "opted_out"  # the citizen asked for no more messages


class MessageRefused(ValueError):
    """A message that is not accepted; ``reason`` is a short machine code, str() the detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Message:
    conversation_id: str
    seq: int
    at: datetime
    sender: Sender
    author: str | None  # consultant id for consultant messages
    text: str

    def as_json(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "sender": self.sender.value,
            "author": self.author,
            "text": self.text,
        }


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    channel: Channel
    language: str
    service: str
    started_at: datetime
    consultant: str | None = None
    ended_at: datetime | None = None
    outcome: Outcome | None = None
    recording_id: int | None = None

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise MessageRefused("language", f"unknown language {language!r}; one of {LANGUAGES}")
    return language


def clean_text(text: object, limit: int = MAX_TEXT) -> str:
    """The text as it will be stored, or ``MessageRefused``."""
    if not isinstance(text, str):
        raise MessageRefused("malformed", "the message text must be a string")
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n"))
    if not text.strip():
        raise MessageRefused("empty", "the message is empty")
    if len(text) > limit:
        raise MessageRefused("too_long", f"the message has {len(text)} characters; at most {limit}")
    bad = [c for c in text if unicodedata.category(c) == "Cc" and c not in "\n\t"]
    if bad:
        raise MessageRefused("control", "the message holds control characters")
    return text
