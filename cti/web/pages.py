"""Serves the desktop, wallboard, index and docs pages and their scripts from ``cti/pages``.

Invariants: files are read once when the app is built (no disk access per request, no path
from the request ever reaches the filesystem); only names listed in the package are served;
HTML responses carry a strict Content-Security-Policy allowing only same-origin resources.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from aiohttp import web

from cti.web.endpoint import PUBLIC, ApiRequest, Endpoint

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
_PAGES = {
    "/": "index.html",
    "/desktop": "desktop.html",
    "/wallboard": "wallboard.html",
    "/docs": "docs.html",
    "/kb": "kb.html",
}


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    content_type: str


def load_files() -> dict[str, StaticFile]:
    found: dict[str, StaticFile] = {}
    for entry in resources.files("cti.pages").iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if entry.is_file() and suffix in _TYPES:
            found[entry.name] = StaticFile(entry.read_bytes(), _TYPES[suffix])
    return found


class PageSite:
    def __init__(self, files: dict[str, StaticFile]) -> None:
        self._files = files

    def _respond(self, name: str) -> web.Response:
        page = self._files.get(name)
        if page is None:
            raise web.HTTPNotFound(text=f"no page {name!r}")
        headers = {"Content-Security-Policy": CSP} if page.content_type == "text/html" else {}
        return web.Response(
            body=page.body, content_type=page.content_type, charset="utf-8", headers=headers
        )

    def endpoints(self) -> list[Endpoint]:
        endpoints = []
        for path, name in _PAGES.items():
            endpoints.append(self._page_endpoint(path, name))

        async def static(r: ApiRequest) -> object:
            name = r.path["name"]
            if name.endswith(".html"):
                raise web.HTTPNotFound(text=f"no static file {name!r}")
            return self._respond(name)

        endpoints.append(
            Endpoint(
                "GET",
                "/static/{name}",
                static,
                "Scripts and styles of the pages",
                PUBLIC,
                "pages",
                media_type="text/javascript",
            )
        )
        return endpoints

    def _page_endpoint(self, path: str, name: str) -> Endpoint:
        async def page(r: ApiRequest) -> object:
            return self._respond(name)

        title = name.removesuffix(".html")
        return Endpoint(
            "GET", path, page, f"The {title} page", PUBLIC, "pages", media_type="text/html"
        )
