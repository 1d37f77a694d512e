"""AgiServer over real loopback sockets: bad clients are dropped without harming other calls,
handler crashes stay in their session, unknown paths fall back, stop() with live sessions."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ivr.agi.server import AgiServer
from ivr.agi.session import AgiSession
from ivr.settings import AgiSettings

from .fake_asterisk import WAIT_S, FakeAsterisk, running_server, wait_until


async def answer_and_leave(session: AgiSession) -> None:
    await session.answer()
    await session.verbose(f"served {session.uniqueid}")


async def serve_one_call(port: int, uniqueid: str) -> None:
    fake = await FakeAsterisk.call(port, uniqueid=uniqueid)
    await fake.expect("ANSWER")
    await fake.expect("VERBOSE", f"served {uniqueid}", "1", reply="200 result=1")
    assert await fake.expect_closed() == b""
    await fake.close()


async def test_connect_and_close_clients_do_not_stall_the_server() -> None:
    async with running_server({"ivr": answer_and_leave}) as server:
        port = server.bound_port
        stalled = await FakeAsterisk.connect(port)  # connects and says nothing
        quitters = []
        for i in range(20):
            fake = await FakeAsterisk.connect(port)
            if i % 2:
                await fake.send(b"agi_network: yes\nagi_netw")  # closes mid-block
            quitters.append(fake)
        for fake in quitters:
            await fake.close()
        await asyncio.gather(*(serve_one_call(port, f"1.{i}") for i in range(5)))
        await wait_until(lambda: server.stats().handshake_failures == 20, "quitters dropped")
        stats = server.stats()
        assert (stats.completed, stats.failed, stats.active) == (5, 20, 0)
        assert stats.handshaking == 1  # `stalled` still has time: a timer, no task
        await stalled.close()
        await wait_until(lambda: server.stats().handshaking == 0, "stalled client gone")


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),
        b"\n",
        b"x" * 20000,
    ],
)
async def test_garbage_is_dropped_and_other_calls_go_on(garbage: bytes) -> None:
    async with running_server({"ivr": answer_and_leave}) as server:
        fake = await FakeAsterisk.connect(server.bound_port)
        await fake.send(garbage)
        assert await fake.expect_closed() == b""  # dropped without a word
        await fake.close()
        await serve_one_call(server.bound_port, "2.1")
        await wait_until(lambda: server.stats().active == 0, "all sessions ended")
        stats = server.stats()
        assert (stats.handshake_failures, stats.started, stats.completed) == (1, 1, 1)


async def test_stalled_handshake_times_out() -> None:
    ran = asyncio.Event()

    async def handler(session: AgiSession) -> None:
        ran.set()

    async with running_server({"ivr": handler}, handshake_timeout_s=0.1) as server:
        fake = await FakeAsterisk.connect(server.bound_port)
        await fake.send(b"agi_network: yes\nagi_network_script: ivr\n")  # and then nothing
        assert await fake.expect_closed() == b""
        await fake.close()
        await wait_until(lambda: server.stats().handshake_failures == 1, "counted")
    assert not ran.is_set()


async def test_handler_crash_is_logged_with_uniqueid_and_closes_only_its_session(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def crash(session: AgiSession) -> None:
        await session.answer()
        raise RuntimeError("boom")

    async with running_server({"crash": crash, "ivr": answer_and_leave}) as server:
        port = server.bound_port
        crasher = await FakeAsterisk.call(port, "crash", uniqueid="66.6")
        await crasher.expect("ANSWER")
        await crasher.expect("SET", "VARIABLE", "DASAN_AGI_FAILURE", "error", reply="200 result=1")
        assert await crasher.expect_closed() == b""
        await crasher.close()
        await serve_one_call(port, "3.1")
        await wait_until(lambda: server.stats().active == 0, "all sessions ended")
        stats = server.stats()
        assert (stats.started, stats.completed, stats.failed) == (2, 1, 1)
    crashes = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(crashes) == 1
    assert "66.6" in crashes[0].getMessage()
    assert "PJSIP/citizen-00000007" in crashes[0].getMessage()
    assert crashes[0].exc_info is not None


async def test_unknown_path_tells_asterisk_and_closes(caplog: pytest.LogCaptureFixture) -> None:
    async with running_server({"ivr": answer_and_leave}) as server:
        fake = await FakeAsterisk.call(server.bound_port, "nowhere?x=1", uniqueid="55.5")
        await fake.expect("VERBOSE", "Dasan: no FastAGI route 'nowhere'", "1", reply="200 result=1")
        await fake.expect("SET", "VARIABLE", "DASAN_AGI_FAILURE", "noroute", reply="200 result=1")
        assert await fake.expect_closed() == b""
        await fake.close()
        await wait_until(lambda: server.stats().failed == 1, "counted as failed")
    [warning] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "55.5" in warning.getMessage()
    assert "'nowhere'" in warning.getMessage()


async def test_unknown_path_on_a_hung_up_channel_just_closes() -> None:
    async with running_server({"ivr": answer_and_leave}) as server:
        fake = await FakeAsterisk.call(server.bound_port, "nowhere")
        await fake.send(b"HANGUP\n")
        # Either nothing, or a VERBOSE written before the HANGUP arrived: never a hang.
        rest = await fake.expect_closed()
        assert rest in (b"", b"VERBOSE \"Dasan: no FastAGI route 'nowhere'\" 1\n")
        await fake.close()


async def test_stop_cancels_live_sessions_after_the_grace_period() -> None:
    cancelled: list[str] = []
    waiting: list[str] = []

    async def wait_forever(session: AgiSession) -> None:
        try:
            waiting.append(session.uniqueid)
            await session.hungup.wait()
        except asyncio.CancelledError:
            cancelled.append(session.uniqueid)
            raise

    server = AgiServer(AgiSettings(port=0, silence_fill=""), {"acd/wait": wait_forever})
    await server.start()
    port = server.bound_port
    fakes = [await FakeAsterisk.call(port, "acd/wait", uniqueid=f"4.{i}") for i in range(3)]
    await wait_until(lambda: len(waiting) == 3, "sessions waiting")
    assert server.active_sessions == 3
    async with asyncio.timeout(WAIT_S):
        await server.stop(grace_s=0.05)
    assert sorted(cancelled) == ["4.0", "4.1", "4.2"]
    assert server.active_sessions == 0
    for fake in fakes:
        assert await fake.expect_closed() == b""
        await fake.close()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_stop_lets_sessions_finish_within_the_grace_period() -> None:
    async def short_call(session: AgiSession) -> None:
        await session.exec("Wait", "1", timeout=None)

    server = AgiServer(AgiSettings(port=0, silence_fill=""), {"ivr": short_call})
    await server.start()
    fake = await FakeAsterisk.call(server.bound_port)
    assert await fake.read_command() == ["EXEC", "Wait", "1"]
    stopping = asyncio.create_task(server.stop(grace_s=WAIT_S))
    await fake.send(b"200 result=0\n")
    assert await fake.expect_closed() == b""
    await fake.close()
    async with asyncio.timeout(WAIT_S):
        await stopping
    assert server.stats().completed == 1


async def test_lifecycle_misuse_is_reported() -> None:
    server = AgiServer(AgiSettings(port=0, silence_fill=""), {})
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.bound_port
    await server.start()
    with pytest.raises(RuntimeError, match="already started"):
        await server.start()
    await server.stop()
    await server.stop()  # idempotent
    assert server.stats().active == 0
