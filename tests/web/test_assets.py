"""How the component and the demo page are served: versions, caching, CORS, CSP, size, no external URL."""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable

import httpx

from chatkit_onprem.http.web import UI_FILES
from tests.auth.idp import TestIdP, oidc_config
from tests.support.server import ServerProcess

MakeServer = Callable[..., ServerProcess]
GZIP_BUDGET = 60 * 1024


def _version(server: ServerProcess) -> str:
    entry = httpx.get(server.url + "/ui/chatkit.js")
    match = re.match(r'export \* from "\./([^/"]+)/chatkit\.js";\n', entry.text)
    assert match, entry.text
    return match.group(1)


def test_the_entry_module_points_at_an_immutable_version(server: ServerProcess) -> None:
    entry = httpx.get(server.url + "/ui/chatkit.js", headers={"Origin": "https://app.internal"})
    assert entry.status_code == 200
    assert entry.headers["content-type"].startswith("text/javascript")
    assert entry.headers["cache-control"] == "no-cache", "the entry revalidates, so upgrades reach every app"
    assert entry.headers["access-control-allow-origin"] == "*", "module scripts are fetched in CORS mode"
    version = _version(server)
    assert version.startswith("0.1.0-")
    for name in UI_FILES:
        response = httpx.get(f"{server.url}/ui/{version}/{name}", headers={"Origin": "https://app.internal"})
        assert response.status_code == 200, name
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.headers["x-content-type-options"] == "nosniff"
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        assert response.headers["content-type"].startswith(kind)


def test_conditional_and_compressed(server: ServerProcess) -> None:
    url = f"{server.url}/ui/{_version(server)}/chatkit.js"
    plain = httpx.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    etag = plain.headers["etag"]
    assert httpx.get(url, headers={"If-None-Match": etag}).status_code == 304
    with httpx.Client() as client, client.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as raw:
        body = b"".join(raw.iter_raw())
    assert raw.headers["content-encoding"] == "gzip" and raw.headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(body) == plain.content


def test_unknown_versions_and_files_are_404(server: ServerProcess) -> None:
    version = _version(server)
    for path in (
        "/ui/0.0.0-old/chatkit.js",
        f"/ui/{version}/missing.js",
        f"/ui/{version}/..%2Fapp.py",
        "/demo/index.js",
    ):
        response = httpx.get(server.url + path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "route_not_found"


def test_the_component_fits_its_budget_and_names_no_external_url(server: ServerProcess) -> None:
    version = _version(server)
    total = 0
    for name in UI_FILES:
        response = httpx.get(f"{server.url}/ui/{version}/{name}", headers={"Accept-Encoding": "identity"})
        total += len(gzip.compress(response.content, 9))
        # The only absolute URL in the code is the SVG namespace (an identifier, never fetched);
        # comments show embedding examples.
        code = re.sub(r"/\*.*?\*/|^\s*//.*?$", "", response.text, flags=re.DOTALL | re.MULTILINE)
        urls = set(re.findall(r"https?://[^\s\"'`)]+", code))
        assert urls <= {"http://www.w3.org/2000/svg"}, (name, urls)
        assert "innerHTML" not in code and "insertAdjacentHTML" not in code and "outerHTML" not in code, name
        assert "eval(" not in code and "new Function" not in code, name
    assert total <= GZIP_BUDGET, f"component is {total} bytes gzipped (budget {GZIP_BUDGET})"


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
    assert urls[3] == "ui/chatkit.js"
    assert all(url.startswith(f"ui/{_version(server)}/") for url in urls[4:]), urls  # preload hints
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
