"""A small reader of Asterisk configuration files for the audit (no I/O in the parser).

Invariants:
- ``parse`` turns text into sections in file order; ``#include`` lines are resolved by the
  caller's ``include`` function (text of the included files, already parsed recursively), so
  the same reader serves the checkout, the generated files held in memory and seeded copies.
- ``[name](!)`` is a template, ``[name](a,b)`` inherits a and b (their items come first);
  ``key => value`` and ``key = value`` are the same item. Comments start with ``;``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


@dataclass
class Section:
    name: str
    template: bool = False
    parents: tuple[str, ...] = ()
    items: list[tuple[str, str]] = field(default_factory=list)

    def get(self, key: str, default: str | None = None) -> str | None:
        values = self.all(key)
        return values[-1] if values else default

    def all(self, key: str) -> list[str]:
        return [v for k, v in self.items if k == key]


Include = Callable[[str], list[str]]


def parse(text: str, include: Include | None = None) -> list[Section]:
    sections: list[Section] = []
    current = Section("")
    for raw in _lines(text, include):
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            current = _header(line)
            sections.append(current)
            continue
        key, sep, value = line.partition("=")
        if not sep:
            continue
        current.items.append((key.strip(), value.lstrip(">").strip()))
    return inherit(sections)


def _lines(text: str, include: Include | None) -> Iterator[str]:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#include") or stripped.startswith("#tryinclude"):
            target = stripped.split(None, 1)[1].strip().strip('"<>') if " " in stripped else ""
            for included in include(target) if include and target else []:
                yield from _lines(included, include)
        else:
            yield line


def _header(line: str) -> Section:
    name, _, rest = line[1:].partition("]")
    options = rest.strip()
    parents: tuple[str, ...] = ()
    template = False
    if options.startswith("(") and options.endswith(")"):
        for option in (o.strip() for o in options[1:-1].split(",")):
            if option == "!":
                template = True
            elif option and option != "+":
                parents += (option,)
    return Section(name.strip(), template, parents)


def inherit(sections: list[Section]) -> list[Section]:
    """Each section's items preceded by its parents' (the first section of that name)."""
    by_name: dict[str, Section] = {}
    for section in sections:
        by_name.setdefault(section.name, section)
    out = []
    for section in sections:
        items: list[tuple[str, str]] = []
        for parent in section.parents:
            if parent in by_name:
                items.extend(by_name[parent].items)
        out.append(Section(section.name, section.template, section.parents, items + section.items))
    return out


def typed(sections: list[Section], kind: str) -> list[Section]:
    """Concrete (non-template) sections of ``type = kind`` (pjsip.conf)."""
    return [s for s in sections if not s.template and s.get("type") == kind]
