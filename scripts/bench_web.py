#!/usr/bin/env python3
"""The web component in Debian Chromium: size, time to first render and to interactive, and
main-thread time while a long answer streams and while a 1,000-item thread opens.

Starts a real server (Granian, DuckDB, the scripted model, development identity) and drives
the demo page at ``/`` (which embeds ``<chatkit-onprem>``) with Playwright:

* **size**: the bundle ``/ui/chatkit.js`` (the one file a browser fetches: every module and the
  stylesheet), raw and gzipped (level 9, as served); the source map and the fallback stylesheet
  beside it are listed but not fetched by browsers in normal use;
* **first render / interactive** (median of ``--runs`` loads, cold cache: a fresh browser
  context each; and warm: a reload): navigation start → the component's root is visible
  (its stylesheet applied) → ``chatkit.ready`` (history loaded, composer usable);
* **streaming**: a 200-sentence answer (the scripted ``long`` answer, ``--token-delay-ms``
  between tokens): main-thread busy time (CDP ``Performance.getMetrics`` TaskDuration) over
  the answer's duration (``chatkit.response.start`` → ``response.end``);
* **1,000-item thread**: items made through the protocol beforehand; opening it (newest 50
  items) and then loading every earlier page: wall time and main-thread time.

Usage: .venv/bin/python scripts/bench_web.py [--runs 7] [--token-delay-ms 15] [--items 1000]
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from playwright.sync_api import Browser, sync_playwright  # noqa: E402

from chatkit_onprem.http.web import UI_FILES  # noqa: E402
from tests.support.client import text_input  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402
from tests.web.support import CHROMIUM, FLAGS  # noqa: E402

USER = {"X-Dev-User": "bench", "X-Dev-Tenant": "bench"}
TIMING = """
window.__bench = {};
addEventListener("chatkit.ready", () => { window.__bench.ready = performance.now(); }, true);
addEventListener("chatkit.response.start", () => { window.__bench.start = performance.now(); }, true);
addEventListener("chatkit.response.end", () => { window.__bench.end = performance.now(); }, true);
addEventListener("chatkit.thread.load.end", () => { window.__bench.loaded = performance.now(); }, true);
(function watch() {
  const el = document.querySelector("chatkit-onprem");
  const root = el && el.shadowRoot && el.shadowRoot.querySelector(".ck");
  if (root && getComputedStyle(root).visibility === "visible" && root.getBoundingClientRect().height > 0) {
    window.__bench.render = performance.now();
  } else requestAnimationFrame(watch);
})();
try {
  localStorage.setItem("ck-demo.user", "bench");
  localStorage.setItem("ck-demo.tenant", "bench");
} catch {}
"""


def size_report(server: ServerProcess) -> None:
    version = httpx.get(server.url + "/ui/chatkit.js").headers["content-location"].split("/")[0]
    print(f"\n## Size (`/ui/`, version {version})\n\n| file | raw | gzip | fetched |\n|---|---:|---:|---|")
    for name in UI_FILES:
        body = httpx.get(f"{server.url}/ui/{name}", headers={"Accept-Encoding": "identity"}).content
        gz = len(gzip.compress(body, 9, mtime=0))
        fetched = {"chatkit.js": "**always**", "chatkit.js.map": "by developer tools"}.get(
            name, "only without constructable stylesheets"
        )
        print(f"| {name} | {len(body) / 1024:.1f} KB | {gz / 1024:.1f} KB | {fetched} |")


def metric(cdp: Any, name: str) -> float:
    for item in cdp.send("Performance.getMetrics")["metrics"]:
        if item["name"] == name:
            return float(item["value"])
    raise KeyError(name)


def load_times(browser: Browser, url: str, runs: int) -> None:
    cold: list[tuple[float, float, float, float]] = []
    warm: list[tuple[float, float, float, float]] = []
    for _ in range(runs):
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        page = ctx.new_page()
        page.add_init_script(TIMING)
        for sample in (cold, warm):
            if sample is cold:
                page.goto(url)
            else:
                page.reload()
            page.wait_for_function("() => window.__bench.ready && window.__bench.render")
            bench = page.evaluate("window.__bench")
            html = page.evaluate("performance.getEntriesByType('navigation')[0].responseEnd")
            own = page.evaluate(
                "performance.getEntriesByName('chatkit-onprem:ready')[0].startTime"
                " - performance.getEntriesByName('chatkit-onprem:evaluate')[0].startTime"
            )
            sample.append((bench["render"], bench["ready"], html, own))
        ctx.close()
    print(f"\n## Load (navigation start →, median of {runs})\n")
    print(
        "| cache | page HTML received | first render | interactive (`chatkit.ready`) "
        "| component's own: module evaluated → ready |\n|---|---:|---:|---:|---:|"
    )
    for label, sample in (("cold", cold), ("warm", warm)):
        render, ready, html, own = (statistics.median(s[i] for s in sample) for i in range(4))
        print(f"| {label} | {html:.0f} ms | {render:.0f} ms | {ready:.0f} ms | {own:.0f} ms |")


def streaming(browser: Browser, url: str) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    page.add_init_script(TIMING)
    page.goto(url)
    page.wait_for_function("() => window.__bench.ready")
    cdp = ctx.new_cdp_session(page)
    cdp.send("Performance.enable")
    box = page.locator("chatkit-onprem textarea.input")
    box.fill("give me a long answer")
    before = {k: metric(cdp, k) for k in ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration")}
    box.press("Enter")
    # Wait inside the page for the event (Playwright's polling would add main-thread work).
    page.evaluate(
        "() => new Promise((resolve) => window.__bench.end ? resolve()"
        " : addEventListener('chatkit.response.end', () => resolve(), {once: true}))"
    )
    after = {k: metric(cdp, k) for k in before}
    bench = page.evaluate("window.__bench")
    duration = (bench["end"] - bench["start"]) / 1000
    text = page.locator("chatkit-onprem li.item-assistant_message").last.inner_text()
    assert "Sentence 200 of" in text, "the whole answer arrived"
    busy = {k: after[k] - before[k] for k in before}
    print("\n## Streaming a 200-sentence answer\n")
    print(f"answer duration {duration:.2f} s; main thread busy {busy['TaskDuration']:.3f} s "
          f"= **{100 * busy['TaskDuration'] / duration:.1f}%** of it "
          f"(script {busy['ScriptDuration']:.3f} s, layout {busy['LayoutDuration']:.3f} s, "
          f"style {busy['RecalcStyleDuration']:.3f} s)")
    ctx.close()


def make_thread(server: ServerProcess, items: int) -> tuple[str, int]:
    with httpx.Client(base_url=server.url, headers=USER, timeout=60) as client:
        created = client.post("/chatkit", json={"type": "threads.create", "params": {"input": text_input("a thousand items")}})
        thread_id = re.search(r'"thread":\{[^}]*?"id":"([^"]+)"', created.text).group(1)  # type: ignore[union-attr]
        n = 2
        turn = 0
        while n < items:
            text = "show me a widget" if turn % 2 else f"message number {turn} with **markdown** and `code`"
            client.post(
                "/chatkit",
                json={"type": "threads.add_user_message", "params": {"thread_id": thread_id, "input": text_input(text)}},
            )
            n += 3 if turn % 2 else 2
            turn += 1
        count = 0
        after = None
        while True:
            page = client.post(
                "/chatkit",
                json={"type": "items.list", "params": {"thread_id": thread_id, "limit": 100, "after": after}},
            ).json()
            count += len(page["data"])
            if not page["has_more"]:
                break
            after = page["after"]
    return thread_id, count


def open_big_thread(browser: Browser, url: str, thread_id: str, count: int) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    page.add_init_script(TIMING)
    page.goto(url)
    page.wait_for_function("() => window.__bench.ready")
    cdp = ctx.new_cdp_session(page)
    cdp.send("Performance.enable")
    keys = ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration")
    task0 = metric(cdp, "TaskDuration")
    # Both phases run inside the page, so no polling from Playwright counts as main-thread work.
    opened = page.evaluate(
        """async (id) => {
            const el = document.querySelector("chatkit-onprem");
            const t0 = performance.now();
            const done = new Promise((r) => el.addEventListener("chatkit.thread.load.end", r, {once: true}));
            el.setThreadId(id);
            await done;
            await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
            return performance.now() - t0;
        }""",
        thread_id,
    )
    task1 = metric(cdp, "TaskDuration")
    parts1 = {k: metric(cdp, k) for k in keys}
    shown = page.locator("chatkit-onprem ol.items > li").count()
    result = page.evaluate(
        """async () => {
            const root = document.querySelector("chatkit-onprem").shadowRoot;
            const list = root.querySelector("ol.items");
            const t0 = performance.now();
            let pages = 0;
            for (;;) {
                const more = root.querySelector(".thread .load-more");
                if (!more || more.hidden) break;
                const n = list.children.length;
                const grown = new Promise((resolve) => {
                    const obs = new MutationObserver(() => {
                        if (list.children.length > n) { obs.disconnect(); resolve(); }
                    });
                    obs.observe(list, {childList: true});
                });
                more.click();
                pages += 1;
                await grown;
                await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
            }
            return {pages, ms: performance.now() - t0};
        }"""
    )
    task2 = metric(cdp, "TaskDuration")
    parts2 = {k: metric(cdp, k) for k in keys}
    total = page.locator("chatkit-onprem ol.items > li").count()
    print(f"\n## A {count}-item thread\n")
    print(f"open (newest page, {shown} items shown): {opened:.0f} ms wall, main thread {1000 * (task1 - task0):.0f} ms")
    print(f"every earlier page ({result['pages']} pages, {total} items shown): {result['ms']:.0f} ms wall, "
          f"main thread {1000 * (task2 - task1):.0f} ms "
          f"(script {1000 * (parts2['ScriptDuration'] - parts1['ScriptDuration']):.0f} ms, "
          f"layout {1000 * (parts2['LayoutDuration'] - parts1['LayoutDuration']):.0f} ms, "
          f"style {1000 * (parts2['RecalcStyleDuration'] - parts1['RecalcStyleDuration']):.0f} ms)")
    ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--token-delay-ms", type=float, default=15)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--only", choices=["size", "load", "stream", "thread"], action="append")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; Chromium {CHROMIUM}")
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(
            Path(tmp) / "srv",
            {"llm": {"scripted": {"token_delay_ms": args.token_delay_ms}}, "logging": {"level": "warning"}},
        ).start()
        bulk = ServerProcess(
            Path(tmp) / "bulk", {"llm": {"scripted": {"token_delay_ms": 0}}, "logging": {"level": "warning"}}
        )
        phases = set(args.only or ["size", "load", "stream", "thread"])
        try:
            if "size" in phases:
                size_report(server)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
                if "load" in phases:
                    load_times(browser, server.url + "/", args.runs)
                if "stream" in phases:
                    streaming(browser, server.url + "/")
                server.stop()
                if "thread" in phases:
                    bulk.start()
                    thread_id, count = make_thread(bulk, args.items)
                    open_big_thread(browser, bulk.url + "/", thread_id, count)
                browser.close()
        finally:
            server.stop()
            bulk.stop()
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
