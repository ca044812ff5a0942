"""Fixtures for the web component tests: Debian Chromium, a production server behind OIDC, the
host app on another origin, and pages that check what they request and what their CSP refused."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.auth.idp import TestIdP, oidc_config
from tests.support.server import ServerProcess, deep_merge
from tests.web.support import CHROMIUM, FLAGS, HostSite, origin_of, require_axe

expect.set_options(timeout=20_000)  # a shared 2-core machine: generous, never needed when healthy

# Records CSP violations in the page, except axe-core's own (it inserts a <style>; loaded from
# the host's /axe.min.js or run through DevTools, where the report has no source file).
_CSP_RECORDER = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  if (!e.sourceFile || e.sourceFile.endsWith("/axe.min.js")) return;
  window.__csp.push({directive: e.violatedDirective, source: e.sourceFile, blocked: e.blockedURI});
});
"""


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Debian chromium is required (scripts/test-deps installs it)"
    require_axe()
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def idp() -> Iterator[TestIdP]:
    provider = TestIdP()
    yield provider
    provider.close()


@pytest.fixture(scope="module")
def host(idp: TestIdP) -> Iterator[HostSite]:
    site = HostSite(lambda user: idp.token(user, "acme"))
    yield site
    site.close()


def start_server(workdir: Path, config: dict[str, Any]) -> ServerProcess:
    """A server whose ``server.public_url`` is its own address (upload and preview links)."""
    proc = ServerProcess(workdir, config)
    proc.config = deep_merge(proc.config, {"server": {"public_url": proc.url}})
    proc.config_path.write_text(yaml.safe_dump(proc.config))
    return proc.start()


@pytest.fixture(scope="module")
def chat_server(
    tmp_path_factory: pytest.TempPathFactory, idp: TestIdP, host: HostSite
) -> Iterator[ServerProcess]:
    """Production mode, OIDC, the host app's origin allowed by CORS; answers stream at a visible pace."""
    config = deep_merge(
        oidc_config(idp),
        {"server": {"cors_origins": [host.origin]}, "llm": {"scripted": {"token_delay_ms": 8}}},
    )
    proc = start_server(tmp_path_factory.mktemp("chat"), config)
    host.server_url = proc.url
    yield proc
    proc.stop()
    assert proc.egress() == [], f"server tried to leave loopback: {proc.egress()}"


@dataclass
class Watched:
    """A page and what it did: every request URL, console errors, CSP violations."""

    page: Page
    allowed: set[str]
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    expected_errors: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        return [
            url
            for url in self.requests
            if not url.startswith(("data:", "blob:")) and origin_of(url) not in self.allowed
        ]

    def csp_violations(self) -> list[dict[str, str]]:
        result: list[dict[str, str]] = self.page.evaluate("() => window.__csp || []")
        return result

    def check(self) -> None:
        assert self.foreign_requests() == [], f"requests to other origins: {self.foreign_requests()}"
        assert self.csp_violations() == [], f"CSP violations: {self.csp_violations()}"
        # CSP refusals are checked above, with their source (axe-core's own are expected).
        unexpected = [
            e
            for e in self.console_errors
            if "Content Security Policy" not in e and not any(x in e for x in self.expected_errors)
        ]
        assert unexpected == [], f"console errors: {unexpected}"


OpenPage = Callable[..., Watched]


@pytest.fixture
def open_page(browser: Browser) -> Iterator[OpenPage]:
    """open_page(url, allowed=[origins], width=1280, height=800) -> Watched; checked when the test ends."""
    opened: list[tuple[Any, Watched]] = []

    def open_(url: str, allowed: list[str], width: int = 1280, height: int = 800, **context: Any) -> Watched:
        ctx = browser.new_context(viewport={"width": width, "height": height}, **context)
        page = ctx.new_page()
        page.add_init_script(_CSP_RECORDER)
        watched = Watched(page, {origin_of(u) for u in allowed})
        page.on("request", lambda request: watched.requests.append(request.url))
        page.on(
            "console", lambda msg: watched.console_errors.append(msg.text) if msg.type == "error" else None
        )
        page.on(
            "response",
            lambda r: watched.console_errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None,
        )
        page.on("pageerror", lambda exc: watched.console_errors.append(f"page error: {exc}"))
        page.goto(url)
        opened.append((ctx, watched))
        return watched

    yield open_
    try:
        for _, watched in opened:
            watched.check()
    finally:
        for ctx, _ in opened:
            ctx.close()
