"""SIPp scenarios of a load run, rendered from ``dasan/load/templates/``.

Invariants:
- Every ``{{name}}`` placeholder of a template gets a value (else ``SippError``); SIPp's own
  ``[...]`` keywords are left alone.
- A distribution becomes ``profile.bins`` equally likely fixed timeouts picked per call by
  chained ``chance`` branches (``branch_chances``); the last branch is unconditional, so every
  call takes exactly one.
- The citizen's own BYE uses a CSeq above every INFO it sent for DTMF.
"""

from __future__ import annotations

from pathlib import Path

from dasan.load.distributions import Distribution, branch_chances, quantile_bins
from dasan.load.profile import CallType, Profile
from dasan.sipp import Dtmf, fill_scenario, render_dtmf_steps

TEMPLATES = Path(__file__).resolve().parent / "templates"
CALLER_PREFIX = "0107"


def _template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _branches(prefix: str, probabilities: list[float], last_unconditional: bool) -> str:
    lines = []
    chances = branch_chances(probabilities)
    for i, chance in enumerate(chances):
        if last_unconditional and i == len(chances) - 1:
            lines.append(f'  <nop next="{prefix}_{i}"/>')
        else:
            lines.append(f'  <nop next="{prefix}_{i}" chance="{chance:.6f}"/>')
    return "\n".join(lines)


def _waits(prefix: str, timeouts_s: tuple[float, ...]) -> str:
    return "\n".join(
        f'  <label id="{prefix}_{i}"/>\n'
        f'  <recv request="BYE" timeout="{_ms(t)}" ontimeout="hangup" next="bye"/>'
        for i, t in enumerate(timeouts_s)
    )


def talk_bins(profile: Profile) -> tuple[float, ...]:
    return quantile_bins(profile.talk_s, profile.bins)


def render_consultants(profile: Profile, audio: Path) -> str:
    bins = talk_bins(profile)
    return fill_scenario(
        _template("consultants.xml"),
        ring_ms=_ms(profile.ring_s) if profile.ring_s > 0 else 1,
        audio=audio,
        talk_branches=_branches("talk", [1 / len(bins)] * len(bins), last_unconditional=True),
        talk_waits=_waits("talk", bins),
    )


def caller_prefix(index: int) -> str:
    """Caller numbers of one UAC: ``0107`` + four digits of ``index`` + SIPp's call number."""
    if not 0 <= index <= 9999:
        raise ValueError(f"caller index out of range: {index}")
    return f"{CALLER_PREFIX}{index:04d}"


def render_citizen(profile: Profile, call_type: CallType, index: int, audio: Path) -> str:
    caller = caller_prefix(index)
    digits = tuple(Dtmf(k.digit, _ms(k.after_s)) for k in call_type.keys)
    patience: Distribution = profile.abandon.patience_s
    share = profile.abandon.share
    bins = quantile_bins(patience, profile.bins) if share > 0 else ()
    return fill_scenario(
        _template("citizen.xml"),
        call_type=call_type.name,
        service=profile.service,
        caller=caller,
        audio=audio,
        dtmf_steps=render_dtmf_steps(
            digits, call_type.dtmf or profile.dtmf, profile.service, caller
        ),
        patience_branches=_branches("patience", [share / len(bins)] * len(bins), False)
        if bins
        else "",
        patience_waits=_waits("patience", bins),
        timeout_ms=_ms(profile.citizen_timeout_s),
        bye_cseq=len(digits) + 2,
    )
