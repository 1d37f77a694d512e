"""Menu validation: every problem names the file, the node and what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ivr.hours import ServiceHours
from ivr.menu.loader import Menu, build_menu, load_menu
from ivr.menu.validate import MenuError
from ivr.prompts.manifest import PromptManifest

FIXTURE = Path(__file__).parents[2] / "fixtures" / "menus" / "minimal.yaml"
SOURCE = "menus/test.yaml"


def minimal() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
    return data


def build(data: dict[str, Any], manifest: PromptManifest, hours: ServiceHours) -> Menu:
    text = yaml.safe_dump(data, allow_unicode=True)
    return build_menu(text, SOURCE, manifest, hours)


def problems_of(data: dict[str, Any], manifest: PromptManifest, hours: ServiceHours) -> str:
    with pytest.raises(MenuError) as info:
        build(data, manifest, hours)
    assert info.value.source == SOURCE
    assert str(info.value).startswith(f"{SOURCE}: invalid menu")
    return str(info.value)


def test_the_fixture_and_the_shipped_menu_are_valid(
    manifest: PromptManifest, hours: ServiceHours, menu: Menu
) -> None:
    assert build(minimal(), manifest, hours).id == "minimal"
    assert menu.id == "dasan120"
    assert menu.source == "ivr/menus/dasan120.yaml"


def test_unknown_node_reference(manifest: PromptManifest, hours: ServiceHours) -> None:
    data = minimal()
    data["nodes"]["hello"]["next"] = "nowhere"
    text = problems_of(data, manifest, hours)
    assert "node 'hello': next: unknown node 'nowhere'" in text


def test_unknown_start_node(manifest: PromptManifest, hours: ServiceHours) -> None:
    data = minimal()
    data["start"] = "missing"
    assert "start node 'missing' does not exist" in problems_of(data, manifest, hours)


def test_unreachable_node(manifest: PromptManifest, hours: ServiceHours) -> None:
    data = minimal()
    data["nodes"]["orphan"] = {"kind": "end", "prompts": ["goodbye"]}
    text = problems_of(data, manifest, hours)
    assert "node 'orphan': unreachable from the start node 'hello'" in text


def test_prompt_missing_from_the_manifest(manifest: PromptManifest, hours: ServiceHours) -> None:
    data = minimal()
    data["nodes"]["hello"]["prompts"] = ["welcome", "no_such_prompt"]
    data["nodes"]["choose"]["options"][0]["label"] = "no_such_label"
    text = problems_of(data, manifest, hours)
    assert "node 'hello': prompts: prompt 'no_such_prompt' is missing" in text
    assert "node 'choose': options.0.label: prompt 'no_such_label' is missing" in text


def test_duplicate_option_digit_and_word(manifest: PromptManifest, hours: ServiceHours) -> None:
    data = minimal()
    data["nodes"]["choose"]["options"][1]["digit"] = "1"
    data["nodes"]["choose"]["options"][1]["words"] = ["버스"]
    text = problems_of(data, manifest, hours)
    assert "node 'choose': options.1: digit '1' is used by another option" in text
    assert "node 'choose': options.1: word '버스' is used by another option" in text


def test_bad_digits(manifest: PromptManifest, hours: ServiceHours) -> None:
    data = minimal()
    data["nodes"]["choose"]["options"][2]["digit"] = "9a"
    data["nodes"]["choose"]["max_digits"] = 1
    text = problems_of(data, manifest, hours)
    assert "options.2: digit '9a' is not made of 0-9, * and #" in text
    assert "an option has 2 digits but max_digits is 1" in text


def test_language_not_served(manifest: PromptManifest, hours: ServiceHours) -> None:
    data = minimal()
    data["nodes"]["choose"]["options"][1]["set"] = {"language": "fr"}
    data["nodes"]["hello"]["prompts"] = ["welcome@de"]
    text = problems_of(data, manifest, hours)
    assert (
        "node 'choose': options.1.set: language 'fr' is not one of ko, en, zh, ja, vi, mn" in text
    )
    assert "node 'hello': prompts: prompt 'welcome@de' names unknown language 'de'" in text


def test_unknown_routing_target_and_service(manifest: PromptManifest, hours: ServiceHours) -> None:
    data = minimal()
    data["nodes"]["to_transport"]["target"] = "pizza"
    data["nodes"]["choose"]["options"][0]["set"] = {"service": "karaoke"}
    data["defaults"]["fallback_target"] = "nobody"
    text = problems_of(data, manifest, hours)
    assert "node 'to_transport': target 'pizza' is not a known routing target" in text
    assert "node 'choose': options.0.set: service 'karaoke' is not a known routing target" in text
    assert "menu: defaults.fallback_target 'nobody' is not a known target" in text


def test_bad_priority_and_reserved_tag(manifest: PromptManifest, hours: ServiceHours) -> None:
    data = minimal()
    data["nodes"]["to_welfare"]["tags"] = {"priority": 12, "ivr_fallback": "x"}
    text = problems_of(data, manifest, hours)
    assert "node 'to_welfare': tags: priority '12' is not an integer 1..9" in text
    assert "tag 'ivr_fallback' is reserved" in text


def test_cycle_with_no_input(manifest: PromptManifest, hours: ServiceHours) -> None:
    data = minimal()
    data["nodes"]["hello"]["next"] = "again"
    data["nodes"]["again"] = {"kind": "set", "tags": {"skill": "x"}, "next": "hello"}
    text = problems_of(data, manifest, hours)
    # yaml.safe_dump sorts the nodes, so the walk meets "again" first.
    assert "node 'again': cycle with no input: again -> hello -> again" in text


def test_a_loop_through_a_collect_node_is_fine(
    manifest: PromptManifest, hours: ServiceHours
) -> None:
    data = minimal()
    data["nodes"]["info"] = {"kind": "play", "prompts": ["hours_info"], "next": "choose"}
    data["nodes"]["choose"]["options"][2]["next"] = "info"
    data["nodes"]["bye_extra"] = {"kind": "end", "prompts": ["goodbye"]}
    data["nodes"]["hours"]["closed"] = "bye_extra"
    data["nodes"]["choose"]["options"].append({"digit": "8", "next": "bye"})
    assert build(data, manifest, hours).id == "minimal"


def test_branch_shape(manifest: PromptManifest, hours: ServiceHours) -> None:
    data = minimal()
    data["nodes"]["hours"] = {"kind": "branch", "hours": "karaoke", "open": "to_transport"}
    text = problems_of(data, manifest, hours)
    assert "node 'hours': closed is missing" in text
    assert "node 'hours': hours 'karaoke' is not a service in the service-hours data" in text
    data["nodes"]["hours"] = {
        "kind": "branch",
        "tag": "language",
        "cases": {"xx": "to_transport"},
        "default": "bye",
        "hours": "telephone",
    }
    text = problems_of(data, manifest, hours)
    assert "exactly one" in text
    del data["nodes"]["hours"]["hours"]
    assert "cases: 'xx' is not a language" in problems_of(data, manifest, hours)


def test_speech_needs_words_and_labels(manifest: PromptManifest, hours: ServiceHours) -> None:
    data = minimal()
    del data["nodes"]["choose"]["options"][0]["label"]
    text = problems_of(data, manifest, hours)
    assert "options.0: an option with words needs a label to confirm it" in text
    data = minimal()
    for option in data["nodes"]["choose"]["options"]:
        option.pop("words", None)
    assert "speech is on but no option has words" in problems_of(data, manifest, hours)


def test_structural_errors_name_the_node(manifest: PromptManifest, hours: ServiceHours) -> None:
    data = minimal()
    data["nodes"]["hello"]["colour"] = "blue"
    data["nodes"]["choose"]["timeout_ms"] = 5
    data["nodes"]["to_welfare"]["kind"] = "teleport"
    text = problems_of(data, manifest, hours)
    assert "node 'hello': colour: Extra inputs are not permitted" in text
    assert "node 'choose': timeout_ms: Input should be greater than or equal to 500" in text
    assert "node 'to_welfare'" in text and "teleport" in text


def test_every_problem_is_reported_at_once(manifest: PromptManifest, hours: ServiceHours) -> None:
    data = minimal()
    data["nodes"]["hello"]["next"] = "nowhere"
    data["nodes"]["to_transport"]["target"] = "pizza"
    data["nodes"]["to_welfare"]["prompts"] = ["nope"]
    with pytest.raises(MenuError) as info:
        build(data, manifest, hours)
    nodes = {problem.node for problem in info.value.problems}
    assert {"hello", "to_transport", "to_welfare"} <= nodes


def test_file_errors_name_the_file(
    tmp_path: Path, manifest: PromptManifest, hours: ServiceHours
) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(MenuError, match=f"{missing}: invalid menu") as info:
        load_menu(missing, manifest, hours)
    assert "cannot read" in str(info.value)
    broken = tmp_path / "broken.yaml"
    broken.write_text("nodes: [\n", encoding="utf-8")
    with pytest.raises(MenuError, match="not valid YAML"):
        load_menu(broken, manifest, hours)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just text\n", encoding="utf-8")
    with pytest.raises(MenuError, match="must hold a mapping"):
        load_menu(scalar, manifest, hours)
    good = tmp_path / "good.yaml"
    good.write_text(FIXTURE.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_menu(good, manifest, hours).source == str(good)


def test_entries_must_name_nodes_and_make_them_reachable(
    manifest: PromptManifest, hours: ServiceHours
) -> None:
    data = minimal()
    data["nodes"]["side_door"] = {"kind": "set", "tags": {"line": "x"}, "next": "choose"}
    assert "node 'side_door': unreachable" in problems_of(data, manifest, hours)
    data["entries"] = {"7": "side_door"}
    assert build(data, manifest, hours).spec.entries == {"7": "side_door"}
    data["entries"] = {"7": "side_door", "8": "nowhere"}
    assert "menu: entries.8: unknown node 'nowhere'" in problems_of(data, manifest, hours)
