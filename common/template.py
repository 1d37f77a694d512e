"""``{{name}}`` placeholders in a text, filled from keyword values; one definition for the tree.

Invariants:
- Only ``{{lower_snake_case}}`` is a placeholder; everything else (SIPp's ``[$var]``, ``$``,
  single braces, XML) passes through unchanged.
- Every placeholder must get a value: a missing one raises ``TemplateError`` naming it, and
  nothing is returned. Values are inserted with ``str()`` and are not scanned again.
"""

from __future__ import annotations

import re

_FIELD = re.compile(r"\{\{([a-z_]+)\}\}")


class TemplateError(ValueError):
    """A placeholder of the template has no value."""


def fill(template: str, **values: object) -> str:
    """``template`` with every ``{{name}}`` replaced by ``str(values[name])``."""

    def field(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise TemplateError(f"placeholder {{{{{name}}}}} has no value")
        return str(values[name])

    return _FIELD.sub(field, template)


def placeholders(template: str) -> frozenset[str]:
    """The names of the placeholders ``template`` uses."""
    return frozenset(_FIELD.findall(template))
