"""A scriptable fake Asterisk AMI server on 127.0.0.1 (port 0) for unit tests and benchmarks.

It speaks the real wire format (banner, CRLF, blank-line-terminated messages) and answers
Login, Ping, Command, CoreShowChannels, BridgeList, PJSIPShowContacts and DeviceStateList
from its own tables; ``Slow*`` actions get no reply, unknown ones ``Response: Error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence

from pydantic import SecretStr

from cti.settings import AmiSettings

Headers = Sequence[tuple[str, str]]

LIST_ACTIONS = {
    "CoreShowChannels": ("CoreShowChannelsComplete", "Channels will follow"),
    "BridgeList": ("BridgeListComplete", "Bridge listing will follow"),
    "PJSIPShowContacts": ("ContactListComplete", "A listing of Contacts follows"),
    "DeviceStateList": ("DeviceStateListComplete", "Device State Changes will follow"),
}


def make_settings(port: int, **overrides: object) -> AmiSettings:
    values: dict[str, object] = {
        "port": port,
        "secret": SecretStr("s3cret"),
        "connect_timeout_s": 2.0,
        "action_timeout_s": 1.0,
        "reconnect_min_s": 0.02,
        "reconnect_max_s": 0.1,
        "ping_interval_s": 30.0,
    }
    values.update(overrides)
    return AmiSettings.model_validate(values)


def encode(headers: Iterable[tuple[str, str]]) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in headers).encode() + b"\r\n"


class FakeAmi:
    def __init__(self, *, username: str = "dasan", secret: str = "s3cret") -> None:
        self.username = username
        self.secret = secret
        self.lists: dict[str, list[Headers]] = {name: [] for name in LIST_ACTIONS}
        self.actions: list[dict[str, str]] = []
        self.logins = 0
        self.answer_ping = True
        self.fail_actions: set[str] = set()  # answered "Response: Error"
        self.accept_actions: set[str] = set()  # answered "Response: Success" (e.g. Originate)
        # raw bytes written before the reply, after the first item, and after the list
        self.around_list: dict[str, tuple[bytes, bytes, bytes]] = {}
        self.on_login: Callable[[asyncio.StreamWriter], None] | None = None
        # False: a PBX still loading its modules (FullyBooted comes later, from ``event``).
        self.booted = True
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._handlers: set[asyncio.Task[object]] = set()
        self._sockets: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def close(self) -> None:
        """Close every connection, stop listening and wait for the handlers to end."""
        await self.stop_listening()
        for writer in self._sockets:
            writer.close()
        self._writers.clear()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5.0)

    def drop_all(self) -> None:
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    @property
    def sessions(self) -> int:
        return len(self._writers)

    @staticmethod
    def _fully_booted() -> bytes:
        return encode(
            [
                ("Event", "FullyBooted"),
                ("Privilege", "system,all"),
                ("Uptime", "1"),
                ("LastReload", "1"),
                ("Status", "Fully Booted"),
            ]
        )

    def finish_boot(self) -> None:
        """The PBX finished loading: FullyBooted to every session, as Asterisk sends it."""
        self.booted = True
        self.send(self._fully_booted())

    def send(self, data: bytes) -> None:
        for writer in self._writers:
            writer.write(data)

    def event(self, name: str, *headers: tuple[str, str]) -> None:
        self.send(encode([("Event", name), *headers]))

    async def wait_for(self, predicate: Callable[[], bool], within_s: float = 5.0) -> None:
        deadline = time.monotonic() + within_s
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("condition not met before the deadline")
            await asyncio.sleep(0.005)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self._sockets.add(writer)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        logged_in = False
        try:
            while True:
                action = await _read_action(reader)
                if action is None:
                    break
                self.actions.append(action)
                logged_in = self._answer(writer, action, logged_in)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if writer in self._writers:
                self._writers.remove(writer)
            self._sockets.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            if task is not None:
                self._handlers.discard(task)

    def _answer(
        self, writer: asyncio.StreamWriter, action: dict[str, str], logged_in: bool
    ) -> bool:
        name = action.get("Action", "")
        aid = ("ActionID", action.get("ActionID", ""))
        if name == "Login":
            ok = action.get("Username") == self.username and action.get("Secret") == self.secret
            if not ok:
                writer.write(
                    encode([("Response", "Error"), aid, ("Message", "Authentication failed")])
                )
                writer.close()
                return False
            self.logins += 1
            writer.write(
                encode([("Response", "Success"), aid, ("Message", "Authentication accepted")])
            )
            if self.booted:
                writer.write(self._fully_booted())
            self._writers.append(writer)
            if self.on_login is not None:
                self.on_login(writer)
            return True
        if not logged_in or name in self.fail_actions:
            writer.write(encode([("Response", "Error"), aid, ("Message", "Permission denied")]))
        elif name == "Ping":
            if self.answer_ping:
                writer.write(
                    encode(
                        [
                            ("Response", "Success"),
                            aid,
                            ("Ping", "Pong"),
                            ("Timestamp", f"{time.time():.6f}"),
                        ]
                    )
                )
        elif name == "Logoff":
            writer.write(
                encode([("Response", "Goodbye"), aid, ("Message", "Thanks for all the fish.")])
            )
            writer.close()  # Asterisk hangs up after Goodbye
        elif name in self.accept_actions:
            writer.write(encode([("Response", "Success"), aid, ("Message", f"{name} accepted")]))
        elif name == "Command":
            self._command(writer, aid, action.get("Command", ""))
        elif name in LIST_ACTIONS:
            self._list(writer, aid, name)
        elif not name.startswith("Slow"):
            writer.write(
                encode([("Response", "Error"), aid, ("Message", "Invalid/unknown command")])
            )
        return logged_in

    def _command(self, writer: asyncio.StreamWriter, aid: tuple[str, str], cli: str) -> None:
        if cli == "core show version":
            out = [("Output", "Asterisk 22.10.1 built by fake @ test on a x86_64 running Linux")]
            status = "Success"
        else:
            out = [
                (
                    "Output",
                    f"No such command '{cli}' (type 'core show help {cli}' for other possible commands)",
                )
            ]
            status = "Error"
        writer.write(
            encode([("Response", status), aid, ("Message", "Command output follows"), *out])
        )

    def _list(self, writer: asyncio.StreamWriter, aid: tuple[str, str], name: str) -> None:
        complete, message = LIST_ACTIONS[name]
        item_name = {
            "CoreShowChannels": "CoreShowChannel",
            "BridgeList": "BridgeListItem",
            "PJSIPShowContacts": "ContactList",
            "DeviceStateList": "DeviceStateChange",
        }[name]
        if name == "PJSIPShowContacts" and not self.lists[name]:
            # what Asterisk 22 really sends (bare LF, then an extra blank line)
            writer.write(b"Response: Error\r\n" + aid[0].encode() + b": " + aid[1].encode()
                         + b"\r\nMessage: No Contacts found\n\r\n\r\n")  # fmt: skip
            return
        before, mid, after = self.around_list.pop(name, (b"", b"", b""))
        writer.write(before)
        writer.write(
            encode([("Response", "Success"), aid, ("EventList", "start"), ("Message", message)])
        )
        items = self.lists[name]
        for index, item in enumerate(items):
            writer.write(encode([("Event", item_name), aid, *item]))
            if index == 0:
                writer.write(mid)
        end = [("Event", complete), aid, ("EventList", "Complete"), ("ListItems", str(len(items)))]
        writer.write(encode(end))
        writer.write(after)


async def _read_action(reader: asyncio.StreamReader) -> dict[str, str] | None:
    action: dict[str, str] = {}
    while True:
        line = await reader.readline()
        if not line:
            return None
        text = line.decode().rstrip("\r\n")
        if not text:
            if action:
                return action
            continue
        key, _, value = text.partition(": ")
        action[key] = value


@contextlib.asynccontextmanager
async def running(**kwargs: str) -> AsyncIterator[FakeAmi]:
    fake = FakeAmi(**kwargs)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()
