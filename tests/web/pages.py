"""Locators and actions on a page embedding <chatkit-onprem> (Playwright pierces its open shadow root)."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Locator, Page, expect

ID_LIKE = re.compile(r"\b[a-z]{2,12}_[0-9a-f]{12,}\b|request_id|[0-9a-f]{24,}")


def component(page: Page) -> Locator:
    return page.locator("chatkit-onprem")


def composer(page: Page) -> Locator:
    return page.locator("chatkit-onprem textarea.input")


def idle(page: Page) -> None:
    """Wait until no answer streams in the shown thread (Enter does not send while one does)."""
    expect(page.locator("chatkit-onprem form.composer")).to_have_attribute("aria-busy", "false")


def send(page: Page, text: str) -> None:
    idle(page)
    composer(page).fill(text)
    composer(page).press("Enter")


def answers(page: Page) -> Locator:
    return page.locator("chatkit-onprem li.item-assistant_message")


def user_messages(page: Page) -> Locator:
    return page.locator("chatkit-onprem li.item-user_message")


def last_answer(page: Page) -> Locator:
    return answers(page).last


def thread_links(page: Page) -> Locator:
    return page.locator("chatkit-onprem .thread-link")


def title(page: Page) -> Locator:
    return page.locator("chatkit-onprem .header .title")


def events(page: Page, name: str | None = None) -> list[dict[str, Any]]:
    recorded: list[dict[str, Any]] = page.evaluate("() => window.__events || []")
    return [e for e in recorded if name is None or e["name"] == name]


def focused(page: Page) -> dict[str, str]:
    """The element that has focus, looking through shadow roots."""
    result: dict[str, str] = page.evaluate(
        """() => {
            let el = document.activeElement;
            while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
            if (!el) return {};
            const cls = typeof el.className === "string" ? el.className : "";
            return {tag: el.tagName.toLowerCase(), cls,
                    label: el.getAttribute("aria-label") || (el.textContent || "").trim().slice(0, 60),
                    type: el.getAttribute("type") || ""};
        }"""
    )
    return result


def watch_announcements(page: Page) -> None:
    """Record every change of the component's live region in window.__announced."""
    page.evaluate(
        """() => {
            const region = document.querySelector("chatkit-onprem").shadowRoot.querySelector("[aria-live]");
            window.__announced = [];
            new MutationObserver(() => window.__announced.push(region.textContent))
                .observe(region, {childList: true, characterData: true, subtree: true});
        }"""
    )


def announced(page: Page) -> list[str]:
    result: list[str] = page.evaluate("() => window.__announced")
    return result


def thread_id_in_url(page: Page) -> str | None:
    match = re.search(r"[?&]thread=([^&]+)", page.url)
    return match.group(1) if match else None
