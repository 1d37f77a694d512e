"""Menu time budgets computed from prompt durations and timeouts (no audio, no PBX)."""

from __future__ import annotations

import pytest

from ivr.menu.budget import BudgetError, compute, needed_prompts, walk
from ivr.menu.loader import Menu


def one_second_prompts(menu: Menu) -> dict[tuple[str, str], float]:
    return dict.fromkeys(needed_prompts(menu), 1.0)


def test_silent_korean_caller_is_handed_over_after_one_pass_of_each_menu(menu: Menu) -> None:
    walked = walk(menu, one_second_prompts(menu), [], "open")
    # welcome 1 s, five language options 5 s + 1 s, service menu 1 s + 2 s, no re-prompt.
    assert walked.handover_s == pytest.approx(10.0)
    assert walked.target == "general"
    assert walked.notice_end_s == pytest.approx(1.0)
    assert walked.first_menu_end_s == pytest.approx(6.0)


def test_expert_keys_typed_during_the_welcome_hand_over_when_it_ends(menu: Menu) -> None:
    durations = one_second_prompts(menu)
    durations[("ko", "welcome")] = 4.0  # "1" at 1 s and "1" at 1.5 s both land in it
    walked = walk(menu, durations, [(1.0, "1"), (1.5, "1")], "open")
    assert (walked.handover_s, walked.target) == (pytest.approx(4.0), "general")


def test_keys_after_hours_skip_the_closed_notice(menu: Menu) -> None:
    walked = walk(menu, one_second_prompts(menu), [(1.0, "2"), (1.5, "3")], "closed")
    # welcome (1 s), English notice (1 s); "3" typed ahead answers the closed offers.
    assert (walked.handover_s, walked.target) == (pytest.approx(2.0), "general")


def test_the_report_fails_past_a_budget(menu: Menu) -> None:
    durations = one_second_prompts(menu)
    assert compute(menu, durations).ok
    durations[("ko", "main_menu")] = 13.0
    report = compute(menu, durations)
    assert not report.ok
    assert ("main_menu", "ko", 13.0) in report.long_prompts
    silent_ko = [p for p in report.paths if (p.language, p.path) == ("ko", "silent")]
    assert all(not p.ok for p in silent_ko)  # 22 s > 20 s


def test_a_missing_prompt_file_is_named(menu: Menu) -> None:
    durations = one_second_prompts(menu)
    del durations[("en", "recorded_notice")]
    with pytest.raises(BudgetError, match="recorded_notice"):
        compute(menu, durations)


def test_budgets_name_real_prompts_languages_and_keys(menu: Menu) -> None:
    from ivr.menu.validate import Names, validate_menu
    from ivr.targets import TARGETS

    spec = menu.spec.model_copy(
        update={
            "budgets": menu.spec.budgets.model_copy(
                update={"notice_prompts": ("no_such",), "expert_keys": {"xx": "1", "en": "2x"}}
            )
        }
    )
    problems = [str(p) for p in validate_menu(spec, Names(set(), set(), TARGETS))]
    text = "\n".join(problems)
    assert "no_such" in text and "'xx'" in text and "'2x'" in text
