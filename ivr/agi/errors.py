"""Errors a FastAGI session raises to the IVR and ACD code that drives a call.

Invariant: every error a command can raise derives from ``AgiError`` (wire misuse by our own
code stays ``LocalProtocolError``, a bug); each carries the command name when there is one.
"""

from __future__ import annotations

from ivr.agi.protocol import CommandCompleted


class AgiError(Exception):
    """Base of what an AGI command can raise."""


class AgiHangup(AgiError):
    """The channel is gone: HANGUP line, a 511 reply, a failed command followed by HANGUP, or
    Asterisk closed the connection."""


class AgiTimeout(AgiError):
    """No reply within the command's timeout (the session stays usable: the next command
    first waits for the late reply)."""


class AgiConnectionError(AgiError):
    """The connection is unusable: the peer broke the protocol, or the session was closed."""


class AgiHandshakeError(AgiError):
    """The client did not deliver a valid variable block in time (closed early, sent garbage,
    or stalled)."""


class AgiCommandError(AgiError):
    """Asterisk refused the command (510 unknown, 520 usage, other codes) or reported a
    failure result (e.g. ``result=-1`` without a hangup, ``result=-2`` for an unknown app)."""

    def __init__(self, command: str, reply: CommandCompleted, reason: str) -> None:
        detail = f"{reply.code} result={reply.result}"
        if reply.data:
            detail += f" ({reply.data.strip()[:200]})"
        super().__init__(f"{command}: {reason} [{detail}]")
        self.command = command
        self.reply = reply
