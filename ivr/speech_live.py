"""Live transcription of a conversation, inside a speech worker (``ivr.speech_worker``).

A ``Transcript`` follows a call's recording while the PBX writes it (the MixMonitor WAV: both
sides of the conversation mixed) and reports each utterance the recognizer ends, as text, for
as long as the engine keeps it open (``transcribe`` ... ``cancel``).

Invariants:
- Reading starts at the end of the audio already written when the transcript opens (the
  conversation, not the IVR and queue before it), always at a whole sample.
- Recognition is restricted to ``vocabulary`` (the words of the knowledge base's case titles
  the engine sends): free-form recognition of narrowband speech with the small Korean model
  produced mostly other words, and the result only serves to search those cases.
- An utterance is reported only when it holds words and its audio's loudness moves like
  speech (``speech_worker.steady``): a tone or steady noise never becomes a suggestion.
- Each reported utterance carries ``end_s``, the audio time (seconds since the transcript
  opened) of the end of its last word, so latency can be measured against the audio.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from ivr.speech_worker import Recognizer, RecognizerCache

HEADER_BYTES = 44
# Audio kept for the steadiness check of the next utterance (older audio is dropped).
_KEEP_S = 30.0


@dataclass(frozen=True, slots=True)
class Said:
    """One utterance: its words, and the audio times (s since opening) of its first and last."""

    text: str
    start_s: float
    end_s: float

    def as_json(self) -> dict[str, Any]:
        return {"text": self.text, "start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3)}


@dataclass
class Transcript:
    """One call's growing recording, transcribed utterance by utterance."""

    sid: int
    path: Path
    vocabulary: tuple[str, ...]
    cache: RecognizerCache
    rate: int | None = None
    _file: BinaryIO | None = None
    _recognizer: Recognizer | None = None
    # Audio since opening: ``pcm`` holds the last ``_KEEP_S`` of it, starting at ``_dropped``.
    pcm: bytearray = field(default_factory=bytearray)
    _dropped: int = 0

    def poll(self) -> list[Said]:
        """Feed what was written since the last poll; the utterances that just ended."""
        from ivr.speech_worker import wav_rate

        if self._file is None:
            self._file = self.path.open("rb")  # FileNotFoundError: the call has no recording
            header = self._file.read(HEADER_BYTES)
            if len(header) < HEADER_BYTES:
                raise ValueError(f"{self.path}: no WAV header yet")
            self.rate = wav_rate(header)
            end = self._file.seek(0, os.SEEK_END)
            self._file.seek(HEADER_BYTES + (end - HEADER_BYTES) // 2 * 2)
            self._recognizer = self.cache.take(self.rate, self.vocabulary)
        data = self._file.read()
        if len(data) % 2:  # half a sample: read it again with the rest next time
            self._file.seek(-1, os.SEEK_CUR)
            data = data[:-1]
        if not data:
            return []
        assert self._recognizer is not None
        self.pcm += data
        ended = self._recognizer.AcceptWaveform(data)
        said = self._judge(json.loads(self._recognizer.Result())) if ended else None
        self._trim()
        return [said] if said is not None else []

    def close(self) -> None:
        if self._recognizer is not None and self.rate is not None:
            self.cache.give_back(self.rate, self.vocabulary, self._recognizer)
            self._recognizer = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def _judge(self, result: dict[str, Any]) -> Said | None:
        from ivr.speech_worker import steady

        items = [i for i in result.get("result", []) if i.get("word")]
        if not items or self.rate is None:
            return None
        start_s = min(float(i.get("start", 0)) for i in items)
        end_s = max(float(i.get("end", 0)) for i in items)
        first = max(0, int(start_s * self.rate) * 2 - self._dropped)
        last = max(0, int(end_s * self.rate) * 2 - self._dropped)
        if steady(bytes(self.pcm[first:last]) or bytes(self.pcm), self.rate):
            return None
        return Said(" ".join(str(i["word"]) for i in items), start_s, end_s)

    def _trim(self) -> None:
        assert self.rate is not None
        keep = int(_KEEP_S * self.rate) * 2
        if len(self.pcm) > 2 * keep:
            cut = len(self.pcm) - keep
            del self.pcm[:cut]
            self._dropped += cut
