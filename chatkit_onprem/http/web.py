"""The embeddable web component (``/ui/``) and the demo page that embeds it (``/``).

The official ChatKit web UI loads from OpenAI's CDN and cannot run air-gapped
(ARCHITECTURE §3.8); ``<chatkit-onprem>`` is served by this server. Its readable modules live
in ``web/src/``; ``scripts/build-web`` bundles them, stylesheet included, into ONE ES module
(``web/ui/chatkit.js``, committed, so nothing here needs npm): one request and one compile,
no import waterfall before the component can start. How it is cached:

* ``/ui/<file>``: what apps embed (``/ui/chatkit.js``), revalidated on every load (ETag), so
  an upgrade reaches every app at once;
* ``/ui/<version>/<file>``: the same files, immutable (a year), for pinned URLs; ``<version>``
  is the package version plus a hash of the files, so any change gets new URLs (the
  ``Content-Location`` header of ``/ui/<file>`` names it).

``chatkit.js.map`` (the source map) is fetched only by developer tools, ``chatkit.css`` only
by browsers without constructable stylesheets (a ``<link>`` fallback). The component is
fetched as a module script, which browsers request in CORS mode: its files carry
``Access-Control-Allow-Origin: *`` (public code, no credentials; the API itself stays behind
``server.cors_origins``). Bodies are gzipped once at start-up.

The demo page shows its identity panel (X-Dev-User headers) only when the development
identity is enabled; every URL in it is relative, so it works under a sub-path.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from litestar import Request, Response, Router, get
from litestar.exceptions import NotFoundException

from chatkit_onprem import __version__
from chatkit_onprem.config import Settings

UI_FILES = ("chatkit.js", "chatkit.js.map", "chatkit.css")
DEMO_FILES = ("demo.js", "demo.css")
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json; charset=utf-8",
}
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
AnyRequest = Request[Any, Any, Any]
_IDENTITY_BLOCK = re.compile(rb"<!--identity-->.*?<!--/identity-->", re.DOTALL)


@dataclass(frozen=True)
class Asset:
    """One file as served: its bytes, a gzipped copy and a strong ETag."""

    body: bytes
    gzipped: bytes
    etag: str
    media_type: str

    @classmethod
    def of(cls, name: str, body: bytes) -> Asset:
        digest = hashlib.sha256(body).hexdigest()[:20]
        return cls(body, gzip.compress(body, 9, mtime=0), f'"{digest}"', _TYPES[name[name.rindex(".") :]])


@dataclass(frozen=True)
class WebAssets:
    version: str
    ui: dict[str, Asset]
    demo: dict[str, Asset]
    index: Asset

    @classmethod
    def load(cls, development_identity: bool) -> WebAssets:
        folder = resources.files("chatkit_onprem") / "web"
        ui_bytes = {name: (folder / "ui" / name).read_bytes() for name in UI_FILES}
        digest = hashlib.sha256(b"".join(ui_bytes[name] for name in UI_FILES)).hexdigest()[:10]
        version = f"{__version__}-{digest}"
        index = (folder / "demo" / "index.html").read_bytes()
        if not development_identity:
            index = _IDENTITY_BLOCK.sub(b"", index)
        # demo.js imports the component: the hint fetches it in parallel with demo.js.
        index = index.replace(b"<!--preload-->", b'<link rel="modulepreload" href="ui/chatkit.js">')
        return cls(
            version=version,
            ui={name: Asset.of(name, body) for name, body in ui_bytes.items()},
            demo={name: Asset.of(name, (folder / "demo" / name).read_bytes()) for name in DEMO_FILES},
            index=Asset.of("index.html", index),
        )


def _serve(request: AnyRequest, asset: Asset, cache: str, *, cors: bool) -> Response[bytes]:
    headers = {"Cache-Control": cache, "ETag": asset.etag, "Vary": "Accept-Encoding"}
    if cors:
        headers["Access-Control-Allow-Origin"] = "*"
        headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    # CSP (same-origin on the page, default-src 'none' on the rest), nosniff: http/security.py.
    if asset.media_type.startswith("text/html"):
        # No 304 for the page: a 304 has no content type, so http/security.py would give it the
        # API's CSP, and browsers merge a 304's headers into the cached page (breaking it).
        del headers["ETag"]
    elif asset.etag in request.headers.get("if-none-match", ""):
        return Response(b"", status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


def web_router(settings: Settings) -> Router:
    assets = WebAssets.load(development_identity="development" in settings.auth.methods)

    @get("/", include_in_schema=False)
    async def index(request: AnyRequest) -> Response[bytes]:
        return _serve(request, assets.index, REVALIDATE, cors=False)

    @get("/demo/{name:str}", include_in_schema=False)
    async def demo(request: AnyRequest, name: str) -> Response[bytes]:
        if name not in assets.demo:
            raise NotFoundException(f"no demo file {name!r}")
        return _serve(request, assets.demo[name], REVALIDATE, cors=False)

    @get("/ui/{name:str}", include_in_schema=False)
    async def current(request: AnyRequest, name: str) -> Response[bytes]:
        if name not in assets.ui:
            raise NotFoundException(f"no component file {name!r}")
        response = _serve(request, assets.ui[name], REVALIDATE, cors=True)
        # Where the same bytes stay forever (relative, so it holds under a sub-path too).
        response.headers["Content-Location"] = f"{assets.version}/{name}"
        return response

    @get("/ui/{version:str}/{name:str}", include_in_schema=False)
    async def pinned(request: AnyRequest, version: str, name: str) -> Response[bytes]:
        if version != assets.version or name not in assets.ui:
            raise NotFoundException(f"no component file {version}/{name} (current version: {assets.version})")
        return _serve(request, assets.ui[name], IMMUTABLE, cors=True)

    return Router(path="/", route_handlers=[index, demo, current, pinned])
