"""Recorded AMI wire traffic (tests/fixtures/ami) and helpers to feed it to a protocol."""

from __future__ import annotations

from pathlib import Path

from cti.ami.messages import AmiMessage
from cti.ami.protocol import AmiProtocol

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ami"
BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def wire(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def feed(protocol: AmiProtocol, data: bytes, *, chunk: int | None = None) -> list[AmiMessage]:
    """Feed ``data`` whole, or in ``chunk``-byte pieces, and collect every message."""
    if chunk is None:
        return protocol.receive_data(data)
    out: list[AmiMessage] = []
    for start in range(0, len(data), chunk):
        out.extend(protocol.receive_data(data[start : start + chunk]))
    return out


def started(*pending: tuple[str, str]) -> AmiProtocol:
    """A protocol past the banner with ``(action_id, action)`` pairs already sent."""
    protocol = AmiProtocol()
    protocol.receive_data(BANNER)
    for action_id, action in pending:
        protocol.send_action(action_id, action)
    return protocol
