"""The hash chain detects deleted, edited, inserted and reordered links."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recordings.chain import GENESIS, BreakKind, Link, canonical_json, next_link, verify


def build(count: int) -> list[Link]:
    links: list[Link] = []
    for i in range(count):
        head = links[-1] if links else None
        links.append(
            next_link(
                head,
                f"2026-11-28T09:00:{i:02d}.000000+00:00",
                "cataloged",
                {"id": i, "sha": f"{i:064x}"},
            )
        )
    return links


def kinds(links: list[Link]) -> set[BreakKind]:
    return {b.kind for b in verify(links)}


def test_intact_chain_verifies() -> None:
    links = build(5)
    assert links[0].prev_hash == GENESIS
    assert verify(links) == []


def test_deleted_link_is_detected() -> None:
    links = build(5)
    del links[2]
    breaks = verify(links)
    assert {b.kind for b in breaks} == {BreakKind.SEQUENCE_GAP, BreakKind.PREV_MISMATCH}
    assert breaks[0].seq == 4


def test_edited_content_is_detected() -> None:
    links = build(5)
    links[1] = replace(links[1], content={"id": 1, "sha": "f" * 64})
    assert kinds(links) == {BreakKind.HASH_MISMATCH}


def test_edit_with_rehash_breaks_the_next_link() -> None:
    links = build(5)
    forged = next_link(links[0], links[1].at, links[1].kind, {"id": 1, "sha": "0" * 64})
    links[1] = forged
    breaks = verify(links)
    assert [b.seq for b in breaks] == [3]
    assert breaks[0].kind is BreakKind.PREV_MISMATCH


def test_reordered_links_are_detected() -> None:
    links = build(5)
    links[1], links[2] = links[2], links[1]
    assert BreakKind.SEQUENCE_GAP in kinds(links)
    assert BreakKind.PREV_MISMATCH in kinds(links)


def test_floats_are_refused_in_chained_content() -> None:
    with pytest.raises(TypeError):
        canonical_json({"duration": 1.5})


@given(
    st.lists(
        st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=8), max_size=4),
        min_size=1,
        max_size=8,
    ),
    st.data(),
)
def test_any_single_edit_is_detected(
    contents: list[dict[str, object]], data: st.DataObject
) -> None:
    links: list[Link] = []
    for i, content in enumerate(contents):
        links.append(next_link(links[-1] if links else None, f"t{i}", "k", content))
    assert verify(links) == []
    victim = data.draw(st.integers(0, len(links) - 1))
    edited = dict(links[victim].content) | {"__tamper__": 1}
    links[victim] = replace(links[victim], content=edited)
    assert any(b.seq == victim + 1 and b.kind is BreakKind.HASH_MISMATCH for b in verify(links))
