"""AgiSession when the call goes away or Asterisk is slow: hangups while waiting, HANGUP before
a reply, EOF and 511, timeouts and cancellation without misattributed replies, protocol
violations. Real loopback sockets, a fake Asterisk."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from ivr.agi.errors import AgiConnectionError, AgiHangup, AgiTimeout
from ivr.agi.session import AgiSession

from .fake_asterisk import WAIT_S, FakeAsterisk, running_server, wait_until

Results = dict[str, Any]


def recorder() -> tuple[Results, asyncio.Event]:
    return {}, asyncio.Event()


async def test_hangup_while_waiting_on_something_else_is_seen_at_once() -> None:
    results, done = recorder()
    waiting = asyncio.Event()

    async def handler(session: AgiSession) -> None:
        acd_choice: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        hangup: asyncio.Future[object] = asyncio.ensure_future(session.hungup.wait())
        waiting.set()
        finished, _ = await asyncio.wait([acd_choice, hangup], return_when=asyncio.FIRST_COMPLETED)
        results["hangup_first"] = finished == {hangup}
        acd_choice.cancel()
        with pytest.raises(AgiHangup):
            await session.stream_file("dasan/ko/sorry")  # nothing is written
        done.set()

    async with running_server({"acd/wait": handler}) as server:
        fake = await FakeAsterisk.call(server.bound_port, "acd/wait")
        async with asyncio.timeout(WAIT_S):
            await waiting.wait()
        await fake.send(b"HANGUP\n")
        assert await fake.expect_closed() == b""
        await fake.close()
    assert done.is_set()
    assert results == {"hangup_first": True}


async def test_hangup_before_the_reply_fails_the_pending_command_at_once() -> None:
    results, done = recorder()
    late_reply_sent = asyncio.Event()

    async def handler(session: AgiSession) -> None:
        with pytest.raises(AgiHangup):
            await session.stream_file("dasan/ko/please-wait")
        results["hungup"] = session.hungup.is_set()
        with pytest.raises(AgiHangup):
            await session.get_variable("DIALSTATUS")  # refused without writing
        done.set()
        async with asyncio.timeout(WAIT_S):
            await late_reply_sent.wait()

    async with running_server({"ivr": handler}) as server:
        fake = await FakeAsterisk.call(server.bound_port)
        assert await fake.read_command() == ["STREAM", "FILE", "dasan/ko/please-wait", ""]
        await fake.send(b"HANGUP\n")
        async with asyncio.timeout(WAIT_S):
            await done.wait()  # failed at once, not when the reply comes
        await fake.send(b"200 result=-1 endpos=11520\n")  # the late reply changes nothing
        late_reply_sent.set()
        assert await fake.expect_closed() == b""
        await fake.close()
        await wait_until(lambda: server.stats().active == 0, "session ended")
        assert (server.stats().completed, server.stats().failed) == (1, 0)
    assert results == {"hungup": True}


async def test_failed_result_followed_by_hangup_is_a_hangup() -> None:
    results, done = recorder()

    async def handler(session: AgiSession) -> None:
        with pytest.raises(AgiHangup):
            await session.get_data("dasan/ko/enter", 5000, 4)
        results["hungup"] = session.hungup.is_set()
        done.set()

    async with running_server({"ivr": handler}, hangup_grace_s=WAIT_S) as server:
        fake = await FakeAsterisk.call(server.bound_port)
        await fake.expect("GET", "DATA", "dasan/ko/enter", "5000", "4", reply="200 result=-1")
        await fake.send(b"HANGUP\n")
        assert await fake.expect_closed() == b""
        await fake.close()
    assert results == {"hungup": True}


@pytest.mark.parametrize(
    "ending",
    [b"", b"511 Command Not Permitted on a dead channel or intercept routine\n"],
)
async def test_eof_or_511_fails_the_pending_command_as_a_hangup(ending: bytes) -> None:
    results, done = recorder()

    async def handler(session: AgiSession) -> None:
        with pytest.raises(AgiHangup):
            await session.answer()
        results["hungup"] = session.hungup.is_set()
        done.set()

    async with running_server({"ivr": handler}) as server:
        fake = await FakeAsterisk.call(server.bound_port)
        assert await fake.read_command() == ["ANSWER"]
        if ending:
            await fake.send(ending)
        else:
            fake.writer.write_eof()
        async with asyncio.timeout(WAIT_S):
            await done.wait()
        await fake.close()
        await wait_until(lambda: server.stats().completed == 1, "a hangup is no failure")
    assert results == {"hungup": True}


async def test_timeout_then_late_reply_is_not_misattributed() -> None:
    results, done = recorder()
    timed_out = asyncio.Event()

    async def handler(session: AgiSession) -> None:
        with pytest.raises(AgiTimeout):
            await session.get_variable("SLOW")
        timed_out.set()
        results["second"] = await session.get_variable("FAST")
        done.set()

    async with running_server({"ivr": handler}, command_timeout_s=0.05) as server:
        fake = await FakeAsterisk.call(server.bound_port)
        assert await fake.read_command() == ["GET", "VARIABLE", "SLOW"]
        async with asyncio.timeout(WAIT_S):
            await timed_out.wait()
        # The second command waits for this late reply to the first before it is written.
        await fake.send(b"200 result=1 (slow-value)\n")
        await fake.expect("GET", "VARIABLE", "FAST", reply="200 result=1 (fast-value)")
        assert await fake.expect_closed() == b""
        await fake.close()
    assert done.is_set()
    assert results == {"second": "fast-value"}


async def test_concurrent_commands_are_serialized_and_timeouts_release_the_turn() -> None:
    results, done = recorder()
    first_timed_out = asyncio.Event()

    async def handler(session: AgiSession) -> None:
        a, b = await asyncio.gather(session.get_variable("A"), session.get_variable("B"))
        results["concurrent"] = (a, b)
        with pytest.raises(AgiTimeout):
            await session.get_variable(
                "SLOW",
            )
        with pytest.raises(AgiTimeout):  # waits for SLOW's reply, which does not come in time
            await session.get_variable("BLOCKED")
        first_timed_out.set()
        results["after"] = await session.command("NOOP", timeout=WAIT_S)
        done.set()

    async with running_server({"ivr": handler}, command_timeout_s=0.05) as server:
        fake = await FakeAsterisk.call(server.bound_port)
        await fake.expect("GET", "VARIABLE", "A", reply="200 result=1 (a)")
        await fake.expect("GET", "VARIABLE", "B", reply="200 result=1 (b)")
        assert await fake.read_command() == ["GET", "VARIABLE", "SLOW"]
        async with asyncio.timeout(WAIT_S):
            await first_timed_out.wait()
        await fake.send(b"200 result=1 (slow)\n")
        await fake.expect("NOOP", reply="200 result=0")
        assert await fake.expect_closed() == b""
        await fake.close()
    assert done.is_set()
    assert results["concurrent"] == ("a", "b")
    assert results["after"].result == "0"


async def test_cancelled_command_stays_in_flight_and_the_next_waits_for_its_reply() -> None:
    results, done = recorder()

    async def handler(session: AgiSession) -> None:
        task = asyncio.create_task(session.exec("Wait", "30", timeout=None))
        await wait_until(lambda: session.commands_sent == 1, "command written")
        task.cancel()
        await asyncio.wait({task})
        results["cancelled"] = task.cancelled()
        results["next"] = await session.get_variable("X")
        done.set()

    async with running_server({"ivr": handler}) as server:
        fake = await FakeAsterisk.call(server.bound_port)
        assert await fake.read_command() == ["EXEC", "Wait", "30"]
        await wait_until(lambda: "cancelled" in results, "cancelled")
        await fake.send(b"200 result=0\n")
        await fake.expect("GET", "VARIABLE", "X", reply="200 result=1 (x)")
        assert await fake.expect_closed() == b""
        await fake.close()
    assert done.is_set()
    assert results == {"cancelled": True, "next": "x"}


async def test_protocol_violation_mid_session_closes_only_that_session(
    caplog: pytest.LogCaptureFixture,
) -> None:
    results, done = recorder()

    async def handler(session: AgiSession) -> None:
        try:
            await session.answer()  # the error propagates: the server counts a failure
        except AgiConnectionError:
            results["hungup"] = session.hungup.is_set()
            done.set()
            raise

    async with running_server({"ivr": handler}) as server:
        fake = await FakeAsterisk.call(server.bound_port, uniqueid="99.9")
        assert await fake.read_command() == ["ANSWER"]
        await fake.send(b"<html>oops</html>\n")
        assert await fake.expect_closed() == b""
        await fake.close()
        await wait_until(lambda: server.stats().failed == 1, "counted as failed")
    assert results == {"hungup": True}
    # Logged once, by the session's reader, with the uniqueid; not again by the server.
    logged = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(logged) == 1
    assert "protocol violation" in logged[0].getMessage()
    assert "99.9" in logged[0].getMessage()
