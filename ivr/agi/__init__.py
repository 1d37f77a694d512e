"""FastAGI for Dasan: a sans-IO protocol (``protocol``), the per-call session API
(``session``) and the asyncio server that routes calls by AGI URL path (``server``)."""

from ivr.agi.commands import DEFAULT_TIMEOUT, AgiCommands, AgiReply, RecordingResult
from ivr.agi.errors import (
    AgiCommandError,
    AgiConnectionError,
    AgiError,
    AgiHandshakeError,
    AgiHangup,
    AgiTimeout,
)
from ivr.agi.protocol import (
    AgiConnection,
    CommandCompleted,
    CommandProgress,
    ConnectionClosed,
    ConnectionState,
    HangupReceived,
    LocalProtocolError,
    RemoteProtocolError,
    SessionStarted,
)
from ivr.agi.server import AgiHandler, AgiServer, AgiServerStats
from ivr.agi.session import AgiSession

__all__ = [
    "DEFAULT_TIMEOUT",
    "AgiCommandError",
    "AgiCommands",
    "AgiConnection",
    "AgiConnectionError",
    "AgiError",
    "AgiHandler",
    "AgiHandshakeError",
    "AgiHangup",
    "AgiReply",
    "AgiServer",
    "AgiServerStats",
    "AgiSession",
    "AgiTimeout",
    "CommandCompleted",
    "CommandProgress",
    "ConnectionClosed",
    "ConnectionState",
    "HangupReceived",
    "LocalProtocolError",
    "RecordingResult",
    "RemoteProtocolError",
    "SessionStarted",
]
