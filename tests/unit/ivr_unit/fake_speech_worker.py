"""A speech worker without Vosk (unit tier only): the real worker loop (``ivr.speech_worker``)
with a recognizer that "hears" the first grammar word in any loud stretch of audio.

The fake recognizer ends an utterance after ``_QUIET_S`` of quiet following at least
``_LOUD_S`` of loud audio (the way Vosk's endpointer does after speech), so a steady tone never
ends one; its final result names a word whenever anything loud was heard, so the real worker's
steadiness check is what turns a tone into no answer. A ``listen`` whose path contains
``die`` kills the process, as a crash would.

Run: ``python -c "from tests.unit.ivr_unit.fake_speech_worker import main; main()"``.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from ivr import speech_worker

_LOUD = 1000.0  # RMS of a 20 ms frame above which it is loud
_LOUD_S = 0.2
_QUIET_S = 0.3


class FakeRecognizer:
    def __init__(self, rate: int, grammar: tuple[str, ...]) -> None:
        self.rate, self.grammar = rate, grammar
        self.Reset()

    def Reset(self) -> None:
        self.pending = b""
        self.t = 0.0
        self.loud: list[float] = []  # start times of loud frames
        self.quiet_run = 0.0

    def AcceptWaveform(self, data: bytes) -> bool:
        self.pending += data
        frame = int(self.rate * 0.02) * 2
        ended = False
        while len(self.pending) >= frame:
            samples = np.frombuffer(self.pending[:frame], dtype="<i2").astype(np.float64)
            self.pending = self.pending[frame:]
            if float(np.sqrt((samples**2).mean())) > _LOUD:
                self.loud.append(self.t)
                self.quiet_run = 0.0
            else:
                self.quiet_run += 0.02
            self.t += 0.02
            spoke = len(self.loud) * 0.02 >= _LOUD_S
            ended = ended or (spoke and self.quiet_run >= _QUIET_S)
        return ended

    def _result(self) -> str:
        if not self.loud:
            return json.dumps({"text": ""})
        word = self.grammar[0]
        item = {"word": word, "conf": 0.9, "start": self.loud[0], "end": self.loud[-1] + 0.02}
        return json.dumps({"result": [item], "text": word})

    def Result(self) -> str:
        # Like Vosk: the ended utterance's words; the next utterance starts afresh (times go on).
        result = self._result()
        self.loud = []
        return result

    def FinalResult(self) -> str:
        return self._result()


class _DyingWorker(speech_worker.Worker):
    def handle(self, request: dict[str, object]) -> None:
        if request.get("op") == "listen" and "die" in str(request.get("path")):
            os._exit(3)
        super().handle(request)


def main() -> None:
    write = speech_worker.stdout_writer()
    write({"ev": "ready", "pid": os.getpid()})
    cache = speech_worker.RecognizerCache(FakeRecognizer)
    speech_worker.serve(_DyingWorker(cache, write), sys.stdin.fileno())


COMMAND = (sys.executable, "-c", "from tests.unit.ivr_unit.fake_speech_worker import main; main()")
