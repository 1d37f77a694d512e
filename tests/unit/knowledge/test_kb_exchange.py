"""Import and export: every bad row reported, nothing half-imported, round trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kb_support import NOW

from knowledge.analyze import Analyzer
from knowledge.cases import CaseContent
from knowledge.exchange import ImportRejected, import_text, render
from knowledge.settings import KnowledgeSettings
from knowledge.system import KnowledgeBase

GOOD = {
    "language": "ko",
    "title": "대형폐기물 배출 신청",
    "question": "소파는 어떻게 버리나요?",
    "answer": "구청 누리집에서 배출 신고 후 스티커를 붙입니다.",
    "service": "waste",
    "tags": ["대형폐기물", "가구"],
    "department": "서울시 자원순환과",
}


async def test_bad_rows_reject_the_whole_file(kb: KnowledgeBase) -> None:
    rows = [
        GOOD,
        {**GOOD, "language": "fr"},
        {**GOOD, "title": ""},
        {**GOOD, "id": "x"},
        {**GOOD, "state": "live"},
        {**GOOD, "colour": "red"},
    ]
    with pytest.raises(ImportRejected) as info:
        await import_text(kb.cases, json.dumps(rows), "json", "tester")
    problems = {(e.row, e.field) for e in info.value.errors}
    assert problems == {(2, "language"), (3, "title"), (4, "id"), (5, "state"), (6, "colour")}
    assert await kb.cases.count() == 0


async def test_csv_errors_count_the_header_as_row_one(kb: KnowledgeBase) -> None:
    text = (
        "title,question,answer,service,department,tags,valid_from\n"
        "제목,질문,답변,waste,청소과,가구|소파,2026-01-01\n"
        "제목,질문,답변,waste,청소과,,2026-13-01\n"
        "제목,질문,답변,WASTE,청소과,,\n"
    )
    with pytest.raises(ImportRejected) as info:
        await import_text(kb.cases, text, "csv", "tester")
    assert {(e.row, e.field) for e in info.value.errors} == {(3, "valid_from"), (4, "service")}
    assert await kb.cases.count() == 0


async def test_repeated_ids_and_missing_columns(kb: KnowledgeBase) -> None:
    with pytest.raises(ImportRejected, match="repeats row 1"):
        await import_text(kb.cases, json.dumps([{**GOOD, "id": 5}, {**GOOD, "id": 5}]), "json", "t")
    with pytest.raises(ImportRejected, match="missing column"):
        await import_text(kb.cases, "title,question\nx,y\n", "csv", "t")
    with pytest.raises(ImportRejected, match="not valid JSON"):
        await import_text(kb.cases, "[{", "json", "t")


async def test_a_database_conflict_leaves_nothing_written(kb: KnowledgeBase) -> None:
    await import_text(kb.cases, json.dumps([{**GOOD, "id": 7}]), "json", "t")
    rows = [{**GOOD, "id": 8}, {**GOOD, "id": 7, "language": "en"}]
    with pytest.raises(ImportRejected, match="case 7 is in ko"):
        await import_text(kb.cases, json.dumps(rows), "json", "t")
    assert await kb.cases.count() == 1


@pytest.mark.parametrize("fmt", ["json", "csv"])
async def test_export_imports_again_unchanged(
    kb: KnowledgeBase, tmp_path: Path, analyzer: Analyzer, fmt: str
) -> None:
    rows = [
        {**GOOD, "id": 3},
        {
            **GOOD,
            "id": 4,
            "state": "draft",
            "valid_from": "2026-01-01",
            "valid_until": "2026-12-31",
        },
        {**GOOD, "id": 9, "language": "vi", "title": "Vứt đồ cồng kềnh", "translation_of": 3},
    ]
    ids = await import_text(kb.cases, json.dumps(rows), "json", "t")
    assert ids == [3, 4, 9]
    exported = render(await kb.cases.latest_versions(), fmt)
    other = await KnowledgeBase.open(
        KnowledgeSettings(),
        url=f"sqlite+aiosqlite:///{tmp_path / 'other.sqlite3'}",
        analyzer=analyzer,
        clock=lambda: NOW,
    )
    try:
        await import_text(other.cases, exported, fmt, "t")
        again = render(await other.cases.latest_versions(), fmt)
        assert again == exported
        new = await other.cases.create(other_content(), "editor")
        assert new.case_id == 10  # ids continue after the imported ones
    finally:
        await other.close()


def other_content() -> CaseContent:
    from kb_support import content

    return content()
