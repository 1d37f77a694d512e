"""Debian's baresip as a real video softphone: a citizen who dials, a consultant who answers.

Each phone gets a config folder of its own (``config``, ``accounts``) under a work folder the
caller owns, and runs in the foreground (``-d`` would fork) with its log in that folder.
Video comes from baresip's ``fakevideo`` module (a generated picture, shown nowhere) and is
encoded with ``vp8`` or ``avcodec`` (H.264); audio is a sine tone (``ausine``) played into an
``aubridge`` device that nobody reads. Nothing here needs a camera, a sound card or a screen.

Invariants:
- Every phone listens on loopback only, on its own SIP port and RTP port range. baresip binds
  the SIP port for UDP and TCP and the next port for TLS: phones' ports must differ by 2+.
- A phone never outlives its ``async with`` block: stopping sends SIGTERM (baresip hangs up
  and unregisters), then SIGKILL after a grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from cti.ami.client import AmiClient
from cti.ami.messages import AmiError

BARESIP = "baresip"
MODULE_DIR = Path("/usr/lib/baresip/modules")
# baresip's names for the video codecs we relay (asterisk-config/pjsip_video.conf).
VIDEO_CODECS = {"vp8": "VP8", "h264": "H264"}
_AUDIO_MODULES = ("g711.so", "ausine.so", "aubridge.so", "rtcpsummary.so")
_VIDEO_MODULES = ("fakevideo.so", "vp8.so", "avcodec.so")
_APP_MODULES = ("account.so", "menu.so")


class BaresipError(RuntimeError):
    """baresip is missing, or a phone could not be started."""


@dataclass(frozen=True)
class Phone:
    """One softphone: a SIP identity on the PBX and the media it sends.

    ``password`` set: the phone registers as ``user`` (a consultant) and answers by itself;
    without it the phone only places calls (a citizen, identified by the PBX's address rules).
    """

    name: str
    user: str
    sip_port: int
    rtp_ports: tuple[int, int]
    pbx: str = "127.0.0.1:5060"
    password: str | None = None
    # () makes an audio-only phone (no video modules, no video in its offers).
    video_codecs: tuple[str, ...] = ("vp8", "h264")
    video_size: str = "320x240"
    video_fps: int = 15
    video_bitrate: int = 256_000
    extra_modules: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        unknown = [c for c in self.video_codecs if c not in VIDEO_CODECS]
        if unknown:
            raise ValueError(f"video codecs not relayed by the PBX: {unknown}")
        low, high = self.rtp_ports
        if not 1024 <= low < high <= 65535:
            raise ValueError(f"bad RTP port range {self.rtp_ports}")


def render_config(phone: Phone) -> str:
    low, high = phone.rtp_ports
    modules = (*_AUDIO_MODULES, *(_VIDEO_MODULES if phone.video_codecs else ()))
    lines = [
        f"sip_listen\t127.0.0.1:{phone.sip_port}",
        "sip_transports\tudp",
        "net_interface\t127.0.0.1",  # by address: a namespace with only loopback has no route
        f"rtp_ports\t{low}-{high}",
        "rtcp_mux\tno",
        "audio_source\tausine,440",
        f"audio_player\taubridge,{phone.name}",
        "audio_alert\taubridge,alert",
        "ausrc_srate\t48000",  # ausine makes 48 kHz only; baresip resamples for G.711
        "ausrc_channels\t2",  # and in stereo only
        "auplay_srate\t48000",
        "video_source\tfakevideo,nil",
        "video_display\tfakevideo,nil",
        f"video_size\t{phone.video_size}",
        f"video_bitrate\t{phone.video_bitrate}",
        f"video_fps\t{phone.video_fps}",
        "video_fullscreen\tno",
        "avcodec_h264enc\tlibx264",
        "avcodec_h264dec\th264",
        "module_path\t" + str(MODULE_DIR),
        *(f"module\t{name}" for name in (*modules, *phone.extra_modules)),
        *(f"module_app\t{name}" for name in _APP_MODULES),
    ]
    return "\n".join(lines) + "\n"


def render_account(phone: Phone) -> str:
    codecs = ",".join(VIDEO_CODECS[c] for c in phone.video_codecs)
    params = ["audio_codecs=PCMU", f"video_codecs={codecs}"]
    if phone.password is not None:
        params += [
            f"auth_user={phone.user}",
            f"auth_pass={phone.password}",
            "answermode=auto",
            "regint=600",
        ]
    else:
        params.append("regint=0")
    return f"<sip:{phone.user}@{phone.pbx}>;" + ";".join(params) + "\n"


def write_phone(phone: Phone, folder: Path) -> Path:
    """The phone's config folder (``-f``): config, accounts, an empty contacts list."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config").write_text(render_config(phone), encoding="utf-8")
    (folder / "accounts").write_text(render_account(phone), encoding="utf-8")
    (folder / "contacts").write_text("", encoding="utf-8")
    return folder


class BaresipPhone:
    """A running baresip for ``phone``; ``dial`` is placed as soon as it is up."""

    def __init__(self, phone: Phone, workdir: Path, dial: str | None = None) -> None:
        self.phone = phone
        self.folder = workdir / phone.name
        self.dial = dial
        self.log_path = self.folder / "baresip.log"
        self._proc: subprocess.Popen[bytes] | None = None

    async def __aenter__(self) -> BaresipPhone:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    def start(self) -> None:
        binary = shutil.which(BARESIP)
        if binary is None:
            raise BaresipError("baresip is not installed (make installs baresip-core)")
        write_phone(self.phone, self.folder)
        cmd = [binary, "-f", str(self.folder)]
        if self.dial is not None:
            cmd += ["-e", f"/dial {self.dial}"]
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.folder,
                env={**os.environ, "HOME": str(self.folder)},
                start_new_session=True,
            )

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        return ""

    def stop(self, grace_s: float = 3.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5.0)


@dataclass(frozen=True)
class RtpCounts:
    """RTP packets of one media stream of one channel, as the PBX counted them."""

    received: int  # from the phone to the PBX
    sent: int  # from the PBX to the phone


async def registered(ami: AmiClient) -> set[str]:
    """Endpoints with a registered contact now (``PJSIPShowContacts``: ``Endpoint``)."""
    return {c.get("Endpoint") for c in await ami.action_list("PJSIPShowContacts")}


def parse_rtcp_all(value: str) -> RtpCounts | None:
    """``CHANNEL(rtcp,all,video)``: ``ssrc=..;themssrc=..;lp=..;rxjitter=..;rxcount=N;...;
    txcount=N;...``; None when the stream has no RTP instance (empty or unparsable)."""
    fields = dict(part.split("=", 1) for part in value.split(";") if "=" in part)
    try:
        return RtpCounts(int(fields["rxcount"]), int(fields["txcount"]))
    except (KeyError, ValueError):
        return None


async def rtp_counts(ami: AmiClient, channel: str, media: str = "video") -> RtpCounts | None:
    """What the PBX counted on ``channel``'s ``media`` stream (None: no such stream now)."""
    try:
        response = await ami.action(
            "Getvar", Channel=channel, Variable=f"CHANNEL(rtcp,all,{media})"
        )
    except AmiError:
        return None
    return parse_rtcp_all(response.headers.get("Value"))
