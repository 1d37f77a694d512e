"""``{{name}}`` templating: every placeholder filled once, everything else left alone."""

from __future__ import annotations

import pytest

from common.template import TemplateError, fill, placeholders


def test_fills_every_placeholder_and_leaves_sipp_syntax_alone() -> None:
    text = '<send>[$call_id] {{digit}} ${x} {single} {{digit}}</send>\n<pause ms="{{delay_ms}}"/>'
    out = fill(text, digit=5, delay_ms=1500, unused="ignored")
    assert out == '<send>[$call_id] 5 ${x} {single} 5</send>\n<pause ms="1500"/>'
    assert placeholders(text) == {"digit", "delay_ms"}


def test_a_value_is_not_scanned_again() -> None:
    assert fill("{{a}}", a="{{b}}") == "{{b}}"


def test_a_missing_value_names_the_placeholder() -> None:
    with pytest.raises(TemplateError, match=r"\{\{caller\}\} has no value"):
        fill("From: {{caller}} To: {{service}}", service="120")


def test_only_lower_snake_case_names_are_placeholders() -> None:
    assert placeholders("{{Name}} {{a-b}} {{ok_name}}") == {"ok_name"}
    assert fill("{{Name}}") == "{{Name}}"
