"""The built-in web client: three static files from the package.

The official ChatKit web UI loads from OpenAI's CDN and cannot run air-gapped
(ARCHITECTURE §3.8); this client speaks the same protocol to this server only.
"""

from __future__ import annotations

from importlib import resources

from litestar import Response, Router, get
from litestar.exceptions import NotFoundException

_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css"}
_FILES = ("index.html", "app.js", "app.css")


def _load() -> dict[str, bytes]:
    folder = resources.files("chatkit_onprem") / "web"
    return {name: (folder / name).read_bytes() for name in _FILES}


def _response(name: str, body: bytes) -> Response[bytes]:
    suffix = name[name.rindex(".") :]
    return Response(
        body,
        media_type=_TYPES[suffix],
        # CSP (same-origin only on pages), nosniff and frame-ancestors: http/security.py.
        headers={"Cache-Control": "no-cache"},
    )


def web_router() -> Router:
    files = _load()

    @get("/", include_in_schema=False)
    async def index() -> Response[bytes]:
        return _response("index.html", files["index.html"])

    @get("/static/{name:str}", include_in_schema=False)
    async def static(name: str) -> Response[bytes]:
        if name not in files or name == "index.html":
            raise NotFoundException(f"no static file {name!r}")
        return _response(name, files[name])

    return Router(path="/", route_handlers=[index, static])
