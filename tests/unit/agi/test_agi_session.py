"""AgiSession over real loopback sockets, driven by a fake Asterisk: helpers, hangups while
waiting, timeouts, cancellation, protocol violations."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from ivr.agi.errors import (
    AgiCommandError,
    AgiConnectionError,
    AgiHangup,
    AgiTimeout,
)
from ivr.agi.session import AgiSession, RecordingResult, split_script

from .fake_asterisk import WAIT_S, FakeAsterisk, running_server, wait_until

Results = dict[str, Any]


def recorder() -> tuple[Results, asyncio.Event]:
    return {}, asyncio.Event()


async def test_identity_path_query_and_args() -> None:
    results, done = recorder()

    async def handler(session: AgiSession) -> None:
        results.update(
            path=session.path,
            query=session.query,
            uniqueid=session.uniqueid,
            channel=session.channel,
            args=session.args,
            language=session.language,
        )
        done.set()

    async with running_server({"ivr/menu": handler}) as server:
        fake = await FakeAsterisk.call(
            server.bound_port, "ivr/menu?lang=ko&x=", uniqueid="77.1", args=("ko", "120")
        )
        assert await fake.expect_closed() == b""
        await fake.close()
    assert done.is_set()
    assert results == {
        "path": "ivr/menu",
        "query": {"lang": "ko", "x": ""},
        "uniqueid": "77.1",
        "channel": "PJSIP/citizen-00000007",
        "args": ["ko", "120"],
        "language": "en",
    }


def test_split_script_accepts_scripts_and_urls() -> None:
    assert split_script("ivr?lang=ko") == ("ivr", {"lang": "ko"})
    assert split_script("agi://127.0.0.1:4573/acd/wait?q=ko-general") == (
        "acd/wait",
        {"q": "ko-general"},
    )
    assert split_script("agi://127.0.0.1") == ("", {})
    assert split_script("") == ("", {})


async def test_helpers_send_the_right_commands_and_read_the_replies() -> None:
    results, done = recorder()

    async def handler(session: AgiSession) -> None:
        await session.answer()
        results["stream"] = await session.stream_file("dasan/ko/menu", "123")
        results["stream_end"] = await session.stream_file("dasan/ko/welcome")
        results["digits"] = await session.get_data("dasan/ko/enter", 5000, 4)
        results["no_digits"] = await session.get_data("dasan/ko/enter", 5000, 4)
        results["partial"] = await session.get_data("dasan/ko/enter", 5000, 4)
        results["digit"] = await session.wait_for_digit(3000)
        results["no_digit"] = await session.wait_for_digit(3000)
        results["dial"] = await session.exec("Dial", "PJSIP/c0123", "30", "tT", timeout=None)
        results["moh"] = await session.exec("StartMusicOnHold")
        await session.set_variable("DASAN_LANG", "ko")
        results["var"] = await session.get_variable("DIALSTATUS")
        results["unset"] = await session.get_variable("NOPE")
        results["empty"] = await session.get_variable("EMPTY")
        results["full"] = await session.get_full_variable("${CALLERID(num)}")
        results["full_other"] = await session.get_full_variable("${X}", "PJSIP/c0123-1")
        results["rec"] = await session.record_file("/tmp/m", "wav", "#", 10000, 3, beep=True)
        await session.set_music(True, "default")
        await session.set_music(False)
        await session.verbose("two words", 2)
        results["commands"] = session.commands_sent
        done.set()

    async with running_server({"ivr": handler}) as server:
        fake = await FakeAsterisk.call(server.bound_port)
        await fake.expect("ANSWER")
        await fake.expect("STREAM", "FILE", "dasan/ko/menu", "123", reply="200 result=50 endpos=8")
        await fake.expect("STREAM", "FILE", "dasan/ko/welcome", "", reply="200 result=0 endpos=9")
        await fake.expect("GET", "DATA", "dasan/ko/enter", "5000", "4", reply="200 result=1234")
        await fake.expect(
            "GET", "DATA", "dasan/ko/enter", "5000", "4", reply="200 result= (timeout)"
        )
        await fake.expect(
            "GET", "DATA", "dasan/ko/enter", "5000", "4", reply="200 result=12 (timeout)"
        )
        await fake.expect("WAIT", "FOR", "DIGIT", "3000", reply="200 result=35")
        await fake.expect("WAIT", "FOR", "DIGIT", "3000", reply="200 result=0")
        await fake.expect("EXEC", "Dial", "PJSIP/c0123,30,tT", reply="200 result=-1")
        await fake.expect("EXEC", "StartMusicOnHold")
        await fake.expect("SET", "VARIABLE", "DASAN_LANG", "ko", reply="200 result=1")
        await fake.expect("GET", "VARIABLE", "DIALSTATUS", reply="200 result=1 (ANSWER)")
        await fake.expect("GET", "VARIABLE", "NOPE", reply="200 result=0")
        await fake.expect("GET", "VARIABLE", "EMPTY", reply="200 result=1 ()")
        await fake.expect("GET", "FULL", "VARIABLE", "${CALLERID(num)}", reply="200 result=1 (010)")
        await fake.expect("GET", "FULL", "VARIABLE", "${X}", "PJSIP/c0123-1", reply="200 result=0")
        await fake.expect(
            *("RECORD", "FILE", "/tmp/m", "wav", "#", "10000", "BEEP", "s=3"),
            reply="200 result=35 (dtmf) endpos=16000",
        )
        await fake.expect("SET", "MUSIC", "on", "default")
        await fake.expect("SET", "MUSIC", "off")
        await fake.expect("VERBOSE", "two words", "2", reply="200 result=1")
        assert await fake.expect_closed() == b""
        await fake.close()
        await wait_until(lambda: server.stats().completed == 1, "session completed")
        assert server.stats().commands == 20
    assert done.is_set()
    assert results == {
        "stream": ("2", 8),
        "stream_end": (None, 9),
        "digits": "1234",
        "no_digits": None,
        "partial": "12",
        "digit": "#",
        "no_digit": None,
        "dial": -1,
        "moh": 0,
        "var": "ANSWER",
        "unset": None,
        "empty": "",
        "full": "010",
        "full_other": None,
        "rec": RecordingResult("dtmf", "#", 16000),
        "commands": 20,
    }


async def test_refusals_and_failed_results_raise_command_errors() -> None:
    results, done = recorder()

    async def handler(session: AgiSession) -> None:
        for name, call in [
            ("510", session.command("FROBNICATE")),
            ("520", session.command("WAIT FOR DIGIT")),
            ("exec", session.exec("NoSuchApp")),
            ("stream", session.stream_file("missing")),
            ("record", session.record_file("/x", "wav", "", 1000)),
        ]:
            with pytest.raises(AgiCommandError) as info:
                await call
            results[name] = (info.value.reply.code, info.value.reply.result)
        results["usage"] = info.value.command
        done.set()

    async with running_server({"ivr": handler}, hangup_grace_s=0.05) as server:
        fake = await FakeAsterisk.call(server.bound_port)
        await fake.expect("FROBNICATE", reply="510 Invalid or unknown command")
        await fake.expect(
            "WAIT",
            "FOR",
            "DIGIT",
            reply="520-Invalid command syntax.  Proper usage follows:\nUsage: x\n\n520 End of proper usage.",
        )
        await fake.expect("EXEC", "NoSuchApp", reply="200 result=-2")
        await fake.expect("STREAM", "FILE", "missing", "", reply="200 result=-1 endpos=0")
        await fake.expect(
            *("RECORD", "FILE", "/x", "wav", "", "1000"), reply="200 result=-1 (writefile)"
        )
        assert await fake.expect_closed() == b""
        await fake.close()
    assert done.is_set()
    assert results == {
        "510": (510, ""),
        "520": (520, ""),
        "exec": (200, "-2"),
        "stream": (200, "-1"),
        "record": (200, "-1"),
        "usage": "RECORD FILE",
    }


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
