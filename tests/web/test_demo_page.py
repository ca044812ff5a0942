"""The demo page at / (development identity), and the whole UI under a sub-path behind a proxy."""

from __future__ import annotations

from pathlib import Path

import yaml
from playwright.sync_api import expect

from tests.support.server import ServerProcess, deep_merge
from tests.web.conftest import OpenPage
from tests.web.pages import answers, last_answer, send, thread_id_in_url, thread_links, title, user_messages
from tests.web.support import SubPathProxy, assert_accessible


def test_demo_page_with_a_development_identity(
    server: ServerProcess, open_page: OpenPage, tmp_path: Path
) -> None:
    page = open_page(server.url + "/", allowed=[server.url]).page
    expect(page.locator("chatkit-onprem .greeting")).to_be_visible()
    assert_accessible(page, "demo page")
    page.locator("#identity summary").click()
    page.fill("#dev-user", "web-user")
    page.fill("#dev-tenant", "web-tenant")
    page.get_by_role("button", name="Apply").click()

    send(page, "hello from the demo page")
    expect(last_answer(page)).to_contain_text("hello from the demo page")
    expect(thread_links(page).first).to_have_text("hello from the demo page")
    thread_id = thread_id_in_url(page)
    assert thread_id

    notes = tmp_path / "notes.txt"
    notes.write_text("meeting notes\n")
    page.locator("chatkit-onprem input[type=file]").set_input_files(str(notes))
    expect(page.locator("chatkit-onprem .drafts .chip")).to_contain_text("notes.txt")
    send(page, "see the attached notes")
    expect(user_messages(page).last).to_contain_text("notes.txt")
    expect(last_answer(page)).to_contain_text("see the attached notes")

    page.get_by_role("button", name="Dark theme").click()
    expect(page.locator("chatkit-onprem .ck")).to_have_attribute("data-scheme", "dark")
    assert_accessible(page, "demo page, dark")

    page.reload()  # the thread is in the URL; everything was persisted, under this identity only
    expect(title(page)).to_have_text("hello from the demo page")
    expect(answers(page)).to_have_count(2)

    page.locator("#identity summary").click()
    page.fill("#dev-user", "someone-else")
    page.get_by_role("button", name="Apply").click()
    expect(thread_links(page)).to_have_count(0)
    expect(page.locator("chatkit-onprem .greeting")).to_be_visible()


def test_everything_works_under_a_sub_path(tmp_path: Path, open_page: OpenPage) -> None:
    upstream = ServerProcess(tmp_path / "srv", {"llm": {"scripted": {"token_delay_ms": 2}}})
    proxy = SubPathProxy(upstream.port)
    # Upload and preview links must name the public address: the proxy's sub-path.
    upstream.config = deep_merge(upstream.config, {"server": {"public_url": proxy.url}})
    upstream.config_path.write_text(yaml.safe_dump(upstream.config))
    upstream.start()
    try:
        page = open_page(proxy.url + "/", allowed=[proxy.url]).page
        send(page, "hello through a proxy")
        expect(last_answer(page)).to_contain_text("hello through a proxy")
        notes = tmp_path / "notes.txt"
        notes.write_text("notes\n")
        page.locator("chatkit-onprem input[type=file]").set_input_files(str(notes))
        expect(page.locator("chatkit-onprem .drafts .chip")).to_contain_text("notes.txt")
        send(page, "with a file through the proxy")
        expect(user_messages(page).last).to_contain_text("notes.txt")
        expect(last_answer(page)).to_contain_text("with a file through the proxy")
        paths = set(proxy.requests)
        assert any(p.startswith("/chat/ui/") for p in paths) and "/chat/chatkit" in paths
        assert any(p.startswith("/chat/files/") for p in paths), "uploads went through the sub-path"
    finally:
        proxy.close()
        upstream.stop()


def test_declarative_embedding_with_an_attribute(server: ServerProcess, open_page: OpenPage) -> None:
    """<chatkit-onprem api-url="…"> works without script (same origin, cookie or proxy auth)."""
    page = open_page(server.url + "/", allowed=[server.url]).page
    expect(page.locator("#chat .greeting")).to_be_visible()
    page.evaluate(
        """() => { const el = document.createElement("chatkit-onprem"); el.id = "second";
                   el.setAttribute("api-url", "chatkit"); el.setAttribute("locale", "de");
                   document.querySelector("main").append(el); }"""
    )
    second = page.locator("#second")
    expect(second.locator(".greeting")).to_have_text("Wobei kann ich heute helfen?")
    second.locator("textarea.input").fill("hallo")
    second.locator("textarea.input").press("Enter")
    expect(second.locator("li.item-assistant_message")).to_contain_text("hallo")
