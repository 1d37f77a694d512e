"""Per-channel capacity: up to 3 text threads or 1 call, never both; language and skill hold."""

from __future__ import annotations

from acd.capacity import TEXT_REASON, Capacity
from acd.driver import AcdDriver
from acd.events import CallArrived, ConsultantNotReady
from acd.model import ConsultantState, Language
from channels.model import Channel
from channels.routing import Candidate, choose
from channels.service import ChannelsService


def test_capacity_is_data() -> None:
    cap = Capacity()
    assert cap.fits({}, "voice") and cap.fits({"chat": 2}, "sms")
    assert not cap.fits({"chat": 3}, "chat") and not cap.fits({"chat": 1}, "voice")
    assert Capacity(units=5).fits({"chat": 4}, "sms")


def _cand(cid: str, **kw: object) -> Candidate:
    base: dict[str, object] = {
        "languages": frozenset({"ko"}),
        "skills": {"general": 3},
        "state": ConsultantState.READY,
        "reason": None,
        "idle_since": 0.0,
        "holding": {},
    }
    base.update(kw)
    return Candidate(cid, **base)  # type: ignore[arg-type]


def test_choice_respects_language_state_and_load() -> None:
    cap = Capacity()
    busy = _cand("c1", state=ConsultantState.TALKING)
    english = _cand("c2", languages=frozenset({"en"}))
    loaded = _cand("c3", state=ConsultantState.NOT_READY, reason=TEXT_REASON, holding={"chat": 2})
    light = _cand("c4", state=ConsultantState.NOT_READY, reason=TEXT_REASON, holding={"chat": 1})
    on_break = _cand("c5", state=ConsultantState.NOT_READY, reason="break")
    assert choose([busy, english, loaded, light, on_break], "chat", "ko", "general", cap) == "c4"
    full = _cand("c6", state=ConsultantState.NOT_READY, reason=TEXT_REASON, holding={"sms": 3})
    assert choose([full, busy], "sms", "ko", "general", cap) is None


async def _open_chats(service: ChannelsService, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        conv, _token = await service.start_chat("ko")
        ids.append(conv.id)
    await service.route_pending()
    return ids


async def test_three_chats_then_no_fourth_and_no_call(
    service: ChannelsService, driver: AcdDriver
) -> None:
    driver.feed(ConsultantNotReady("c0002", "meal"))  # only c0001 may take anything
    ids = await _open_chats(service, 4)
    assert sorted(service.holding("c0001")) == sorted(ids[:3])
    assert service.waiting() == [ids[3]]
    agent = driver.state.agent("c0001")
    assert (agent.state, agent.reason) == (ConsultantState.NOT_READY, TEXT_REASON)
    commands = driver.feed(CallArrived("call-1", Language.KO, "general"))
    assert not [c for c in commands if getattr(c, "consultant_id", None) == "c0001"]
    # The first chat ends: the fourth is given; the last one ends: calls again.
    await service.consultant_end("c0001", ids[0])
    await service.route_pending()
    assert ids[3] in service.holding("c0001")
    for conv_id in service.holding("c0001"):
        await service.consultant_end("c0001", conv_id)
    assert driver.state.agent("c0001").state is not ConsultantState.NOT_READY


async def test_handover_goes_to_another_consultant(
    service: ChannelsService, driver: AcdDriver
) -> None:
    (conv_id,) = await _open_chats(service, 1)
    first = next(c for c in ("c0001", "c0002") if conv_id in service.holding(c))
    await service.handover(first, conv_id)
    other = "c0002" if first == "c0001" else "c0001"
    assert service.holding(other) == [conv_id]
    assert driver.state.agent(first).state is ConsultantState.READY
    assert (await service.store.get(conv_id)).consultant == other


async def test_a_restart_keeps_who_holds_what(service: ChannelsService, driver: AcdDriver) -> None:
    ids = await _open_chats(service, 2)
    again = ChannelsService(service.settings, service.conversations, service.voice)
    await again.restore()
    held = [cid for c in ("c0001", "c0002") for cid in again.holding(c)]
    assert sorted(held) == sorted(ids)
    stats = service.channel_figures()[Channel.CHAT.value]
    assert stats["offered"] == 2 and stats["answered"] == 2 and stats["service_level"] == 1.0
