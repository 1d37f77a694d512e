"""Semantic checks of a parsed menu: every problem names the node and what is wrong.

Invariants:
- Validation is pure: it takes the menu and the names it may refer to (prompt ids, service
  hours ids, routing targets) and returns every problem found, in node order; it never stops
  at the first one, so an operator fixes a file in one pass.
- A menu without problems cannot loop without input (every cycle passes a collect node), has
  no unreachable node, and can only hand calls to known targets.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

from ivr.menu.spec import (
    BranchNode,
    CollectNode,
    EndNode,
    MenuSpec,
    Node,
    PlayNode,
    RouteNode,
    SetNode,
    parse_prompt_ref,
)
from ivr.targets import (
    LANGUAGES,
    PRIORITY_MAX,
    PRIORITY_MIN,
    TAG_FALLBACK,
    TAG_LANGUAGE,
    TAG_PRIORITY,
    TAG_SERVICE,
)

_DTMF = frozenset("0123456789*#")
MENU_LEVEL = "(menu)"


@dataclass(frozen=True)
class Problem:
    node: str
    message: str

    def __str__(self) -> str:
        where = "menu" if self.node == MENU_LEVEL else f"node {self.node!r}"
        return f"{where}: {self.message}"


class MenuError(ValueError):
    """A menu file is invalid; ``problems`` lists every error with its node."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {source}: {p}" for p in problems)
        super().__init__(f"{source}: invalid menu ({len(problems)} problem(s)):\n{lines}")


@dataclass(frozen=True)
class Names:
    """What a menu may refer to."""

    prompts: Collection[str]
    hours: Collection[str]
    targets: Collection[str]
    languages: Collection[str] = LANGUAGES


def successors(node: Node) -> Iterator[tuple[str, str]]:
    """(field, node id) for every node this node can go to."""
    if isinstance(node, PlayNode | SetNode):
        yield "next", node.next
    elif isinstance(node, CollectNode):
        for i, option in enumerate(node.options):
            yield f"options.{i}.next", option.next
        if node.on_no_input is not None:
            yield "on_no_input.next", node.on_no_input.next
    elif isinstance(node, BranchNode):
        for value, target in node.cases.items():
            yield f"cases.{value}", target
        for name in ("default", "open", "closed"):
            target = getattr(node, name)
            if target is not None:
                yield name, target


def validate_menu(menu: MenuSpec, names: Names) -> list[Problem]:
    problems: list[Problem] = []
    if menu.start not in menu.nodes:
        problems.append(Problem(MENU_LEVEL, f"start node {menu.start!r} does not exist"))
    problems += [
        Problem(MENU_LEVEL, f"entries.{entry}: unknown node {node!r}")
        for entry, node in menu.entries.items()
        if node not in menu.nodes
    ]
    problems += _check_defaults(menu, names)
    problems += _check_budgets(menu, names)
    for node_id, node in menu.nodes.items():
        problems += [Problem(node_id, m) for m in _check_node(menu, node, names)]
    problems += _check_reachable(menu)
    problems += _check_cycles(menu)
    return problems


def _check_defaults(menu: MenuSpec, names: Names) -> list[Problem]:
    d = menu.defaults
    messages = [
        *_check_prompts("defaults", (*d.invalid_prompts, *d.no_input_prompts), names),
        *_check_prompts("defaults", (*d.fallback_prompts, *d.confirm.before), names),
        *_check_prompts("defaults", d.confirm.after, names),
    ]
    if d.fallback_target not in names.targets:
        messages.append(f"defaults.fallback_target {d.fallback_target!r} is not a known target")
    if d.confirm.yes_digit == d.confirm.no_digit:
        messages.append("defaults.confirm: yes_digit and no_digit are the same")
    if set(d.confirm.yes_words) & set(d.confirm.no_words):
        messages.append("defaults.confirm: a word is both a yes and a no word")
    return [Problem(MENU_LEVEL, m) for m in messages]


def _check_budgets(menu: MenuSpec, names: Names) -> list[Problem]:
    b = menu.budgets
    messages = list(_check_prompts("budgets.notice_prompts", b.notice_prompts, names))
    for language, keys in b.expert_keys.items():
        if language not in names.languages:
            messages.append(f"budgets.expert_keys: unknown language {language!r}")
        if not keys or any(k not in "0123456789*#" for k in keys):
            messages.append(f"budgets.expert_keys.{language}: {keys!r} is not DTMF keys")
    return [Problem(MENU_LEVEL, m) for m in messages]


def _check_prompts(field: str, refs: Collection[str], names: Names) -> Iterator[str]:
    for ref in refs:
        prompt_id, language = parse_prompt_ref(ref)
        if prompt_id not in names.prompts:
            yield f"{field}: prompt {prompt_id!r} is missing from the prompt manifest"
        if language is not None and language not in names.languages:
            yield f"{field}: prompt {ref!r} names unknown language {language!r}"


def _check_tags(field: str, tags: dict[str, str], names: Names) -> Iterator[str]:
    for key, value in tags.items():
        if key == TAG_LANGUAGE and value not in names.languages:
            yield f"{field}: language {value!r} is not one of {', '.join(names.languages)}"
        elif key == TAG_SERVICE and value not in names.targets:
            yield f"{field}: service {value!r} is not a known routing target"
        elif key == TAG_PRIORITY and not (
            value.isdigit() and PRIORITY_MIN <= int(value) <= PRIORITY_MAX
        ):
            yield f"{field}: priority {value!r} is not an integer {PRIORITY_MIN}..{PRIORITY_MAX}"
        elif key == TAG_FALLBACK:
            yield f"{field}: tag {TAG_FALLBACK!r} is reserved for the IVR"


def _check_node(menu: MenuSpec, node: Node, names: Names) -> list[str]:
    messages = [
        f"{field}: unknown node {target!r}"
        for field, target in successors(node)
        if target not in menu.nodes
    ]
    if isinstance(node, PlayNode | EndNode):
        messages += _check_prompts("prompts", node.prompts, names)
    elif isinstance(node, SetNode):
        messages += _check_tags("tags", node.tags, names)
    elif isinstance(node, RouteNode):
        messages += _check_prompts("prompts", node.prompts, names)
        messages += _check_tags("tags", node.tags, names)
        if node.target not in names.targets:
            messages.append(f"target {node.target!r} is not a known routing target")
    elif isinstance(node, BranchNode):
        messages += _check_branch(node, names)
    elif isinstance(node, CollectNode):
        messages += _check_collect(node, names)
    return messages


def _check_branch(node: BranchNode, names: Names) -> list[str]:
    on_tag = node.tag is not None or bool(node.cases) or node.default is not None
    on_hours = node.hours is not None or node.open is not None or node.closed is not None
    if on_tag == on_hours:
        return ["a branch needs either tag/cases/default or hours/open/closed (exactly one)"]
    if on_hours:
        messages = [
            f"{name} is missing" for name in ("hours", "open", "closed") if not getattr(node, name)
        ]
        if node.hours and node.hours not in names.hours:
            messages.append(f"hours {node.hours!r} is not a service in the service-hours data")
        return messages
    messages = [f"{name} is missing" for name in ("tag", "default") if not getattr(node, name)]
    if not node.cases:
        messages.append("cases is empty")
    if node.tag == TAG_LANGUAGE:
        messages += [
            f"cases: {value!r} is not a language ({', '.join(names.languages)})"
            for value in node.cases
            if value not in names.languages
        ]
    return messages


def _check_collect(node: CollectNode, names: Names) -> list[str]:
    messages = list(_check_prompts("prompts", node.prompts, names))
    longest = max(len(option.digit) for option in node.options)
    if node.max_digits is not None and longest > node.max_digits:
        messages.append(f"an option has {longest} digits but max_digits is {node.max_digits}")
    seen_digits: set[str] = set()
    seen_words: set[str] = set()
    for i, option in enumerate(node.options):
        field = f"options.{i}"
        if not set(option.digit) <= _DTMF:
            messages.append(f"{field}: digit {option.digit!r} is not made of 0-9, * and #")
        if option.digit in seen_digits:
            messages.append(f"{field}: digit {option.digit!r} is used by another option")
        seen_digits.add(option.digit)
        for word in option.words:
            if word in seen_words:
                messages.append(f"{field}: word {word!r} is used by another option")
            seen_words.add(word)
        if option.label is not None:
            messages += _check_prompts(f"{field}.label", (option.label,), names)
        elif node.speech and option.words:
            messages.append(f"{field}: an option with words needs a label to confirm it")
        messages += _check_tags(f"{field}.set", option.set, names)
    if node.speech and not seen_words:
        messages.append("speech is on but no option has words")
    if node.on_no_input is not None:
        messages += _check_tags("on_no_input.set", node.on_no_input.set, names)
    return messages


def _check_reachable(menu: MenuSpec) -> list[Problem]:
    if menu.start not in menu.nodes:
        return []
    roots = [menu.start, *(n for n in menu.entries.values() if n in menu.nodes)]
    seen = set(roots)
    todo = list(roots)
    while todo:
        for _, target in successors(menu.nodes[todo.pop()]):
            if target in menu.nodes and target not in seen:
                seen.add(target)
                todo.append(target)
    return [
        Problem(node_id, f"unreachable from the start node {menu.start!r} or an entry")
        for node_id in menu.nodes
        if node_id not in seen
    ]


def _check_cycles(menu: MenuSpec) -> list[Problem]:
    """Report each cycle made only of nodes that take no input (it would loop forever)."""

    def edges(node_id: str) -> list[str]:
        node = menu.nodes[node_id]
        if isinstance(node, CollectNode):
            return []
        return [t for _, t in successors(node) if t in menu.nodes]

    problems: list[Problem] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    for root in menu.nodes:
        if root in state:
            continue
        path: list[str] = []
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(edges(root)))]
        state[root] = 1
        path.append(root)
        while stack:
            node_id, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node_id] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                loop = [*path[path.index(child) :], child]
                problems.append(Problem(child, f"cycle with no input: {' -> '.join(loop)}"))
            elif child not in state:
                state[child] = 1
                path.append(child)
                stack.append((child, iter(edges(child))))
    return problems
