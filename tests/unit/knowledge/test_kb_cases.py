"""Case validation and the review workflow."""

from __future__ import annotations

import pytest
from kb_support import content
from pydantic import ValidationError

from knowledge.cases import Action, InvalidTransition, ReviewState, next_state


def test_valid_content() -> None:
    c = content()
    assert c.language == "ko" and c.tags == ("여권", "재발급")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"language": "fr"}, "language"),
        ({"title": "  "}, "title"),
        ({"service": "Passport Office"}, "service"),
        ({"valid_from": "2026-05-01", "valid_until": "2026-01-01"}, "valid_from"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_content_says_what(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        content(**change)
    assert field in str(info.value)


def test_workflow() -> None:
    state = next_state(ReviewState.DRAFT, Action.SUBMIT, author="a", actor="a")
    assert state is ReviewState.REVIEW
    assert next_state(state, Action.RETURN, author="a", actor="b") is ReviewState.DRAFT
    assert next_state(state, Action.PUBLISH, author="a", actor="b") is ReviewState.PUBLISHED


def test_author_cannot_publish_own_version() -> None:
    with pytest.raises(InvalidTransition, match="other than its author"):
        next_state(ReviewState.REVIEW, Action.PUBLISH, author="a", actor="a")


@pytest.mark.parametrize(
    ("state", "action"),
    [
        (ReviewState.DRAFT, Action.PUBLISH),
        (ReviewState.PUBLISHED, Action.SUBMIT),
        (ReviewState.DRAFT, Action.RETURN),
    ],
)
def test_transitions_not_in_the_table_are_refused(state: ReviewState, action: Action) -> None:
    with pytest.raises(InvalidTransition):
        next_state(state, action, author="a", actor="b")
