"""Domain errors of care; no HTTP here (``care.web`` maps each class to a status once)."""

from __future__ import annotations


class CareError(Exception):
    """Base of care's domain errors; ``code`` is a stable machine-readable name."""

    code = "care_error"


class InvalidInput(CareError):
    """Bad input (unknown district, missing consent, text too long...); nothing was stored."""

    code = "invalid_input"


class NotFound(CareError):
    code = "not_found"


class Forbidden(CareError):
    """The principal may not see or change this (another department's ticket...)."""

    code = "forbidden"


class WrongState(CareError):
    """The change does not fit the ticket's or request's state (resolving a resolved one)."""

    code = "wrong_state"
