"""How the component and the demo page are served: versions, caching, CORS, CSP, size, no external URL."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable

import httpx

from chatkit_onprem.http.web import UI_FILES
from tests.auth.idp import TestIdP, oidc_config
from tests.support.server import ServerProcess

MakeServer = Callable[..., ServerProcess]
GZIP_BUDGET = 60 * 1024


KINDS = {"chatkit.js": "text/javascript", "chatkit.js.map": "application/json", "chatkit.css": "text/css"}


def _version(server: ServerProcess) -> str:
    location = httpx.get(server.url + "/ui/chatkit.js").headers["content-location"]
    match = re.fullmatch(r"([^/]+)/chatkit\.js", location)
    assert match, location
    return match.group(1)


def test_one_module_at_the_embed_url_and_the_same_bytes_pinned(server: ServerProcess) -> None:
    assert set(UI_FILES) == set(KINDS)
    version = _version(server)
    assert version.startswith("0.1.0-")
    for name in UI_FILES:
        current = httpx.get(f"{server.url}/ui/{name}", headers={"Origin": "https://app.internal"})
        pinned = httpx.get(f"{server.url}/ui/{version}/{name}", headers={"Origin": "https://app.internal"})
        for response in (current, pinned):
            assert response.status_code == 200, name
            # Module scripts are fetched in CORS mode.
            assert response.headers["access-control-allow-origin"] == "*"
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["content-type"].startswith(KINDS[name])
        # The embed URL revalidates (an upgrade reaches every app); the pinned one never changes.
        assert current.headers["cache-control"] == "no-cache"
        assert current.headers["content-location"] == f"{version}/{name}"
        assert pinned.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert pinned.content == current.content
    # One self-contained module: nothing to import, the stylesheet inside it.
    bundle = httpx.get(f"{server.url}/ui/chatkit.js").text
    assert not re.search(r"^\s*import\b|\bimport\s*\(", bundle, flags=re.MULTILINE), "it imports nothing"
    assert ".ck {" in bundle or ".ck{" in bundle, "the stylesheet is inlined"
    assert bundle.rstrip().endswith("//# sourceMappingURL=chatkit.js.map")


def test_conditional_and_compressed(server: ServerProcess) -> None:
    url = f"{server.url}/ui/chatkit.js"
    plain = httpx.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    etag = plain.headers["etag"]
    assert httpx.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert httpx.get(f"{server.url}/ui/{_version(server)}/chatkit.js").headers["etag"] == etag
    with httpx.Client() as client, client.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as raw:
        body = b"".join(raw.iter_raw())
    assert raw.headers["content-encoding"] == "gzip" and raw.headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(body) == plain.content


def test_unknown_versions_and_files_are_404(server: ServerProcess) -> None:
    version = _version(server)
    for path in (
        "/ui/0.0.0-old/chatkit.js",
        f"/ui/{version}/missing.js",
        "/ui/api.js",
        "/ui/missing.js",
        f"/ui/{version}/..%2Fapp.py",
        "/demo/index.js",
    ):
        response = httpx.get(server.url + path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "route_not_found"


def _check_code(name: str, text: str) -> None:
    # The only absolute URL in the code is the SVG namespace (an identifier, never fetched);
    # comments show embedding examples.
    code = re.sub(r"/\*.*?\*/|^\s*//.*?$", "", text, flags=re.DOTALL | re.MULTILINE)
    urls = set(re.findall(r"https?://[^\s\"'`)]+", code))
    assert urls <= {"http://www.w3.org/2000/svg"}, (name, urls)
    assert "innerHTML" not in code and "insertAdjacentHTML" not in code and "outerHTML" not in code, name
    assert "eval(" not in code and "new Function" not in code, name


def test_the_component_fits_its_budget_and_names_no_external_url(server: ServerProcess) -> None:
    plain = {"Accept-Encoding": "identity"}
    files = {name: httpx.get(f"{server.url}/ui/{name}", headers=plain).text for name in UI_FILES}
    # A browser fetches the bundle only (the map is for developer tools, the stylesheet for
    # browsers without constructable stylesheets, and it is inside the bundle too).
    size = len(gzip.compress(files["chatkit.js"].encode(), 9))
    assert size <= GZIP_BUDGET, f"component is {size} bytes gzipped (budget {GZIP_BUDGET})"
    _check_code("chatkit.js", files["chatkit.js"])
    _check_code("chatkit.css", files["chatkit.css"])
    source_map = json.loads(files["chatkit.js.map"])
    assert all(not re.match(r"[a-z]+:|/", source) for source in source_map["sources"]), source_map["sources"]
    for source, text in zip(source_map["sources"], source_map["sourcesContent"], strict=True):
        _check_code(source, text)


def test_demo_page_csp_and_identity_panel_in_development(server: ServerProcess) -> None:
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert (
        "default-src 'self'" in policy
        and "script-src 'self'" in policy
        and "frame-ancestors 'none'" in policy
    )
    assert "http" not in policy, "no external origin is allowed"
    assert 'id="identity"' in page.text
    # The page is never answered with a 304: browsers merge a 304's headers into the cached
    # page, and a 304 (no content type) would carry the API's CSP.
    assert "etag" not in page.headers
    again = httpx.get(server.url + "/", headers={"If-None-Match": "*"})
    assert again.status_code == 200 and again.headers["content-security-policy"] == policy
    # Every URL in the page is relative: it works under a sub-path.
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls[:3] == ["data:,", "demo/demo.css", "demo/demo.js"]
    assert urls[3:] == ["ui/chatkit.js"], urls  # the component's preload hint
    for path in ("/demo/demo.js", "/demo/demo.css"):
        assert httpx.get(server.url + path).status_code == 200


def test_no_identity_panel_in_production(make_server: MakeServer) -> None:
    idp = TestIdP()
    try:
        prod = make_server(oidc_config(idp), name="prod")
        page = httpx.get(prod.url + "/")
        assert page.status_code == 200
        assert 'id="identity"' not in page.text and "X-Dev-User" not in page.text
        assert "<chatkit-onprem" in page.text
    finally:
        idp.close()


def test_web_client_off(make_server: MakeServer) -> None:
    off = make_server({"server": {"web_client": False}}, name="off")
    assert httpx.get(off.url + "/").status_code == 404
    assert httpx.get(off.url + "/ui/chatkit.js").status_code == 404
