"""The built-in web client in a real browser (Debian chromium, headless, driven by Playwright)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.server import ServerProcess

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As the machine's notes advise: no background networking, no component updates, no sync.
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Debian chromium is required (.ci/run installs it)"
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield instance
        instance.close()


def _last_assistant(page: Page):  # type: ignore[no-untyped-def]
    return page.locator('li[data-type="assistant_message"]').last


def test_chat_through_the_web_client(server: ServerProcess, browser: Browser, tmp_path: Path) -> None:
    context = browser.new_context()
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    console_errors: list[str] = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)

    page.goto(server.url + "/")
    page.locator("#identity summary").click()
    page.fill("#dev-user", "web-user")
    page.fill("#dev-tenant", "web-tenant")
    page.click("#save-identity")

    page.fill("#message", "hello from the browser")
    page.press("#message", "Enter")
    expect(_last_assistant(page)).to_contain_text("hello from the browser")
    expect(page.locator("#threads li").first).to_have_text("hello from the browser")

    page.fill("#message", "show me a widget")
    page.press("#message", "Enter")
    card = page.locator('li[data-type="widget"]').last
    expect(card).to_contain_text("Count: 0")
    card.get_by_role("button", name="+1", exact=True).click()
    expect(_last_assistant(page)).to_contain_text("The counter is now 1.")
    card = page.locator('li[data-type="widget"]').last
    expect(card).to_contain_text("Count: 1")
    card.get_by_role("button", name="+1 (sync)").click()
    expect(page.locator('li[data-type="widget"]').last).to_contain_text("Count: 2")

    page.fill("#message", "use the client tool")
    page.press("#message", "Enter")
    expect(_last_assistant(page)).to_contain_text("The tool finished")

    page.fill("#message", "ask me something")
    page.press("#message", "Enter")
    question = page.locator('li[data-type="structured_input"]').last
    question.get_by_label("casual").check()
    question.locator('input[name="topic"]').fill("air gaps")
    question.get_by_role("button", name="Answer").click()
    expect(page.locator('li[data-type="structured_input"]').last).to_contain_text("answered")

    notes = tmp_path / "notes.txt"
    notes.write_text("meeting notes\n")
    page.set_input_files("#file", str(notes))
    expect(page.locator("#pending-files")).to_contain_text("notes.txt")
    page.fill("#message", "see the attached notes")
    page.press("#message", "Enter")
    expect(page.locator('li[data-type="user_message"]').last).to_contain_text("notes.txt")
    expect(_last_assistant(page)).to_contain_text("see the attached notes")

    _last_assistant(page).get_by_role("button", name="Helpful", exact=True).click()
    expect(_last_assistant(page)).to_contain_text("thanks")

    page.reload()  # everything above was persisted, under this identity only
    page.locator("#threads li").first.click()
    expect(page.locator('li[data-type="widget"]').last).to_contain_text("Count: 2")
    page.screenshot(path=str(tmp_path / "web-client.png"), full_page=True)

    foreign = [url for url in requests if not url.startswith(server.url)]
    assert foreign == [], f"the page contacted other origins: {foreign}"
    assert console_errors == []
    context.close()


def test_pages_carry_a_strict_csp(server: ServerProcess) -> None:
    import httpx

    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "http" not in policy.replace("https:", ""), "no external origin is allowed"
    for path in ("/static/app.js", "/static/app.css"):
        response = httpx.get(server.url + path)
        assert response.status_code == 200 and response.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(server.url + "/static/../config.py").status_code == 404
    assert httpx.get(server.url + "/static/missing.js").status_code == 404
