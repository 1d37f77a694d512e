"""Whose phone a channel is: the one place that knows how consultants' channels are named.

Invariant: consultants' phones are the PJSIP endpoints ``c0001``..``c9999`` (the consultant
directory) and Asterisk names their channels ``PJSIP/<endpoint>-<sequence>``; any other channel
(a citizen's trunk, a Local channel, an interpreter) is nobody's here.
"""

from __future__ import annotations

import re

_CONSULTANT_CHANNEL = re.compile(r"^PJSIP/(c\d{4})-")


def consultant_of(channel: str) -> str | None:
    """The consultant id of a consultant's channel name, else None."""
    match = _CONSULTANT_CHANNEL.match(channel)
    return match.group(1) if match else None
