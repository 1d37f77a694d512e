"""Domain errors of the contact center: no HTTP codes here, the web edge maps each class once."""

from __future__ import annotations


class CenterError(Exception):
    """Base of the domain errors; ``code`` is a stable machine-readable name."""

    code = "center_error"


class NotFound(CenterError):
    code = "not_found"

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"no {kind} {ident!r}")
        self.kind = kind
        self.ident = ident


class NotAllowed(CenterError):
    code = "not_allowed"


class InvalidState(CenterError):
    """The action does not fit the current state (e.g. ready while talking)."""

    code = "invalid_state"


class VideoCallRequired(InvalidState):
    """The request needs a video call (a sign-language interpreter) and this is a voice call."""

    code = "video_call_required"


class NoInterpreterAvailable(CenterError):
    """No interpreter for the language is free now; the consultant may retry."""

    code = "no_interpreter_available"

    def __init__(self, language: str) -> None:
        super().__init__(f"no interpreter for {language!r} is free now; try again shortly")
        self.language = language


class Unavailable(CenterError):
    """The PBX or another dependency cannot take the action now (e.g. AMI reconnecting)."""

    code = "unavailable"
