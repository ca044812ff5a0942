"""Browser-test helpers: the host app on another origin, a sub-path proxy, axe-core, request checks."""

from __future__ import annotations

import http.client
import json
import shutil
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
HOST_FILES = Path(__file__).resolve().parent / "host"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# No background networking, no component updates, no sync: the browser contacts nothing by itself.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
AXE = ROOT / "build" / "test-deps" / "axe-core" / "axe.min.js"
EVENTS = (
    "chatkit.ready",
    "chatkit.error",
    "chatkit.response.start",
    "chatkit.response.end",
    "chatkit.thread.change",
    "chatkit.thread.load.start",
    "chatkit.thread.load.end",
    "chatkit.log",
)


def require_axe() -> Path:
    """axe-core must be there: an accessibility test that silently skipped would prove nothing."""
    assert AXE.is_file(), (
        f"axe-core is missing ({AXE}); run scripts/test-deps (it fetches the npm package axe-core "
        "into build/test-deps)"
    )
    return AXE


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Run axe-core (every default rule, WCAG and best practices) over the page, shadow roots included."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        source = require_axe()
        if page.evaluate("() => !!document.querySelector('meta[name=chatkit-server]')"):
            # The host app serves axe from its own origin, which its CSP allows.
            page.add_script_tag(url=page.evaluate("() => location.origin") + "/axe.min.js")
        else:
            # The server's own page allows no script we could inject (same-origin CSP, no
            # inline); the DevTools protocol evaluates the file, which a page's CSP does not govern.
            page.evaluate(source.read_text())
    result: list[dict[str, Any]] = page.evaluate(
        """() => axe.run(document, {resultTypes: ["violations"]}).then((r) => r.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => ({target: n.target, summary: n.failureSummary})),
        })))"""
    )
    return result


def assert_accessible(page: Page, state: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"axe-core found violations ({state}):\n" + json.dumps(violations, indent=1)


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def reply(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class HostSite:
    """The internal app that embeds the component: its own origin (``localhost``, while the chat
    server is ``127.0.0.1``), a strict CSP naming only itself and the chat server, and a
    ``/token`` endpoint handing out IdP tokens (as an app's backend would)."""

    def __init__(self, token: Callable[[str], str]) -> None:
        self.token = token
        self.server_url = ""
        self.canned: dict[str, Any] = {}
        site = self

        class Handler(_Quiet):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path in ("/embed.html", "/render.html"):
                    self.reply(
                        200,
                        site.page(url.path),
                        "text/html; charset=utf-8",
                        {"Content-Security-Policy": site.csp()},
                    )
                elif url.path == "/token":
                    user = parse_qs(url.query).get("user", ["alice"])[0]
                    body = json.dumps({"token": site.token(user)}).encode()
                    self.reply(200, body, "application/json")
                elif url.path == "/canned.json":
                    self.reply(200, json.dumps(site.canned).encode(), "application/json")
                elif url.path == "/axe.min.js":
                    self.reply(200, require_axe().read_bytes(), "text/javascript")
                elif url.path in ("/host.js", "/render.js", "/host.css"):
                    kind = "text/css" if url.path.endswith(".css") else "text/javascript"
                    self.reply(200, (HOST_FILES / url.path[1:]).read_bytes(), kind)
                else:
                    self.reply(404, b"not found", "text/plain")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.httpd.server_address[1]}"

    def csp(self) -> str:
        server = self.server_url or "'none'"
        return (
            f"default-src 'none'; script-src 'self' {server}; style-src 'self' {server}; "
            f"connect-src 'self' {server}; img-src 'self' {server} data: blob:; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'"
        )

    def page(self, path: str) -> bytes:
        script = "host.js" if path == "/embed.html" else "render.js"
        component = f"{self.server_url}/ui/chatkit.js"
        html = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Host app</title>
  <link rel="icon" href="data:,">
  <meta name="chatkit-server" content="{self.server_url}">
  <link rel="stylesheet" href="/host.css">
  <script type="module" src="{component}"></script>
  <script type="module" src="/{script}"></script>
</head>
<body>
  <header><h1>Host app</h1></header>
  <main><chatkit-onprem id="chat"></chatkit-onprem></main>
</body>
</html>"""
        return html.encode()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class SubPathProxy:
    """A reverse proxy that serves the chat server under ``/chat/`` (streams pass through)."""

    def __init__(self, upstream_port: int, prefix: str = "/chat") -> None:
        proxy = self
        self.prefix = prefix
        self.requests: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one request per connection: the body ends at close

            def log_message(self, *args: Any) -> None:
                pass

            def forward(self) -> None:
                proxy.requests.append(self.path)
                if not self.path.startswith(proxy.prefix + "/"):
                    self.send_error(404)
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path[len(proxy.prefix) :], body=body or None, headers=headers)
                upstream = conn.getresponse()
                self.send_response(upstream.status)
                for name, value in upstream.getheaders():
                    if name.lower() not in (
                        "connection",
                        "transfer-encoding",
                        "keep-alive",
                        "date",
                        "server",
                    ):
                        self.send_header(name, value)
                self.end_headers()
                while chunk := upstream.read1(65536):
                    self.wfile.write(chunk)
                    self.wfile.flush()
                conn.close()

            do_GET = do_POST = forward

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{self.prefix}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
