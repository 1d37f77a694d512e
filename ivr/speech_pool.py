"""A bounded pool of speech worker processes (``ivr.speech_worker``), driven from the event loop.

Invariants:
- The engine process never loads the Vosk model: each worker loads it once, at its start, and
  serves up to ``streams_per_worker`` recordings at a time. ``open()`` never waits: it returns
  None when no ready worker has a free slot, and the caller is offered keys only.
- A worker that exits for any reason (crash, kill, out of memory) fails all its streams with
  ``SpeechUnavailable`` at once, and is replaced after a delay that doubles while workers keep
  failing before they are ready (a missing model does not become a restart storm).
- Messages both ways are single JSON lines (see ``ivr.speech_worker``); audio never passes
  through the engine: the worker reads the recording from the shared spool folder.
- Live transcripts (agent assist) have their own slots (``transcripts_per_worker``): a long
  conversation never takes a slot the IVR's speech menus need. ``transcribe()`` never waits
  either; a dead worker ends its transcripts with ``SpeechUnavailable``.
- Stopping (cancelling ``run``) closes every worker's stdin, which ends it, and kills those
  that do not end within ``stop_grace_s``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from ivr.speech import Recognition

log = logging.getLogger(__name__)

WORKER_COMMAND = (sys.executable, "-m", "ivr.speech_worker")


class SpeechUnavailable(RuntimeError):
    """The worker recognizing this stream is gone (or never answered)."""


class PoolStream:
    """One caller's recording being recognized by one worker."""

    def __init__(self, worker: _Worker, sid: int) -> None:
        self._worker = worker
        self.sid = sid
        loop = asyncio.get_running_loop()
        # Resolved when the recognizer ends an utterance holding a word, before the recording
        # ends; or with SpeechUnavailable when the worker dies.
        self.heard: asyncio.Future[Recognition] = loop.create_future()
        self._final: asyncio.Future[Recognition | None] = loop.create_future()
        self.closed = False

    async def finish(self, timeout_s: float) -> Recognition | None:
        """The recording is closed: the word heard in it, or None (``SpeechUnavailable`` if
        the worker died or did not answer in ``timeout_s``)."""
        if self.heard.done():
            return self.heard.result()
        if not self._worker.send({"op": "finish", "id": self.sid}):
            raise SpeechUnavailable("the speech worker is gone")
        try:
            async with asyncio.timeout(timeout_s):
                return await self._final
        except TimeoutError:
            raise SpeechUnavailable(f"no answer from the speech worker in {timeout_s} s") from None

    def close(self) -> None:
        """Free the slot (cancelling the work if it is still going). Idempotent."""
        if self.closed:
            return
        self.closed = True
        if self._worker.streams.pop(self.sid, None) is not None and not self._final.done():
            self._worker.send({"op": "cancel", "id": self.sid})
        for future in (self.heard, self._final):
            if not future.done():
                future.cancel()
            elif not future.cancelled():
                future.exception()  # retrieved: a dead worker's error was already handled

    def deliver(self, message: dict[str, Any]) -> None:
        word = message.get("word")
        found = None
        if isinstance(word, str):
            found = Recognition(
                word, float(message.get("confidence", 0.0)), message.get("text", "")
            )
        event = message.get("ev")
        if event == "heard" and found is not None and not self.heard.done():
            self.heard.set_result(found)
            self._final.set_result(found)
        elif event == "final" and not self._final.done():
            self._final.set_result(found)
        elif event == "error":
            self.fail(SpeechUnavailable(f"speech worker error: {message.get('message')}"))

    def fail(self, error: Exception) -> None:
        for future in (self.heard, self._final):
            if not future.done():
                future.set_exception(error)


class PoolTranscript:
    """One conversation being transcribed by one worker: ``said`` yields each utterance."""

    def __init__(self, worker: _Worker, sid: int) -> None:
        self._worker = worker
        self.sid = sid
        self._queue: asyncio.Queue[dict[str, Any] | Exception] = asyncio.Queue()
        self.closed = False
        # Set when the worker has opened the recording: audio written after it is heard.
        self.listening = asyncio.Event()

    async def said(self) -> AsyncIterator[dict[str, Any]]:
        """Utterances (``text``, ``start_s``, ``end_s``) until closed; raises
        ``SpeechUnavailable`` when the worker dies or reports an error for this stream."""
        while not self.closed:
            item = await self._queue.get()
            if isinstance(item, Exception):
                raise item
            yield item

    def deliver(self, message: dict[str, Any]) -> None:
        event = message.get("ev")
        if event == "said" and isinstance(message.get("text"), str):
            self._queue.put_nowait(message)
        elif event == "listening":
            self.listening.set()
        elif event == "error":
            self._worker.transcripts.pop(self.sid, None)
            self.fail(SpeechUnavailable(f"speech worker error: {message.get('message')}"))

    def fail(self, error: Exception) -> None:
        self._queue.put_nowait(error)

    def close(self) -> None:
        """Stop transcribing and free the slot. Idempotent."""
        if self.closed:
            return
        self.closed = True
        if self._worker.transcripts.pop(self.sid, None) is not None:
            self._worker.send({"op": "cancel", "id": self.sid})


class _Worker:
    def __init__(self, index: int, command: Sequence[str]) -> None:
        self.index = index
        self.command = tuple(command)
        self.proc: asyncio.subprocess.Process | None = None
        self.ready = False
        self.failure: str | None = None
        self.streams: dict[int, PoolStream] = {}
        self.transcripts: dict[int, PoolTranscript] = {}

    def send(self, message: dict[str, Any]) -> bool:
        proc = self.proc
        if proc is None or proc.stdin is None or proc.stdin.is_closing() or not self.ready:
            return False
        # Small lines into a 64 KB pipe the worker drains every tick: no drain() needed, and
        # the event loop never waits on a worker.
        proc.stdin.write(json.dumps(message, ensure_ascii=False).encode() + b"\n")
        return True

    async def run_once(self, on_ready: Callable[[], None]) -> None:
        """Start the process and serve its messages until it exits."""
        self.proc = await asyncio.create_subprocess_exec(
            *self.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,
        )
        assert self.proc.stdout is not None
        try:
            while line := await self.proc.stdout.readline():
                self._dispatch(line, on_ready)
        finally:
            self.ready = False
            await self._end()

    def _dispatch(self, line: bytes, on_ready: Callable[[], None]) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            log.warning("speech worker %d: not a message: %r", self.index, line[:200])
            return
        event = message.get("ev")
        if event == "ready":
            self.ready, self.failure = True, None
            log.info("speech worker %d ready (pid %s)", self.index, message.get("pid"))
            on_ready()
        elif event == "failed":
            self.failure = str(message.get("message"))
            log.error("speech worker %d cannot start: %s", self.index, self.failure)
        elif (stream := self.streams.get(int(message.get("id", -1)))) is not None:
            stream.deliver(message)
        elif (transcript := self.transcripts.get(int(message.get("id", -1)))) is not None:
            transcript.deliver(message)
        elif message.get("id") == -1:
            log.error("speech worker %d: %s", self.index, message.get("message"))

    async def _end(self) -> None:
        """The process is ending: every stream it held becomes unavailable, then reap it."""
        streams, self.streams = self.streams, {}
        for stream in streams.values():
            stream.fail(SpeechUnavailable("the speech worker died"))
        transcripts, self.transcripts = self.transcripts, {}
        for transcript in transcripts.values():
            transcript.fail(SpeechUnavailable("the speech worker died"))
        proc = self.proc
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 2.0)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        log.warning("speech worker %d exited (status %s)", self.index, proc.returncode)

    def terminate(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()


class SpeechPool:
    """``workers`` processes, each recognizing up to ``streams_per_worker`` callers at once."""

    def __init__(
        self,
        workers: int,
        streams_per_worker: int,
        *,
        command: Sequence[str] = WORKER_COMMAND,
        transcripts_per_worker: int = 4,
        restart_delay_s: float = 1.0,
        max_restart_delay_s: float = 60.0,
        on_status: Callable[[str], None] | None = None,
    ) -> None:
        if workers < 1 or streams_per_worker < 1:
            raise ValueError("a speech pool needs at least one worker and one stream each")
        self.streams_per_worker = streams_per_worker
        self.transcripts_per_worker = transcripts_per_worker
        self._workers = [_Worker(i, command) for i in range(workers)]
        self._restart = (restart_delay_s, max_restart_delay_s)
        self._on_status = on_status or (lambda _status: None)
        self._next_id = 0
        self.started = 0  # processes started, replacements included
        self.ready_event = asyncio.Event()

    @property
    def capacity(self) -> int:
        return sum(self.streams_per_worker for w in self._workers if w.ready)

    @property
    def in_use(self) -> int:
        return sum(len(w.streams) for w in self._workers)

    @property
    def ready_workers(self) -> int:
        return sum(1 for w in self._workers if w.ready)

    def pids(self) -> list[int]:
        return [w.proc.pid for w in self._workers if w.proc is not None and w.ready]

    def open(self, path: Path, grammar: Sequence[str]) -> PoolStream | None:
        """Start recognizing the recording the PBX is about to write at ``path`` (host side);
        None when every ready worker is full (or none is ready)."""
        free = [w for w in self._workers if w.ready and len(w.streams) < self.streams_per_worker]
        if not free:
            return None
        worker = min(free, key=lambda w: len(w.streams))
        self._next_id += 1
        stream = PoolStream(worker, self._next_id)
        request = {"op": "listen", "id": stream.sid, "path": str(path), "grammar": list(grammar)}
        if not worker.send(request):
            return None
        worker.streams[stream.sid] = stream
        return stream

    def transcribe(self, path: Path, vocabulary: Sequence[str]) -> PoolTranscript | None:
        """Start transcribing the call recording the PBX is writing at ``path`` (host side),
        from its current end; None when no ready worker has a free transcript slot."""
        free = [
            w for w in self._workers if w.ready and len(w.transcripts) < self.transcripts_per_worker
        ]
        if not free:
            return None
        worker = min(free, key=lambda w: len(w.transcripts) + len(w.streams))
        self._next_id += 1
        transcript = PoolTranscript(worker, self._next_id)
        request = {
            "op": "transcribe",
            "id": transcript.sid,
            "path": str(path),
            "vocabulary": list(vocabulary),
        }
        if not worker.send(request):
            return None
        worker.transcripts[transcript.sid] = transcript
        return transcript

    async def run(self) -> None:
        """Keep every worker running until cancelled."""
        self._status()
        try:
            async with asyncio.TaskGroup() as tasks:
                for worker in self._workers:
                    tasks.create_task(self._keep(worker))
        finally:
            for worker in self._workers:
                worker.terminate()

    async def _keep(self, worker: _Worker) -> None:
        first, most = self._restart
        delay = first
        while True:
            self.started += 1
            was_ready = False

            def ready(worker: _Worker = worker) -> None:
                nonlocal was_ready
                was_ready = True
                self.ready_event.set()
                self._status()

            try:
                await worker.run_once(ready)
            except OSError as exc:
                worker.failure = f"cannot start: {exc}"
                log.error("speech worker %d: %s", worker.index, worker.failure)
            self._status()
            delay = first if was_ready else min(delay * 2, most)
            await asyncio.sleep(delay)

    def _status(self) -> None:
        ready = self.ready_workers
        if ready:
            self._on_status(f"loaded ({ready}/{len(self._workers)} workers)")
            return
        # Nothing until the first worker is ready or fails: the status file's "speech" key
        # tells operators and test fixtures that recognition can be used.
        failures = [w.failure for w in self._workers if w.failure]
        if failures:
            self._on_status(f"failed: {failures[0]}")
