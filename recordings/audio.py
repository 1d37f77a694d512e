"""Audio files: tolerant WAV inspection, archival encoding (pydub/ffmpeg) and decoding.

Invariants:
- A WAV whose header was never finalized (the PBX was killed, so the RIFF/data sizes are 0
  or wrong) is still read: the data chunk runs to the end of the file, cut to whole frames.
- Encoding goes through pydub with file objects (never paths); decoding for verification
  and transcription streams through ffmpeg to raw PCM at a chosen rate, so memory stays at
  the size of the original PCM whatever the codec's native rate.
- All functions block (file I/O, ffmpeg): callers run them off the event loop.
"""

from __future__ import annotations

import hashlib
import io
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pydub import AudioSegment

from recordings.settings import ArchiveFormat

_FFMPEG_TIMEOUT_S = 600.0
_HASH_BLOCK = 1 << 20


class AudioError(RuntimeError):
    """A recording could not be read, encoded or decoded."""


@dataclass(frozen=True, slots=True)
class WavInfo:
    sample_rate: int
    channels: int
    sample_width: int
    data_offset: int
    data_bytes: int
    # False when the header's sizes disagreed with the file (an unfinalized recording).
    header_consistent: bool

    @property
    def frames(self) -> int:
        return self.data_bytes // (self.channels * self.sample_width)

    @property
    def duration_ms(self) -> int:
        return self.frames * 1000 // self.sample_rate


def inspect_wav(path: Path) -> WavInfo:
    """Format and data extent of a PCM WAV file, tolerating an unfinalized header."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise AudioError(f"{path}: not a RIFF/WAVE file")
        fmt: tuple[int, int, int, int] | None = None
        while True:
            chunk = handle.read(8)
            if len(chunk) < 8:
                raise AudioError(f"{path}: no data chunk")
            chunk_id, chunk_size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if chunk_id == b"fmt ":
                body = handle.read(chunk_size)
                if chunk_size < 16 or len(body) < chunk_size:
                    raise AudioError(f"{path}: truncated fmt chunk")
                fmt = (*struct.unpack("<HHI", body[:8]), struct.unpack("<H", body[14:16])[0])
                handle.seek(chunk_size & 1, io.SEEK_CUR)
            elif chunk_id == b"data":
                return _wav_info(path, fmt, handle.tell(), chunk_size, size)
            else:
                handle.seek(chunk_size + (chunk_size & 1), io.SEEK_CUR)


def _wav_info(
    path: Path, fmt: tuple[int, int, int, int] | None, offset: int, declared: int, size: int
) -> WavInfo:
    if fmt is None:
        raise AudioError(f"{path}: data chunk before fmt chunk")
    audio_format, channels, rate, bits = fmt
    if audio_format != 1 or bits not in (8, 16, 24, 32) or channels < 1 or rate < 1:
        raise AudioError(f"{path}: not linear PCM (format {audio_format}, {bits} bits)")
    width = bits // 8
    available = size - offset
    consistent = declared == available or 0 < declared <= available
    data = declared if consistent else available
    data -= data % (channels * width)
    return WavInfo(rate, channels, width, offset, data, consistent)


def read_pcm(path: Path, info: WavInfo) -> bytes:
    with path.open("rb") as handle:
        handle.seek(info.data_offset)
        return handle.read(info.data_bytes)


def sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def write_wav(path: Path, pcm: bytes, sample_rate: int = 8000, *, finalize: bool = True) -> None:
    """Write 16-bit mono PCM as a WAV (``finalize=False`` mimics a killed recorder)."""
    data_size = len(pcm) if finalize else 0
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + data_size,
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        sample_rate,
        sample_rate * 2,
        2,
        16,
        b"data",
        data_size,
    )
    path.write_bytes(header + pcm)


ARCHIVE_SUFFIX = {ArchiveFormat.OPUS: ".opus", ArchiveFormat.FLAC: ".flac"}
_PYDUB_FORMAT = {ArchiveFormat.OPUS: ("ogg", "libopus"), ArchiveFormat.FLAC: ("flac", "flac")}


def encode_archive(
    pcm: bytes, info: WavInfo, fmt: ArchiveFormat, bitrate: str, complexity: int = 5
) -> bytes:
    """Encode PCM (as described by ``info``) into the archival format."""
    segment = AudioSegment(
        data=pcm,
        sample_width=info.sample_width,
        frame_rate=info.sample_rate,
        channels=info.channels,
    )
    container, codec = _PYDUB_FORMAT[fmt]
    out = io.BytesIO()
    try:
        handle = segment.export(
            out,
            format=container,
            codec=codec,
            bitrate=bitrate if fmt is ArchiveFormat.OPUS else None,
            parameters=(
                ["-application", "voip", "-compression_level", str(complexity)]
                if fmt is ArchiveFormat.OPUS
                else None
            ),
        )
    except Exception as exc:  # pydub raises bare Exception/CouldntEncodeError on ffmpeg errors
        raise AudioError(f"encoding to {fmt.value} failed: {exc}") from exc
    if handle is not out:
        handle.close()
    return out.getvalue()


def decode_pcm(data: bytes, sample_rate: int) -> bytes:
    """Decode any ffmpeg-readable audio to 16-bit mono PCM at ``sample_rate``."""
    try:
        done = subprocess.run(
            [
                "ffmpeg",
                "-nostdin",
                "-v",
                "error",
                "-i",
                "pipe:0",
                "-f",
                "s16le",
                "-ac",
                "1",
                "-ar",
                str(sample_rate),
                "pipe:1",
            ],
            input=data,
            capture_output=True,
            timeout=_FFMPEG_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AudioError(f"ffmpeg could not run: {exc}") from exc
    if done.returncode != 0:
        raise AudioError(f"decoding failed: {done.stderr.decode(errors='replace').strip()[:500]}")
    return done.stdout


def decoded_duration_ms(data: bytes, sample_rate: int) -> int:
    return len(decode_pcm(data, sample_rate)) // 2 * 1000 // sample_rate
