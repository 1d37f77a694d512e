"""Prompt builder: formats, incremental rebuilds, operator recordings, stale files, checks."""

from __future__ import annotations

import json
import subprocess
import wave
from pathlib import Path

import pytest

from ivr.prompts.build import Source, Status, build_prompts, check_prompts
from ivr.prompts.manifest import ManifestError, PromptManifest, load_manifest

MANIFEST = """
languages: [ko, en]
voices:
  ko: {voice: ko, speed: 170}
  en: {voice: en-us, speed: 200}
prompts:
  hello:
    ko: 안녕하세요
    en: Hello
  bye:
    ko: 안녕히 가세요
    en: Goodbye
"""


def write_manifest(folder: Path, text: str = MANIFEST) -> PromptManifest:
    path = folder / "manifest.yaml"
    path.write_text(text, encoding="utf-8")
    return load_manifest(path)


def wav_shape(path: Path) -> tuple[int, int, int]:
    with wave.open(str(path), "rb") as wav:
        assert wav.getnframes() > 0
        return wav.getframerate(), wav.getnchannels(), wav.getsampwidth()


def test_build_writes_8k_and_16k_files_and_is_incremental(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path)
    out = tmp_path / "prompts"
    seen: list[str] = []
    report = build_prompts(manifest, out, None, jobs=2, progress=lambda r: seen.append(r.job.name))
    assert report.ok and report.count(Status.BUILT) == 4
    assert sorted(seen) == ["en/bye", "en/hello", "ko/bye", "ko/hello"]
    assert wav_shape(out / "ko" / "hello.wav") == (8000, 1, 2)
    assert wav_shape(out / "ko" / "hello.wav16") == (16000, 1, 2)
    recorded = json.loads((out / "prompts.json").read_text(encoding="utf-8"))
    assert recorded["prompts"]["en/bye"]["files"] == ["en/bye.wav", "en/bye.wav16"]
    assert check_prompts(manifest, out) == []

    again = build_prompts(manifest, out, None)
    assert again.count(Status.SKIPPED) == 4 and again.count(Status.BUILT) == 0

    changed = write_manifest(tmp_path, MANIFEST.replace("en: Goodbye", "en: See you"))
    assert check_prompts(changed, out) == ["en/bye: out of date (espeak changed)"]
    third = build_prompts(changed, out, None)
    assert [r.job.name for r in third.results if r.status is Status.BUILT] == ["en/bye"]
    assert build_prompts(changed, out, None, force=True).count(Status.BUILT) == 4


def test_operator_recording_wins(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path)
    out, override = tmp_path / "prompts", tmp_path / "override"
    build_prompts(manifest, out, override)
    (override / "en").mkdir(parents=True)
    recording = override / "en" / "hello.wav"
    subprocess.run(
        ["sox", "-n", "-r", "44100", "-c", "2", str(recording), "synth", "0.3", "sine", "440"],
        check=True,
    )
    assert check_prompts(manifest, out, override) == ["en/hello: out of date (override changed)"]
    report = build_prompts(manifest, out, override)
    built = [r for r in report.results if r.status is Status.BUILT]
    assert [(r.job.name, r.job.source) for r in built] == [("en/hello", Source.OVERRIDE)]
    assert report.to_json()["overrides"] == 1
    assert wav_shape(out / "en" / "hello.wav") == (8000, 1, 2)
    with wave.open(str(out / "en" / "hello.wav16"), "rb") as wav:
        assert abs(wav.getnframes() - 0.3 * 16000) < 400
    assert check_prompts(manifest, out, override) == []


def test_prompts_removed_from_the_manifest_are_deleted(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path)
    out = tmp_path / "prompts"
    build_prompts(manifest, out, None)
    (out / "ko" / "keep.wav").write_bytes(b"not ours")
    smaller = write_manifest(tmp_path, MANIFEST.split("  bye:", maxsplit=1)[0])
    report = build_prompts(smaller, out, None)
    assert report.removed == ("en/bye", "ko/bye")
    assert not (out / "ko" / "bye.wav").exists() and not (out / "ko" / "bye.wav16").exists()
    assert (out / "ko" / "keep.wav").exists()  # only files the builder wrote are deleted


def test_failures_are_reported_and_nothing_half_written(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, MANIFEST.replace("voice: en-us", "voice: xyzzy"))
    out = tmp_path / "prompts"
    report = build_prompts(manifest, out, None)
    assert not report.ok and report.count(Status.FAILED) == 2
    assert "espeak-ng exited" in report.to_json()["errors"]["en/hello"]
    assert sorted(p.name for p in (out / "en").iterdir()) == []
    assert "en/hello: not built" in check_prompts(manifest, out)


def test_check_finds_broken_files(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path)
    out = tmp_path / "prompts"
    build_prompts(manifest, out, None)
    (out / "ko" / "bye.wav16").write_bytes(b"RIFF....")
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "16000",
            "-c",
            "1",
            "-b",
            "16",
            str(out / "ko" / "hello.wav"),
            "synth",
            "0.1",
            "sine",
            "300",
        ],
        check=True,
    )
    problems = check_prompts(manifest, out)
    assert "ko/bye: bye.wav16 is not a readable WAV file" in " ".join(problems)
    assert "ko/hello: hello.wav is not 8000 Hz 16-bit mono" in problems


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("    en: Goodbye\n", ""), "prompt 'bye' has no 'en' text"),
        (
            ("    en: Hello\n", "    en: Hello\n    fr: Bonjour\n"),
            "languages not in the manifest: ['fr']",
        ),
        (("  en: {voice: en-us, speed: 200}\n", ""), "no voice for language(s) en"),
        (("  hello:", "  hé llo:"), "ids are ASCII letters, digits, _"),
        (
            ("voice: ko, speed: 170", "voice: ko, speed: 170, needs_tts: true"),
            "'ko' needs a 'tts' text",
        ),
        (("languages: [ko, en]", "languages: [ko, en"), "not valid YAML"),
    ],
)
def test_manifest_errors_name_the_prompt(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    with pytest.raises(ManifestError) as info:
        write_manifest(tmp_path, MANIFEST.replace(*edit))
    assert str(tmp_path / "manifest.yaml") in str(info.value)
    assert message in str(info.value)
