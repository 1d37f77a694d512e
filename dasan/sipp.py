"""SIPp as citizens and consultants: scenario rendering, processes and their results.

Invariants:
- Scenarios come from ``sipp-scenarios/`` (templates with ``${...}`` placeholders); every
  rendered file and SIPp log lives in a work folder the caller owns, so runs never mix.
- SIPp only ever talks to loopback addresses.
- A result reports what SIPp counted (successful, failed, retransmissions) and the setup time
  (INVITE -> 200) of every call, so a caller can assert on failures and overload signals.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import itertools
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from common.template import TemplateError, fill
from dasan.paths import project_root

DTMF_PCAP_DIR = Path("/usr/share/sip-tester")
_PCAP_NAMES = {"*": "star", "#": "pound"}
_port_counter = itertools.count()


class SippError(RuntimeError):
    """SIPp could not be started or its output could not be read."""


@dataclass(frozen=True)
class Dtmf:
    """One key press: wait ``delay_ms`` (since the previous step), then send ``digit``."""

    digit: str
    delay_ms: int = 1500

    def __post_init__(self) -> None:
        if len(self.digit) != 1 or self.digit not in "0123456789*#":
            raise ValueError(f"not a DTMF digit: {self.digit!r}")


@dataclass(frozen=True)
class AudioPause:
    """The citizen's RTP stops: wait ``after_ms`` (since the keys), then send nothing for
    ``for_ms`` (a muted or VAD phone, a lost stretch of network); the audio then resumes."""

    after_ms: int
    for_ms: int

    def __post_init__(self) -> None:
        if self.after_ms < 0 or self.for_ms <= 0:
            raise ValueError(f"not an audio pause: {self}")


@dataclass(frozen=True)
class CitizenCalls:
    calls: int = 1
    rate: float = 5.0  # new calls per second
    limit: int | None = None  # maximum concurrent calls
    digits: tuple[Dtmf, ...] = ()
    dtmf_mode: Literal["rfc2833", "info"] = "rfc2833"
    hangup_after_ms: int = 30_000
    service: str = "120"
    caller: str = "0102000"
    # u-law 8 kHz WAV streamed (looped) for the whole call; None: the shipped speech-like clip.
    audio: Path | None = None
    # Source address of the calls (the PBX identifies citizens by it: pbx.carrier_addresses).
    local_ip: str = "127.0.0.1"
    # A named network namespace to call from (a carrier host in the network tests).
    netns: str | None = None
    # Calls through a record-routing SIP proxy (the cluster's Kamailio): ACK, INFO and BYE
    # follow the route set of the answer to the PBX node's Contact.
    via_proxy: bool = False
    # Stretches with no RTP from the citizen, after the keys (in order).
    pauses: tuple[AudioPause, ...] = ()

    @property
    def dialog_uri(self) -> str:
        return "[next_url]" if self.via_proxy else f"sip:{self.service}@[remote_ip]:[remote_port]"

    @property
    def route(self) -> str:
        return "\n      [routes]" if self.via_proxy else ""


@dataclass(frozen=True)
class SippResult:
    returncode: int
    successful: int
    failed: int
    retransmissions: int
    setup_ms: tuple[float, ...]
    elapsed_s: float
    errors: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.failed == 0


def scenarios_dir() -> Path:
    return project_root() / "sipp-scenarios"


def fill_scenario(template: str, **values: object) -> str:
    """``template`` with its ``{{name}}`` placeholders filled (``SippError`` when one is missing)."""
    try:
        return fill(template, **values)
    except TemplateError as exc:
        raise SippError(f"scenario {exc}") from exc


def _template(name: str) -> str:
    return (scenarios_dir() / name).read_text(encoding="utf-8")


def render_dtmf_steps(
    digits: Sequence[Dtmf],
    mode: str,
    service: str,
    caller: str,
    *,
    dialog_uri: str | None = None,
    route: str = "",
) -> str:
    """The key presses; ``dialog_uri``/``route``: where SIP INFO goes (see CitizenCalls)."""
    parts = []
    for cseq, step in enumerate(digits, start=2):
        if mode == "info":
            parts.append(
                fill_scenario(
                    _template("dtmf_info.xml.part"),
                    delay_ms=step.delay_ms,
                    digit=step.digit,
                    cseq=cseq,
                    service=service,
                    caller=caller,
                    dialog_uri=dialog_uri or f"sip:{service}@[remote_ip]:[remote_port]",
                    route=route,
                )
            )
        else:
            # The digit's RTP events come from a pcap with its own SSRC; the template pauses
            # our audio stream meanwhile, since interleaving two SSRCs makes Asterisk forget
            # the event it reported and count the pcap's three end packets as three presses.
            pcap = DTMF_PCAP_DIR / f"dtmf_2833_{_PCAP_NAMES.get(step.digit, step.digit)}.pcap"
            parts.append(
                fill_scenario(_template("dtmf_rfc2833.xml.part"), delay_ms=step.delay_ms, pcap=pcap)
            )
    return "".join(parts)


def render_pause_steps(pauses: Sequence[AudioPause]) -> str:
    """SIPp steps stopping the citizen's audio stream for each pause, then resuming it."""
    return "".join(
        fill_scenario(_template("audio_pause.xml.part"), after_ms=p.after_ms, for_ms=p.for_ms)
        for p in pauses
    )


def render_citizen(spec: CitizenCalls, audio: Path) -> str:
    steps = render_dtmf_steps(
        spec.digits,
        spec.dtmf_mode,
        spec.service,
        spec.caller,
        dialog_uri=spec.dialog_uri,
        route=spec.route,
    )
    return fill_scenario(
        _template("citizen_uac.xml"),
        service=spec.service,
        caller=spec.caller,
        audio=audio,
        hangup_after_ms=spec.hangup_after_ms,
        dialog_uri=spec.dialog_uri,
        route=spec.route,
        dtmf_steps=steps + render_pause_steps(spec.pauses),
    )


def render_consultants(
    ring_ms: int, talk_ms: int, audio: Path, no_answer: Sequence[str], *, silent: bool = False
) -> str:
    """The consultants' UAS; ``silent`` consultants answer but never send RTP (a muted phone)."""
    regex = "|".join(no_answer) if no_answer else "no-consultant-matches-this"
    stream = "" if silent else f'  <nop><action><exec rtp_stream="{audio},-1,0"/></action></nop>'
    return fill_scenario(
        _template("consultant_uas.xml"),
        ring_ms=ring_ms,
        talk_ms=talk_ms,
        stream=stream,
        no_answer_regex=regex,
    )


def ensure_media(folder: Path) -> tuple[Path, Path]:
    """Speech-like u-law WAVs for citizens and consultants (espeak-ng + sox), made once."""
    folder.mkdir(parents=True, exist_ok=True)
    citizen, consultant = folder / "citizen-ulaw.wav", folder / "consultant-ulaw.wav"
    texts = {
        citizen: ("ko", "안녕하세요. 여권 발급 방법을 알고 싶습니다. 버스 노선도 궁금합니다."),
        consultant: (
            "ko",
            "네, 다산콜센터 상담사입니다. 무엇을 도와드릴까요? 잠시만 기다려 주세요.",
        ),
    }
    for path, (voice, text) in texts.items():
        if path.is_file():
            continue
        # Unique temporary names, then an atomic rename: concurrent callers never collide.
        tag = f"{os.getpid()}-{next(_port_counter)}"
        raw, tmp = path.with_suffix(f".{tag}.raw.wav"), path.with_suffix(f".{tag}.tmp.wav")
        _check_run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text], "espeak-ng")
        # A second of silence between loops: continuous speech with short pauses.
        _check_run(
            ["sox", str(raw), "-r", "8000", "-c", "1", "-e", "u-law", str(tmp), "pad", "0", "1"],
            "sox",
        )
        raw.unlink(missing_ok=True)
        tmp.replace(path)
    return citizen, consultant


def _check_run(cmd: list[str], what: str) -> None:
    if shutil.which(cmd[0]) is None:
        raise SippError(f"{what} is not installed (make system-deps)")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SippError(f"{what} failed: {proc.stderr.strip()}")


def _base_args(local_port: int, local_ip: str = "127.0.0.1") -> list[str]:
    return [
        "-i",
        local_ip,
        "-mi",
        local_ip,
        "-p",
        str(local_port),
        "-nostdin",
        "-aa",
        "-trace_err",
        "-trace_stat",
        "-fd",
        "1",
        "-max_recv_loops",
        "1000",
    ]


def free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class _Run:
    workdir: Path
    scenario: Path
    proc: asyncio.subprocess.Process | None = None
    started: float = field(default_factory=time.monotonic)


async def run_citizens(
    spec: CitizenCalls,
    workdir: Path,
    pbx: tuple[str, int] = ("127.0.0.1", 5060),
    timeout_s: float | None = None,
) -> SippResult:
    """Place ``spec.calls`` citizen calls and wait until all have ended."""
    citizen_audio = (
        spec.audio or (await asyncio.to_thread(ensure_media, workdir.parent / "media"))[0]
    )
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    name = f"citizen-{os.getpid()}-{next(_port_counter)}"
    scenario = workdir / f"{name}.xml"
    scenario.write_text(render_citizen(spec, citizen_audio), encoding="utf-8")
    args = [
        "sipp",
        f"{pbx[0]}:{pbx[1]}",
        "-sf",
        str(scenario),
        "-m",
        str(spec.calls),
        "-r",
        f"{spec.rate:g}",
        "-rp",
        "1000",
        "-trace_rtt",
        "-rtt_freq",
        "1",
        *_base_args(free_udp_port(), spec.local_ip),
    ]
    if spec.limit:
        args += ["-l", str(spec.limit)]
    if spec.netns:
        args = ["ip", "netns", "exec", spec.netns, *args]
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *args,
        cwd=workdir,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    budget = timeout_s or (spec.calls / spec.rate + spec.hangup_after_ms / 1000 + 60)
    try:
        _, stderr = await asyncio.wait_for(proc.communicate(), budget)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise SippError(f"SIPp citizens did not finish within {budget:.0f} s") from None
    return _collect(
        workdir,
        name,
        proc.returncode or 0,
        time.monotonic() - started,
        stderr.decode(errors="replace"),
    )


def _collect(workdir: Path, name: str, returncode: int, elapsed: float, stderr: str) -> SippResult:
    stats = _last_stats_row(workdir, name)
    setup = tuple(
        float(row[1])
        for path in workdir.glob(f"{name}_*_rtt.csv")
        for row in _csv_rows(path)
        if len(row) >= 2 and _is_number(row[1])
    )
    errors = "".join(p.read_text(errors="replace") for p in workdir.glob(f"{name}_*_errors.log"))
    return SippResult(
        returncode=returncode,
        successful=int(stats.get("SuccessfulCall(C)", 0) or 0),
        failed=int(stats.get("FailedCall(C)", 0) or 0),
        retransmissions=int(stats.get("Retransmissions(C)", 0) or 0),
        setup_ms=setup,
        elapsed_s=elapsed,
        errors=(errors + stderr)[-4000:],
    )


def _csv_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        return list(csv.reader(handle, delimiter=";"))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _last_stats_row(workdir: Path, name: str) -> dict[str, str]:
    files = sorted(workdir.glob(f"{name}_*_.csv"))
    if not files:
        return {}
    rows = _csv_rows(files[-1])
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0], rows[-1], strict=False))


class ConsultantUas:
    """One SIPp process answering for every consultant whose contact points at ``port``."""

    def __init__(
        self,
        workdir: Path,
        port: int = 5090,
        ring_ms: int = 500,
        talk_ms: int = 3000,
        no_answer: Sequence[str] = (),
        *,
        audio: Path | None = None,
        local_ip: str = "127.0.0.1",
        silent: bool = False,
    ) -> None:
        """``audio``: the u-law 8 kHz WAV the consultants stream (looped) while talking;
        None: the shipped speech-like clip. ``silent``: they send no RTP at all."""
        self._silent = silent
        self._workdir = workdir
        self._audio = audio
        self._port = port
        self._local_ip = local_ip
        self._ring_ms = ring_ms
        self._talk_ms = talk_ms
        self._no_answer = tuple(no_answer)
        self._name = f"consultants-{os.getpid()}-{next(_port_counter)}"
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self._workdir.mkdir(parents=True, exist_ok=True)
        _, consultant_audio = ensure_media(self._workdir.parent / "media")
        consultant_audio = self._audio or consultant_audio
        scenario = self._workdir / f"{self._name}.xml"
        scenario.write_text(
            render_consultants(
                self._ring_ms,
                self._talk_ms,
                consultant_audio,
                self._no_answer,
                silent=self._silent,
            ),
            encoding="utf-8",
        )
        self._proc = await asyncio.create_subprocess_exec(
            "sipp",
            "-sf",
            str(scenario),
            *_base_args(self._port, self._local_ip),
            cwd=self._workdir,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
        )
        await self._wait_listening()

    async def _wait_listening(self) -> None:
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.returncode is not None:
                err = b""
                if self._proc.stderr is not None:
                    err = await self._proc.stderr.read()
                raise SippError(f"SIPp consultants exited: {err.decode(errors='replace')[-800:]}")
            if _udp_port_bound(self._port):
                return
            await asyncio.sleep(0.02)
        raise SippError(f"SIPp consultants did not bind {self._local_ip}:{self._port} within 5 s")

    def stats(self) -> dict[str, str]:
        return _last_stats_row(self._workdir, self._name)

    async def stop(self) -> SippResult:
        proc = self._proc
        if proc is None:
            raise SippError("consultant UAS was not started")
        if proc.returncode is None:
            proc.send_signal(signal.SIGUSR1)  # SIPp: dump stats and quit
            try:
                await asyncio.wait_for(proc.wait(), 5.0)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        stderr = b""
        if proc.stderr is not None:
            with contextlib.suppress(TimeoutError):
                stderr = await asyncio.wait_for(proc.stderr.read(), 1.0)
        return _collect(
            self._workdir, self._name, proc.returncode or 0, 0.0, stderr.decode(errors="replace")
        )

    async def __aenter__(self) -> ConsultantUas:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def udp_port_bound(port: int) -> bool:
    """Whether something listens on UDP ``port`` (any address) in this network namespace."""
    return _udp_port_bound(port)


def _udp_port_bound(port: int) -> bool:
    with contextlib.suppress(FileNotFoundError):
        for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
            local = line.split()[1]
            if local.endswith(f":{port:04X}"):
                return True
    return False


class SippProcess:
    """A long-running SIPp process on an already rendered scenario (load runs, benchmarks).

    ``args`` are SIPp's own options beyond the loopback, port and tracing basics this class
    adds (``-i/-mi 127.0.0.1``, ``-p``, ``-trace_stat -fd 1``, ``-trace_err``); for a UAC they
    start with the target, e.g. ``["127.0.0.1:5060", "-m", "100", "-r", "5", "-trace_rtt",
    "-rtt_freq", "1"]``. ``stats()`` reads SIPp's statistics file (rewritten every second)
    while it runs; ``wait``/``stop`` return the same ``SippResult`` as ``run_citizens``.
    """

    def __init__(
        self,
        workdir: Path,
        name: str,
        scenario_xml: str,
        args: Sequence[str],
        local_port: int | None = None,
        *,
        local_ip: str = "127.0.0.1",
    ) -> None:
        self.workdir = workdir
        self.name = f"{name}-{os.getpid()}-{next(_port_counter)}"
        self._scenario_xml = scenario_xml
        self._args = list(args)
        self.local_port = local_port
        self.local_ip = local_ip
        self._proc: asyncio.subprocess.Process | None = None
        self._started = 0.0
        self._result: SippResult | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def start(self) -> None:
        if self._proc is not None:
            raise SippError(f"SIPp {self.name} was already started")
        await asyncio.to_thread(self.workdir.mkdir, parents=True, exist_ok=True)
        scenario = self.workdir / f"{self.name}.xml"
        await asyncio.to_thread(scenario.write_text, self._scenario_xml, "utf-8")
        port = self.local_port or free_udp_port()
        self.local_port = port
        self._started = time.monotonic()
        # stderr goes to a file: a pipe nobody reads during a long run would block SIPp.
        with self._stderr_path.open("wb") as stderr:
            self._proc = await asyncio.create_subprocess_exec(
                "sipp",
                *self._args[:1],
                "-sf",
                str(scenario),
                *self._args[1:],
                *_base_args(port, self.local_ip),
                cwd=self.workdir,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr,
                stdin=asyncio.subprocess.DEVNULL,
            )

    @property
    def _stderr_path(self) -> Path:
        return self.workdir / f"{self.name}.stderr"

    @property
    def started_at(self) -> float:
        """``time.monotonic()`` when the process was started (0 before ``start``)."""
        return self._started

    def stats(self) -> dict[str, str]:
        """The latest statistics row (``CurrentCall``, ``SuccessfulCall(C)``, ...), or {}."""
        return _last_stats_row(self.workdir, self.name)

    def setup_times(self) -> list[tuple[float, float]]:
        """``(seconds after start, INVITE->200 ms)`` of every call set up so far (``-trace_rtt
        -rtt_freq 1``): SIPp's ``Date_ms`` counts from its own start."""
        out = []
        for path in self.workdir.glob(f"{self.name}_*_rtt.csv"):
            for row in _csv_rows(path):
                if len(row) >= 2 and _is_number(row[0]) and _is_number(row[1]):
                    out.append((float(row[0]) / 1000, float(row[1])))
        return sorted(out)

    def snapshot(self) -> SippResult:
        """What SIPp has written so far (a live view; ``returncode`` -1 while running)."""
        proc = self._require()
        code = proc.returncode if proc.returncode is not None else -1
        return _collect(self.workdir, self.name, code, time.monotonic() - self._started, "")

    async def wait(self, timeout_s: float) -> SippResult:
        """Wait for SIPp to finish on its own (all calls done); ``SippError`` after the budget."""
        proc = self._require()
        try:
            await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            await self.stop()
            raise SippError(f"SIPp {self.name} did not finish within {timeout_s:.0f} s") from None
        return await self._finish()

    async def stop(self, grace_s: float = 5.0) -> SippResult:
        """Ask SIPp to dump its statistics and quit (calls still up are aborted), then collect."""
        proc = self._require()
        if proc.returncode is None:
            proc.send_signal(signal.SIGUSR1)
            try:
                await asyncio.wait_for(proc.wait(), grace_s)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        return await self._finish()

    def _require(self) -> asyncio.subprocess.Process:
        if self._proc is None:
            raise SippError(f"SIPp {self.name} was not started")
        return self._proc

    async def _finish(self) -> SippResult:
        if self._result is not None:
            return self._result
        proc = self._require()
        stderr = await asyncio.to_thread(self._stderr_path.read_text, errors="replace")
        self._result = await asyncio.to_thread(
            _collect,
            self.workdir,
            self.name,
            proc.returncode or 0,
            time.monotonic() - self._started,
            stderr[-4000:],
        )
        return self._result
