"""Regression: an ``OriginateResponse`` event carries a ``Response`` header too; it must
reach subscribers as an event (the center learns an interpreter answered from it), not be
taken for the reply of an action that was already answered."""

from __future__ import annotations

import pytest

from cti.ami.messages import AmiEvent, AmiResponse
from cti.ami.protocol import AmiProtocol

_WIRE = (
    b"Asterisk Call Manager/11.0.0\r\n"
    b"Response: Success\r\nActionID: o-1\r\nMessage: Originate successfully queued\r\n\r\n"
    b"Event: OriginateResponse\r\nPrivilege: call,all\r\nActionID: o-1\r\n"
    b"Response: Success\r\nChannel: PJSIP/c0462-00000003\r\nApplication: BridgeAdd\r\n"
    b"Data: PJSIP/citizens-00000000\r\nReason: 4\r\nUniqueid: dasan-interp-1\r\n\r\n"
)


@pytest.mark.parametrize("chunk", [1, 5, len(_WIRE)])
def test_originate_response_is_an_event(chunk: int) -> None:
    protocol = AmiProtocol()
    protocol.send_action("o-1", "Originate", {"Channel": "PJSIP/c0462"})
    out = []
    for start in range(0, len(_WIRE), chunk):
        out.extend(protocol.receive_data(_WIRE[start : start + chunk]))
    replies = [m for m in out if isinstance(m, AmiResponse)]
    events = [m for m in out if isinstance(m, AmiEvent)]
    assert [r.action_id for r in replies] == ["o-1"]
    assert [e.name for e in events] == ["OriginateResponse"]
    assert events[0].get("Response") == "Success"
    assert events[0].uniqueid == "dasan-interp-1"
