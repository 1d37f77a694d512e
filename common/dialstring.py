"""Telephone numbers that may enter a dial string, a caller id or an AMI header.

Invariants:
- ``dialable_number`` returns a string of ASCII digits with at most one leading ``+``
  (2 to 20 digits) or None: nothing a caller controls (their caller id name or number, keys)
  reaches a dial string or an Originate header in any other shape.
- Visual separators a carrier may leave in a number (spaces, ``-``, ``.``, parentheses) are
  dropped; anything else (letters, ``@``, ``;``, ``&``, ``,``, ``|``, quotes, control
  characters, non-ASCII digits) makes the number undialable.
"""

from __future__ import annotations

import re

_NUMBER = re.compile(r"\+?[0-9]{2,20}")
_SEPARATORS = str.maketrans("", "", " -.()")


def dialable_number(raw: str | None) -> str | None:
    """The number to dial for ``raw`` (a caller id number, a typed number), or None."""
    if not raw:
        return None
    number = raw.strip().translate(_SEPARATORS)
    # re's [0-9] is ASCII only; fullmatch refuses a trailing newline that $ would allow.
    return number if _NUMBER.fullmatch(number) else None


def outside_channel(template: str, raw: str | None) -> str | None:
    """``template`` (e.g. ``PJSIP/outside/sip:{number}@gw``) for a dialable number, or None."""
    number = dialable_number(raw)
    return template.format(number=number) if number is not None else None
