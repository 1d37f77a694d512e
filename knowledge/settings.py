"""Settings of the knowledge area (the ``knowledge`` slice of Dasan's settings)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class KnowledgeSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # How many cases the screen pop shows for the IVR journey.
    screen_pop_cases: int = Field(default=5, ge=0, le=20)
    # Live suggestions (agent assist): during a call in one of these languages the speech
    # workers transcribe the conversation and the desktop shows the best ``assist_cases``
    # cases for each utterance. Empty: off. Transcripts per speech worker: ivr.speech_workers x
    # assist_transcripts_per_worker calls at once (the rest get no suggestions).
    assist_languages: tuple[str, ...] = ("ko",)
    assist_cases: int = Field(default=3, ge=1, le=10)
    assist_transcripts_per_worker: int = Field(default=4, ge=0, le=64)
    # After-call work: a consultant must record a disposition code and a note before wrap-up
    # ends (the "wrap-up done" request is refused until then).
    require_note: bool = False
    # Dispositions (code -> label); None: the shipped list (knowledge/data/dispositions.yaml).
    dispositions: dict[str, str] | None = None
    # Longest after-call note, in characters.
    note_max_chars: int = Field(default=4000, ge=100, le=100_000)
