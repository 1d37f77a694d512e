"""What a case is, how it is validated, and the review workflow (pure: no I/O).

A case answers one citizen question in one language (``translation_of`` links a translation
to its source case). Its editable content is ``CaseContent``; each save is a new version that
moves draft -> review -> published (or back to draft when the reviewer sends it back).

Invariants:
- Content is validated in one place (``CaseContent``): language among the six, non-empty
  title/question/answer within limits, a known service code shape, tags as a list of short
  words, ``valid_from <= valid_until``. Import, the editor API and the generator all use it.
- Transitions are data (``TRANSITIONS``); anything else raises ``InvalidTransition``.
- A version is published only from review, and not by its own author (four eyes).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

LANGUAGES = ("ko", "en", "zh", "ja", "vi", "mn")
_SERVICE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


class ReviewState(enum.StrEnum):
    DRAFT = "draft"
    REVIEW = "review"
    PUBLISHED = "published"


class Action(enum.StrEnum):
    SUBMIT = "submit"  # draft -> review
    RETURN = "return"  # review -> draft (with a comment)
    PUBLISH = "publish"  # review -> published


TRANSITIONS: dict[tuple[ReviewState, Action], ReviewState] = {
    (ReviewState.DRAFT, Action.SUBMIT): ReviewState.REVIEW,
    (ReviewState.REVIEW, Action.RETURN): ReviewState.DRAFT,
    (ReviewState.REVIEW, Action.PUBLISH): ReviewState.PUBLISHED,
}


class InvalidTransition(ValueError):
    """The action is not allowed from the version's state (or by this person)."""


class CaseNotFound(LookupError):
    pass


def next_state(state: ReviewState, action: Action, *, author: str, actor: str) -> ReviewState:
    target = TRANSITIONS.get((state, action))
    if target is None:
        raise InvalidTransition(f"cannot {action.value} a version in {state.value}")
    if action is Action.PUBLISH and actor == author:
        raise InvalidTransition("a version is published by someone other than its author")
    return target


class CaseContent(BaseModel):
    """The editable fields of a case (one version)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    language: str = "ko"
    title: str = Field(min_length=1, max_length=200)
    question: str = Field(min_length=1, max_length=2000)
    answer: str = Field(min_length=1, max_length=10_000)
    service: str
    tags: tuple[Tag, ...] = Field(default=(), max_length=20)
    department: str = Field(min_length=1, max_length=128)
    valid_from: date | None = None
    valid_until: date | None = None
    translation_of: int | None = Field(default=None, ge=1)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
        return value

    @field_validator("service")
    @classmethod
    def _service(cls, value: str) -> str:
        if not _SERVICE.match(value):
            raise ValueError("service is a code: lower-case letters, digits and _ (2-64)")
        return value

    @model_validator(mode="after")
    def _dates(self) -> CaseContent:
        if self.valid_from and self.valid_until and self.valid_from > self.valid_until:
            raise ValueError("valid_from is after valid_until")
        return self

    def index_text(self) -> str:
        """What search reads: title, question and tags (the answer would drown the rest)."""
        return " ".join([self.title, self.question, *self.tags])


@dataclass(frozen=True, slots=True)
class Version:
    case_id: int
    version: int
    state: ReviewState
    content: CaseContent
    author: str
    created_at: datetime
    reviewer: str | None
    decided_at: datetime | None
    comment: str | None


@dataclass(frozen=True, slots=True)
class Case:
    """A case as consultants see it: its published content (None when never published)."""

    id: int
    language: str
    latest_version: int
    latest_state: ReviewState
    published_version: int | None
    published: CaseContent | None
    helped: int
    updated_at: datetime

    def valid_on(self, day: date) -> bool:
        c = self.published
        if c is None:
            return False
        return (c.valid_from is None or c.valid_from <= day) and (
            c.valid_until is None or day <= c.valid_until
        )
