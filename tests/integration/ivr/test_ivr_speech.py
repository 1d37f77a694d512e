"""Korean speech through the real PBX (issue 11): on the speech menu a caller streaming a
steady tone gets no input at the node's timeout (never a recording to some maximum), and a
caller saying a menu word (espeak-ng Korean, through G.711) is recognized and the recording
stops at the recognizer's end of utterance, before the timeout.

Timings come from the journey in the call log (when the menu was entered and answered). The
PBX's own AGIExecStart/AGIExecEnd events used to time RECORD FILE as well, but they are in the
AMI class `agi`, which the engine's AMI user no longer reads (least privilege, issue 13)."""

from __future__ import annotations

import asyncio
import subprocess
import wave
from pathlib import Path
from typing import Any

import pytest
import yaml

from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, run_citizens
from ivr.wiring import speech_dir
from tests.integration.ivr.conftest import ALWAYS_OPEN, hours_env
from tests.integration.support import (
    REPO,
    AmiRecorder,
    EngineProcess,
    ItEnv,
    citizen_uniqueid,
    dasan_json,
)

NODE = "main_menu"
WORD_CLIP = REPO / "tests" / "fixtures" / "speech" / "main_menu-03-8000.wav"  # 버스
WORD = "버스"
TONE_CALLER, WORD_CALLER = "0104000101", "0104000102"


# The shipped menu listens 2 s (its 20 s budget for a silent caller); a spoken word and the
# recognizer's end of utterance take longer than that, so this test gives the speech menu a
# window long enough to show listening end at the utterance, well before the timeout.
SPEECH_WINDOW_MS = 6000
MENU_COPY = "speech-menu.yaml"


@pytest.fixture(scope="module")
def engine_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("speech-menu")
    menu = yaml.safe_load((REPO / "ivr" / "menus" / "dasan120.yaml").read_text(encoding="utf-8"))
    menu["nodes"][NODE]["timeout_ms"] = SPEECH_WINDOW_MS
    (folder / MENU_COPY).write_text(yaml.safe_dump(menu, allow_unicode=True), encoding="utf-8")
    env = hours_env(tmp_path_factory.mktemp("hours"), ALWAYS_OPEN)
    return {**env, "DASAN_IVR__MENU_FILE": str(folder / MENU_COPY)}


def node_timeout_s() -> float:
    menu = yaml.safe_load((REPO / "ivr" / "menus" / "dasan120.yaml").read_text(encoding="utf-8"))
    assert menu["nodes"][NODE].get("speech") is True
    return SPEECH_WINDOW_MS / 1000


def prompt_s(prompt: str) -> float:
    with wave.open(str(REPO / "var" / "prompts" / "ko" / f"{prompt}.wav"), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def ulaw(folder: Path, name: str, *sox_input: str, effects: tuple[str, ...] = ()) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{name}-ulaw.wav"
    cmd = ["sox", *sox_input, "-r", "8000", "-c", "1", "-e", "u-law", str(out), *effects]
    subprocess.run(cmd, check=True, capture_output=True)
    return out


def first_answer(call: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """The first answer at the speech node and the seconds from entering it, prompt excluded."""
    entries = call["journey"]["entries"]
    enter = next(e for e in entries if e["node"] == NODE and e["event"] == "enter")
    answer = next(
        e for e in entries if e["node"] == NODE and e["t_ms"] >= enter["t_ms"] and e is not enter
    )
    return answer, (answer["t_ms"] - enter["t_ms"]) / 1000 - prompt_s(NODE)


@pytest.mark.timeout(300)
async def test_a_tone_is_no_input_at_the_node_timeout_and_a_word_ends_listening(
    engine: EngineProcess,
    consultants: ConsultantUas,
    recorder: AmiRecorder,
    sipp_dir: Path,
    it_env: ItEnv,
) -> None:
    timeout_s = node_timeout_s()
    media = sipp_dir / "media"
    tone = ulaw(media, "tone", "-n", effects=("synth", "30", "sine", "440", "vol", "0.5"))
    word = ulaw(media, "word", str(WORD_CLIP), effects=("pad", "0.3", "2.0"))
    # "1" (Korean) during the greeting; the tone caller presses "1" again once the speech
    # node has had its time, so the call reaches a consultant and its journey is logged.
    listening_done_ms = int((prompt_s("recorded_notice") + prompt_s(NODE) + timeout_s + 3) * 1000)
    calls = [
        CitizenCalls(
            caller=TONE_CALLER,
            digits=(Dtmf("1", 1500), Dtmf("1", listening_done_ms)),
            audio=tone,
            hangup_after_ms=90_000,
        ),
        CitizenCalls(
            caller=WORD_CALLER,
            digits=(Dtmf("1", 1500), Dtmf("1", listening_done_ms)),
            audio=word,
            hangup_after_ms=90_000,
        ),
    ]
    results = await asyncio.gather(
        *(run_citizens(spec, sipp_dir / f"uac-{spec.caller}") for spec in calls)
    )
    assert all(r.ok for r in results), [r.errors for r in results]
    log = {c["id"]: c for c in dasan_json(it_env, "calls", "--last", "50")}

    tone_id = citizen_uniqueid(recorder, TONE_CALLER)
    tone_answer, tone_listened_s = first_answer(log[tone_id])
    word_id = citizen_uniqueid(recorder, WORD_CALLER)
    word_answer, word_listened_s = first_answer(log[word_id])
    print(  # shown with -rP: the timings behind the assertions
        f"node timeout {timeout_s} s; tone: journey {tone_listened_s:.2f} s after the prompt; "
        f"word: journey {word_listened_s:.2f} s, heard {word_answer.get('value')!r}"
    )

    assert tone_answer["event"] == "no_input", log[tone_id]["journey"]
    assert timeout_s - 0.5 <= tone_listened_s <= timeout_s + 2.0, tone_listened_s

    assert (word_answer["event"], word_answer.get("value")) == ("speech", WORD), log[word_id]
    assert word_listened_s < timeout_s - 1.0, word_listened_s

    # Every recording the speech node made was deleted once recognized.
    assert not any(speech_dir(it_env.settings).glob("*.wav*"))
