"""Domain model of the ACD: languages, services, consultants and waiting calls.

Invariants:
- Language codes are ISO 639-1 and limited to :class:`Language` (ko, en, zh, ja, vi, mn).
- A proficiency is an integer 1..5; a consultant's ``skills`` map service ids to proficiencies.
- Every value here is immutable (frozen dataclasses, tuples, frozensets, read-only mappings),
  so the routing core can share them freely and a decision can be replayed from them.
- A service's overflow stages are sorted by ``after_s``; the first one opens at 0 s. A stage
  with ``with_interpreter`` matches Korean speakers and the offer carries the call's language,
  so an interpreter joins; otherwise the call's language is a hard constraint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, IntEnum, StrEnum
from types import MappingProxyType


class Language(StrEnum):
    KO = "ko"
    EN = "en"
    ZH = "zh"
    JA = "ja"
    VI = "vi"
    MN = "mn"


# Interpreters are asked for by kind: a spoken language's code, or SIGN_INTERPRETER for the
# Korean Sign Language pool (a video interpreter; not a Language: codes stay ISO 639-1).
SIGN_INTERPRETER = "sign"


def interpreter_service(kind: str) -> str:
    """The ACD service of an interpreter pool: ``interp_<language>`` or ``interp_sign``."""
    return f"interp_{kind}"


class ConsultantState(Enum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    RINGING = "ringing"  # offered a call (or reserved while the citizen is called back)
    TALKING = "talking"
    WRAP_UP = "wrap_up"
    NOT_READY = "not_ready"


class CallStatus(Enum):
    WAITING = "waiting"  # in a queue; the caller is on the line (or on virtual hold)
    OFFERED = "offered"  # a consultant is ringing (or the citizen is being called back)
    CONNECTED = "connected"  # consultant answered; the call leaves the core when it ends


class Priority(IntEnum):
    """Strict tiers: a higher tier is always served before a lower one."""

    NORMAL = 0
    CALLBACK = 1  # a callback retried after a failed attempt
    SAFETY_RETURN = 2  # an elderly citizen returning a missed safety call


# Not-ready reason codes the core itself uses; drivers may pass any other non-empty code.
NO_ANSWER = "no answer"
LOGIN_NOT_READY = "login"
# Not registered with the PBX (REGISTER-only consultants): never offered a call meanwhile.
UNREGISTERED = "unregistered"

PROFICIENCY_MIN = 1
PROFICIENCY_MAX = 5


@dataclass(frozen=True, slots=True)
class ServiceLevelTarget:
    """E.g. 80 % of calls answered within 20 s."""

    fraction: float
    within_s: float


@dataclass(frozen=True, slots=True)
class OverflowStage:
    """Consultants eligible once a call has waited ``after_s`` seconds.

    ``via_service`` None means the call's own service; otherwise the consultant's proficiency in
    that other service is what counts (e.g. Korean generalists taking a specialty's overflow).
    """

    after_s: float
    min_proficiency: int = PROFICIENCY_MIN
    via_service: str | None = None
    with_interpreter: bool = False
    # Also open at once while no consultant holding the call's own service skill (in the
    # call's language) is staffed: a district with nobody logged in sends its calls to the city.
    when_unstaffed: bool = False


@dataclass(frozen=True, slots=True)
class Service:
    """A queue. ``languages``: languages a call of this service may have. ``staff_languages``:
    languages every consultant holding this skill must also speak (ko for interpreters)."""

    id: str
    name: str
    languages: frozenset[Language]
    target: ServiceLevelTarget
    wrap_up_s: float
    handle_s: float  # expected handle time, used for wait estimates
    stages: tuple[OverflowStage, ...]
    staff_languages: frozenset[Language] = frozenset()


@dataclass(frozen=True, slots=True)
class Shift:
    """A working pattern: start time of day, length, meal break, and working weekdays."""

    start_s: float  # seconds after midnight
    hours: float
    days: frozenset[str]  # mon..sun
    meal_after_h: float | None = None  # meal break starts this many hours into the shift
    meal_minutes: float = 60.0


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _readonly(skills: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(skills))


@dataclass(frozen=True, slots=True)
class Consultant:
    id: str
    languages: frozenset[Language]
    skills: Mapping[str, int] = field(hash=False)
    team: str = "general"
    shift: Shift | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "skills", _readonly(self.skills))

    def __deepcopy__(self, memo: dict[int, object]) -> Consultant:
        return self  # immutable: a snapshot of the core's state shares its consultants

    def __reduce__(self) -> tuple[type[Consultant], tuple[object, ...]]:
        return (Consultant, (self.id, self.languages, dict(self.skills), self.team, self.shift))

    def proficiency(self, service: str) -> int:
        """0 when the consultant lacks the skill."""
        return self.skills.get(service, 0)

    def primary_skill(self) -> str | None:
        """The service with the highest proficiency (ties: alphabetical), for team reports."""
        if not self.skills:
            return None
        return min(self.skills, key=lambda s: (-self.skills[s], s))


@dataclass(frozen=True, slots=True)
class WaitingCall:
    """A call as the core holds it while it waits or rings.

    ``seq`` is the arrival order inside the core and breaks ties between equal enqueue times,
    so first come first served holds among equals. ``callback_number`` is set when the caller
    chose virtual hold: the call keeps its place and its offer starts by calling them back.
    """

    call_id: str
    language: Language
    service: str
    priority: Priority
    enqueued_at: float
    seq: int
    tags: frozenset[str] = frozenset()
    callback_number: str | None = None
