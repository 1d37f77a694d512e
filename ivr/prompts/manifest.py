"""The prompt manifest: prompt id -> text per language, and the espeak-ng voice per language.

Invariants:
- Every prompt exists in every language of the manifest (a missing one is a load error naming
  the prompt and the language), so the IVR can play any prompt in the caller's language.
- ``text`` is what a person reads (and what a real recording says); ``tts`` is what espeak-ng
  reads when the voice needs another script (tone-numbered pinyin for Chinese, kana for
  Japanese); without ``tts`` the text itself is spoken.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

SHIPPED_MANIFEST = "manifest.yaml"


class ManifestError(ValueError):
    """The prompt manifest is invalid; the message names the file, the prompt and the language."""


@dataclass(frozen=True)
class Voice:
    name: str
    speed: int
    needs_tts: bool


@dataclass(frozen=True)
class PromptText:
    text: str
    tts: str

    @property
    def spoken(self) -> str:
        return self.tts or self.text


@dataclass(frozen=True)
class PromptManifest:
    source: str
    languages: tuple[str, ...]
    voices: Mapping[str, Voice]
    prompts: Mapping[str, Mapping[str, PromptText]]

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self.prompts)

    def text(self, prompt_id: str, language: str) -> PromptText:
        return self.prompts[prompt_id][language]


class _VoiceIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    voice: str = Field(min_length=1)
    speed: int = Field(default=150, ge=80, le=400)
    needs_tts: bool = False


class _TextIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str = Field(min_length=1)
    tts: str = ""


class _ManifestIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    languages: tuple[str, ...] = Field(min_length=1)
    voices: dict[str, _VoiceIn]
    prompts: dict[str, dict[str, str | _TextIn]] = Field(min_length=1)


def _prompt_texts(
    where: str, raw: _ManifestIn, voices: Mapping[str, Voice]
) -> dict[str, dict[str, PromptText]]:
    prompts: dict[str, dict[str, PromptText]] = {}
    for prompt_id, per_language in raw.prompts.items():
        if not prompt_id.replace("_", "").isalnum() or not prompt_id.isascii():
            raise ManifestError(f"{where}: prompt {prompt_id!r}: ids are ASCII letters, digits, _")
        texts: dict[str, PromptText] = {}
        for language in raw.languages:
            value = per_language.get(language)
            if value is None:
                raise ManifestError(f"{where}: prompt {prompt_id!r} has no {language!r} text")
            item = (
                PromptText(value, "")
                if isinstance(value, str)
                else PromptText(value.text, value.tts)
            )
            if not item.text.strip():
                raise ManifestError(f"{where}: prompt {prompt_id!r}: {language!r} text is empty")
            if voices[language].needs_tts and not item.tts:
                raise ManifestError(
                    f"{where}: prompt {prompt_id!r}: {language!r} needs a 'tts' text for "
                    f"the {voices[language].name} voice"
                )
            texts[language] = item
        extra = set(per_language) - set(raw.languages)
        if extra:
            raise ManifestError(
                f"{where}: prompt {prompt_id!r}: languages not in the manifest: {sorted(extra)}"
            )
        prompts[prompt_id] = texts
    return prompts


def _manifest_problem(where: str, exc: ValidationError) -> ManifestError:
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return ManifestError(f"{where}: {problems}")


def load_manifest(path: Path | None = None) -> PromptManifest:
    """Load and check the manifest (the shipped ``ivr/prompts/manifest.yaml`` by default)."""
    if path is None:
        where = f"ivr/prompts/{SHIPPED_MANIFEST}"
        text = resources.files("ivr.prompts").joinpath(SHIPPED_MANIFEST).read_text("utf-8")
    else:
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise ManifestError(f"{path}: no such file") from exc
    try:
        raw = _ManifestIn.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValueError) as exc:  # includes pydantic's ValidationError below
        if isinstance(exc, ValidationError):
            raise _manifest_problem(where, exc) from exc
        raise ManifestError(f"{where}: not valid YAML: {exc}") from exc
    missing = [lang for lang in raw.languages if lang not in raw.voices]
    if missing:
        raise ManifestError(f"{where}: no voice for language(s) {', '.join(missing)}")
    voices = {
        lang: Voice(v.voice, v.speed, v.needs_tts)
        for lang, v in raw.voices.items()
        if lang in raw.languages
    }
    return PromptManifest(where, raw.languages, voices, _prompt_texts(where, raw, voices))
