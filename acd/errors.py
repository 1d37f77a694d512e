"""Errors of the ACD. Domain errors carry no transport codes; the edges map them once."""

from __future__ import annotations


class AcdConfigError(ValueError):
    """A services or roster file is invalid; the message names the file, the line and why."""


class InvalidEvent(ValueError):
    """An event the core cannot accept (unknown service, unserved language, duplicate call id,
    unknown consultant). The state is left unchanged, so the caller loses nothing by retrying
    the call elsewhere (e.g. the static app_queue fallback)."""
