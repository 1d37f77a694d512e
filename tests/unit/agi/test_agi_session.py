"""AgiSession over real loopback sockets, driven by a fake Asterisk: helpers, hangups while
waiting, timeouts, cancellation, protocol violations."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from ivr.agi.errors import (
    AgiCommandError,
)
from ivr.agi.session import AgiSession, RecordingResult, split_script

from .fake_asterisk import FakeAsterisk, running_server, wait_until

Results = dict[str, Any]
GET_DATA = ("GET", "DATA", "dasan/ko/enter", "5000", "4")
GET_VAR = ("GET", "VARIABLE")
WAIT_DIGIT = ("WAIT", "FOR", "DIGIT", "3000")


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


HelperCall = Callable[[AgiSession], Awaitable[object]]
# (what the handler calls, the words Asterisk receives, Asterisk's reply, what the call returns)
HELPERS: list[tuple[str, HelperCall, tuple[str, ...], str, object]] = [
    ("answer", lambda s: s.answer(), ("ANSWER",), "200 result=0", None),
    (
        "stream_digit",
        lambda s: s.stream_file("dasan/ko/menu", "123"),
        ("STREAM", "FILE", "dasan/ko/menu", "123"),
        "200 result=50 endpos=8",
        ("2", 8),
    ),
    (
        "stream_end",
        lambda s: s.stream_file("dasan/ko/welcome"),
        ("STREAM", "FILE", "dasan/ko/welcome", ""),
        "200 result=0 endpos=9",
        (None, 9),
    ),
    *(
        (f"get_data_{name}", lambda s: s.get_data("dasan/ko/enter", 5000, 4), GET_DATA, r, out)
        for name, r, out in [
            ("digits", "200 result=1234", "1234"),
            ("none", "200 result= (timeout)", None),
            ("partial", "200 result=12 (timeout)", "12"),
        ]
    ),
    ("digit", lambda s: s.wait_for_digit(3000), WAIT_DIGIT, "200 result=35", "#"),
    ("no_digit", lambda s: s.wait_for_digit(3000), WAIT_DIGIT, "200 result=0", None),
    (
        "dial",
        lambda s: s.exec("Dial", "PJSIP/c0123", "30", "tT", timeout=None),
        ("EXEC", "Dial", "PJSIP/c0123,30,tT"),
        "200 result=-1",
        -1,
    ),
    ("moh", lambda s: s.exec("StartMusicOnHold"), ("EXEC", "StartMusicOnHold"), "200 result=0", 0),
    (
        "set_var",
        lambda s: s.set_variable("DASAN_LANG", "ko"),
        ("SET", "VARIABLE", "DASAN_LANG", "ko"),
        "200 result=1",
        None,
    ),
    (
        "var",
        lambda s: s.get_variable("DIALSTATUS"),
        (*GET_VAR, "DIALSTATUS"),
        "200 result=1 (ANSWER)",
        "ANSWER",
    ),
    ("unset", lambda s: s.get_variable("NOPE"), (*GET_VAR, "NOPE"), "200 result=0", None),
    ("empty", lambda s: s.get_variable("EMPTY"), (*GET_VAR, "EMPTY"), "200 result=1 ()", ""),
    (
        "full",
        lambda s: s.get_full_variable("${CALLERID(num)}"),
        ("GET", "FULL", "VARIABLE", "${CALLERID(num)}"),
        "200 result=1 (010)",
        "010",
    ),
    (
        "full_other",
        lambda s: s.get_full_variable("${X}", "PJSIP/c0123-1"),
        ("GET", "FULL", "VARIABLE", "${X}", "PJSIP/c0123-1"),
        "200 result=0",
        None,
    ),
    (
        "record_dtmf",
        lambda s: s.record_file("/tmp/m", "wav", "#", 10000, 3, beep=True),
        ("RECORD", "FILE", "/tmp/m", "wav", "#", "10000", "BEEP", "s=3"),
        "200 result=35 (dtmf) endpos=16000",
        RecordingResult("dtmf", "#", 16000),
    ),
    (
        "record_timeout",  # Asterisk 22 answers result=1 on timeout (recorded)
        lambda s: s.record_file("/tmp/m", "wav", "", 500),
        ("RECORD", "FILE", "/tmp/m", "wav", "", "500"),
        "200 result=1 (timeout) endpos=0",
        RecordingResult("timeout", None, 0),
    ),
    (
        "moh_on",
        lambda s: s.set_music(True, "default"),
        ("SET", "MUSIC", "on", "default"),
        "200 result=0",
        None,
    ),
    ("moh_off", lambda s: s.set_music(False), ("SET", "MUSIC", "off"), "200 result=0", None),
    (
        "verbose",
        lambda s: s.verbose("two words", 2),
        ("VERBOSE", "two words", "2"),
        "200 result=1",
        None,
    ),
    ("hangup", lambda s: s.hangup(), ("HANGUP",), "200 result=1", None),
]


@pytest.mark.parametrize(
    ("call", "words", "reply", "expected"), [h[1:] for h in HELPERS], ids=[h[0] for h in HELPERS]
)
async def test_helper_sends_its_command_and_reads_the_reply(
    call: HelperCall, words: tuple[str, ...], reply: str, expected: object
) -> None:
    results, done = recorder()

    async def handler(session: AgiSession) -> None:
        results["value"] = await call(session)
        done.set()

    async with running_server({"ivr": handler}) as server:
        fake = await FakeAsterisk.call(server.bound_port)
        await fake.expect(*words, reply=reply)
        assert await fake.expect_closed() == b""
        await fake.close()
        await wait_until(lambda: server.stats().completed == 1, "session completed")
        assert server.stats().commands == 1
    assert done.is_set()
    assert results == {"value": expected}


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
