"""Live suggestions (agent assist, issue 16): latency from the end of an utterance to the
suggestions being handed to the desktop's live channel, and how often they match.

What runs is what the engine runs: a real speech worker process (``ivr.speech_pool`` with the
Vosk Korean model), ``knowledge.assist.LiveAssist`` with the title vocabulary, and the
knowledge search over the generated corpus (16,995 cases, SQLite). What stands in for the PBX
is a writer appending a call's audio to a WAV in real time, 20 ms frames through a 4 KB
buffered file (as Asterisk's MixMonitor writes through stdio), so audio reaches the disk the
way it does on a call.

The call: for each of ``TOPICS``, the question (espeak-ng Korean, 120 words/min, through
G.711 u-law) then 3 s of quiet, one after another on one call. Also the speech worker's CPU
per second of call audio while it transcribes (its recognizer runs at nice 5). The end of an utterance is the
wall time at which the writer handed over its last loud frame; the latency is from there to
the moment ``publish`` (the hand-over to the CTI event hub, which /ws pushes to the desktop as
one loopback JSON message, not included) is called with the utterance's cases. A suggestion
"matches" when a top-3 case's title contains the topic.

Output: benchmarks/results/assist_latency.json. Run: ``python -m benchmarks.assist_latency``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import subprocess
import tempfile
import threading
import time
import wave
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ivr.speech_pool import SpeechPool
from knowledge.assist import AssistCall, LiveAssist, Suggestions, title_words
from knowledge.settings import KnowledgeSettings
from knowledge.system import KnowledgeBase

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "assist_latency.json"
TARGET_S = 2.0
RATE = 8000
FRAME = RATE // 50  # 20 ms
QUIET_S = 3.0
TOPICS = (
    "버스 환승 할인",
    "여권 재발급",
    "따릉이 이용권",
    "장애인 콜택시",
    "교통카드 환불",
    "거주자 우선주차",
    "전입신고",
    "지하철 정기권",
    "불법주정차 과태료",
    "기초연금",
)
QUESTION = "{topic} 신청 방법"
TIMEOUT_S = 900


def speech(folder: Path, text: str) -> np.ndarray:
    """espeak-ng Korean through G.711 u-law, as 16-bit samples at 8 kHz."""
    raw, law, pcm = folder / "raw.wav", folder / "law.wav", folder / "pcm.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-s", "120", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-e", "u-law", str(law)], check=True)
    subprocess.run(["sox", str(law), "-e", "signed-integer", "-b", "16", str(pcm)], check=True)
    with wave.open(str(pcm), "rb") as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")


def last_loud(samples: np.ndarray) -> int:
    """Index of the frame holding the last sample above 1 % of full scale."""
    loud = np.nonzero(np.abs(samples.astype(np.int32)) > 328)[0]
    return int(loud[-1]) // FRAME if len(loud) else 0


def header() -> bytes:
    import struct

    return struct.pack(
        "<4sI4s4sIHHIIHH4sI", b"RIFF", 36, b"WAVE", b"fmt ", 16, 1, 1, RATE, RATE * 2, 2, 16,
        b"data", 0,
    )  # fmt: skip


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_call(path: Path, clips: list[np.ndarray], ends: list[float]) -> None:
    """The PBX's side: 20 ms frames in real time, quiet first (the transcript opens meanwhile);
    ``ends[i]`` = wall time at which clip i's last loud frame was written."""
    quiet = np.zeros(int(QUIET_S * RATE), dtype="<i2")
    clips = [np.pad(c, (0, -len(c) % FRAME)) for c in clips]  # whole frames: exact marks
    audio = np.concatenate([quiet, *(np.concatenate([c, quiet]) for c in clips)])
    marks, at = set(), len(quiet) // FRAME
    for clip in clips:
        marks.add(at + last_loud(clip))
        at += (len(clip) + len(quiet)) // FRAME
    with path.open("ab", buffering=4096) as out:
        start = time.monotonic()
        for index in range(len(audio) // FRAME):
            out.write(audio[index * FRAME : (index + 1) * FRAME].tobytes())
            if index in marks:
                ends.append(time.time())
            delay = start + (index + 1) * 0.02 - time.monotonic()
            if delay > 0:
                time.sleep(delay)


async def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clips = [speech(folder, QUESTION.format(topic=t)) for t in TOPICS]
        kb = await KnowledgeBase.open(
            KnowledgeSettings(), url=f"sqlite+aiosqlite:///{folder / 'kb.sqlite3'}"
        )
        cases = await kb.load_generated(120)
        pool = SpeechPool(1, 1, transcripts_per_worker=1)
        runner = asyncio.create_task(pool.run())
        published: list[tuple[float, Suggestions]] = []
        try:
            async with asyncio.timeout(120):
                await pool.ready_event.wait()
            call = folder / "call.wav"
            call.write_bytes(header())

            async def search(text: str, language: str, limit: int) -> list[Any]:
                return await kb.search.search(text, language=language, limit=limit)

            assist = LiveAssist(
                transcriber=pool,
                search=search,
                vocabulary=lambda language: title_words(kb.storage, language),
                locate=lambda _call_id: call,
                publish=lambda s: published.append((time.time(), s)),
            )
            follow = asyncio.create_task(assist.run())
            assist.observe(AssistCall("bench.1", "c0001", "ko", talking=True, ended=False))
            ends: list[float] = []
            (worker,) = pool.pids()
            cpu_before, wall_before = cpu_s(worker), time.monotonic()
            writer = threading.Thread(target=write_call, args=(call, clips, ends))
            writer.start()
            await asyncio.to_thread(writer.join)
            worker_cpu = (cpu_s(worker) - cpu_before) / (time.monotonic() - wall_before)
            # The last utterance had QUIET_S of quiet after it: its suggestions are in by now,
            # or late beyond the target anyway.
            follow.cancel()
            await asyncio.gather(follow, return_exceptions=True)
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
            await kb.close()
    result = summarize(cases, ends, published)
    result["worker_cpu_s_per_audio_s"] = round(worker_cpu, 4)
    return result


def summarize(
    cases: int, ends: list[float], published: list[tuple[float, Suggestions]]
) -> dict[str, Any]:
    """Each utterance's first suggestions after its end (and before the next one's end)."""
    rows: list[dict[str, Any]] = []
    for index, (topic, end) in enumerate(zip(TOPICS, ends, strict=True)):
        limit = ends[index + 1] if index + 1 < len(ends) else float("inf")
        first = next(((at, s) for at, s in published if end - 0.5 <= at < limit), None)
        if first is None:
            rows.append({"topic": topic, "latency_s": None, "heard": None, "matched": False})
            continue
        at, found = first
        titles = [h.title for h in found.cases]
        rows.append(
            {
                "topic": topic,
                "latency_s": round(at - end, 3),
                "heard": found.heard,
                "top3": titles,
                "matched": any(topic in t for t in titles),
            }
        )
    latencies = sorted(r["latency_s"] for r in rows if r["latency_s"] is not None)
    return {
        "benchmark": "assist_latency",
        "cases": cases,
        "utterances": len(rows),
        "suggested": len(latencies),
        "matched": sum(1 for r in rows if r["matched"]),
        "latency_s": {
            "p50": latencies[len(latencies) // 2] if latencies else None,
            "max": latencies[-1] if latencies else None,
        },
        "target_s": TARGET_S,
        "target_met": bool(latencies) and latencies[-1] <= TARGET_S,
        "rows": rows,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "note": (
            "end of utterance = last loud 20 ms frame written to the growing WAV; latency to "
            "LiveAssist's publish (the CTI hub; the /ws push is not included)"
        ),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    result = asyncio.run(run())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    keys = ("suggested", "matched", "latency_s", "worker_cpu_s_per_audio_s")
    print(json.dumps({k: result[k] for k in keys}))


if __name__ == "__main__":
    main()
