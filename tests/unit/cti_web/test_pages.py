"""Pages are served from the package with a strict CSP; UI strings exist in both languages."""

from __future__ import annotations

import re
from collections import Counter
from importlib import resources

import pytest

from .conftest import Edge

PAGES = {
    "/": "index.html",
    "/desktop": "desktop.html",
    "/wallboard": "wallboard.html",
    "/docs": "docs.html",
}


def _source(name: str) -> str:
    return resources.files("cti.pages").joinpath(name).read_text(encoding="utf-8")


def _strings() -> dict[str, set[str]]:
    text = _source("i18n.js")
    tables = re.split(r"^\s{2}(ko|en): \{$", text, flags=re.M)
    found = {}
    for lang, body in zip(tables[1::2], tables[2::2], strict=True):
        found[lang] = set(re.findall(r'^\s{4}"([\w.]+)":', body, flags=re.M))
    return found


@pytest.mark.parametrize(("path", "name"), sorted(PAGES.items()))
async def test_page_served_with_csp(edge: Edge, path: str, name: str) -> None:
    response = await edge.client.get(path)
    assert response.status == 200
    assert response.content_type == "text/html"
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    body = await response.text()
    assert body == _source(name)
    assert "http://" not in body and "https://" not in body  # nothing from elsewhere


async def test_static_whitelist(edge: Edge) -> None:
    js = await edge.client.get("/static/desktop.js")
    assert js.status == 200
    assert js.content_type == "text/javascript"
    css = await edge.client.get("/static/style.css")
    assert css.content_type == "text/css"
    for bad in [
        "/static/desktop.html",
        "/static/nope.js",
        "/static/..%2Fauth.py",
        "/static/__init__.py",
    ]:
        assert (await edge.client.get(bad)).status == 404, bad


def test_both_languages_have_every_key() -> None:
    strings = _strings()
    assert set(strings) == {"ko", "en"}
    assert strings["ko"] == strings["en"]
    assert len(strings["ko"]) > 150


def test_every_key_used_by_the_pages_exists() -> None:
    known = _strings()["en"]
    used = set()
    for name in ["desktop.html", "wallboard.html", "index.html", "docs.html"]:
        used |= set(re.findall(r'data-i18n(?:-label|-title)?="([\w.]+)"', _source(name)))
    for name in ["desktop.js", "wallboard.js", "common.js", "docs.js"]:
        used |= set(re.findall(r'\bt\("([\w.]+)"', _source(name)))
    assert used, "no keys found"
    assert used <= known, sorted(used - known)
    states = {"logged_out", "ready", "ringing", "talking", "wrap_up", "not_ready"}
    assert {f"state.{s}" for s in states} <= known


@pytest.mark.parametrize("name", ["desktop.html", "wallboard.html"])
def test_test_ids_are_unique(name: str) -> None:
    ids = Counter(re.findall(r'data-testid="([\w-]+)"', _source(name)))
    assert ids, name
    assert [i for i, n in ids.items() if n > 1] == []


def test_desktop_has_the_controls_the_issue_asks_for() -> None:
    ids = set(re.findall(r'data-testid="([\w-]+)"', _source("desktop.html")))
    wanted = {
        "btn-ready",
        "btn-not-ready",
        "select-reason",
        "btn-logout",
        "btn-wrap-up-done",
        "screen-pop",
        "pop-number",
        "pop-language",
        "pop-journey",
        "pop-history",
        "btn-hold",
        "btn-transfer",
        "select-interpreter-language",
        "btn-add-interpreter",
        "btn-drop-interpreter",
        "parties",
        "lang-toggle",
        "btn-add-third-party",
    }
    assert wanted <= ids
    wall = set(re.findall(r'data-testid="([\w-]+)"', _source("wallboard.html")))
    assert {
        "kpi-waiting",
        "kpi-longest-wait",
        "kpi-service-level",
        "state-bars",
        "timeline-graph",
        "queue-table",
        "last-update",
    } <= wall
