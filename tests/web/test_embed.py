"""<chatkit-onprem> embedded by an app on another origin, against a production server behind OIDC.

The host app (tests/web/host/host.js) gets its user's token from the test IdP and adds it in
``api.fetch``; its CSP names only itself and the chat server, and every test checks that the
page requested nothing from any other origin and that the CSP refused nothing.
"""

from __future__ import annotations

import json
import re

import httpx
from playwright.sync_api import Route, expect

from tests.auth.idp import TestIdP
from tests.support.client import text_input
from tests.support.server import ServerProcess
from tests.web.conftest import OpenPage, Watched
from tests.web.pages import (
    ID_LIKE,
    announced,
    answers,
    composer,
    events,
    focused,
    idle,
    last_answer,
    send,
    thread_id_in_url,
    thread_links,
    title,
    user_messages,
    watch_announcements,
)
from tests.web.support import HostSite, assert_accessible


def embed(
    open_page: OpenPage, host: HostSite, server: ServerProcess, user: str, **options: object
) -> Watched:
    viewport = _viewport(options)
    query = "&".join(f"{k}={v}" for k, v in {"user": user, **options}.items())
    watched = open_page(f"{host.origin}/embed.html?{query}", allowed=[host.origin, server.url], **viewport)
    if options.get("manual") != "1":
        expect(watched.page.locator("chatkit-onprem .composer")).to_be_visible()
    return watched


def _viewport(options: dict[str, object]) -> dict[str, int]:
    return {"width": int(str(options.pop("width", 1280))), "height": int(str(options.pop("height", 800)))}


def api(server: ServerProcess, idp: TestIdP, user: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {idp.token(user, 'acme')}"}, timeout=30
    )


def test_a_full_conversation_from_another_origin(
    open_page: OpenPage, host: HostSite, chat_server: ServerProcess
) -> None:
    page = embed(open_page, host, chat_server, "conv-alice").page
    expect(page.locator("chatkit-onprem .greeting")).to_have_text("How can I help?")
    assert_accessible(page, "start screen")
    watch_announcements(page)

    send(page, "hello from another origin")
    expect(last_answer(page)).to_contain_text("You said: “hello from another origin”")
    expect(thread_links(page).first).to_have_text("hello from another origin")
    expect(title(page)).to_have_text("hello from another origin")
    assert thread_id_in_url(page), "the host keeps the thread in its URL (chatkit.thread.change)"
    expect(composer(page)).to_be_focused()
    assert_accessible(page, "first answer")
    # The live region says the answer once, when it is complete (not once per token).
    assert announced(page) == [f"Answer: {last_answer(page).locator('.md').inner_text()}"]

    send(page, "run something with progress")
    expect(last_answer(page)).to_contain_text("Finished 3 steps.")

    send(page, "use the client tool please")
    expect(last_answer(page)).to_contain_text("The tool finished")
    expect(last_answer(page)).to_contain_text("text the host app selected")
    assert page.evaluate("window.toolCalls") == [
        {"name": "get_selection", "params": {"reason": "the user asked for it"}}
    ]

    send(page, "ask me something")
    question = page.locator("chatkit-onprem form.structured").last
    question.get_by_label("casual").check()
    question.get_by_label("What should we talk about?").fill("air gaps")
    assert_accessible(page, "structured input")
    question.get_by_role("button", name="Answer").click()
    expect(page.locator("chatkit-onprem form.structured").last).to_contain_text("Answered")

    send(page, "show me a widget")
    card = page.locator("chatkit-onprem li.item-widget").last
    expect(card).to_contain_text("Count: 0")
    assert_accessible(page, "widget")
    card.get_by_role("button", name="+1", exact=True).click()  # a streaming action
    expect(last_answer(page)).to_contain_text("The counter is now 1.")
    expect(card).to_contain_text("Count: 1")
    card.get_by_role("button", name="+1 (sync)").click()  # a sync action: the item is replaced
    expect(card).to_contain_text("Count: 2")

    # Feedback is shown as given, and given once.
    feedback_requests: list[str] = []
    page.on(
        "request",
        lambda r: (
            feedback_requests.append(r.post_data or "") if "items.feedback" in (r.post_data or "") else None
        ),
    )
    good = last_answer(page).get_by_role("button", name="Good response")
    good.click()
    expect(last_answer(page)).to_contain_text("Thanks for the feedback.")
    expect(last_answer(page).get_by_role("button", name="Good response")).to_have_attribute(
        "aria-pressed", "true"
    )
    # Given once: the buttons say so (aria-disabled) and clicking again sends nothing.
    last_answer(page).get_by_role("button", name="Good response").click(force=True)
    last_answer(page).get_by_role("button", name="Bad response").click(force=True)
    page.wait_for_timeout(300)
    assert len(feedback_requests) == 1

    send(page, "please lock this thread")
    expect(page.locator("chatkit-onprem .locked")).to_have_text(
        "This conversation is locked: Locked at the user's request."
    )
    expect(composer(page)).to_be_disabled()
    assert_accessible(page, "locked thread")
    # Each answer streamed on this page was announced exactly once.
    assert len(announced(page)) == answers(page).count()
    assert len(set(announced(page))) == len(announced(page))

    # Everything above was persisted: a reload lands on the thread (initialThread from the URL),
    # and answers drawn while they streamed read exactly as when drawn whole.
    streamed = [text for text in answers(page).locator(".md").all_inner_texts()]
    page.reload()
    expect(answers(page)).to_have_count(len(streamed))
    assert answers(page).locator(".md").all_inner_texts() == streamed
    expect(page.locator("chatkit-onprem li.item-widget").last).to_contain_text("Count: 2")
    expect(user_messages(page)).to_have_count(6)
    expect(page.locator("chatkit-onprem .locked")).to_be_visible()


def test_every_event_fires_with_its_payload(
    open_page: OpenPage, host: HostSite, chat_server: ServerProcess
) -> None:
    page = embed(open_page, host, chat_server, "events-bob").page
    page.wait_for_function("() => window.__events.some((e) => e.name === 'chatkit.ready')")
    ready = events(page, "chatkit.ready")
    assert len(ready) == 1 and ready[0]["detail"] is None

    send(page, "hello events")
    expect(last_answer(page)).to_contain_text("You said")
    thread_id = thread_id_in_url(page)
    changes = events(page, "chatkit.thread.change")
    assert changes[-1]["detail"] == {"threadId": thread_id}
    assert [e["detail"] for e in events(page, "chatkit.response.start")] == [None]
    page.wait_for_function("() => window.__events.some((e) => e.name === 'chatkit.response.end')")
    assert [e["detail"] for e in events(page, "chatkit.response.end")] == [None]
    logs = events(page, "chatkit.log")
    assert {"ready", "message.send", "response.end"} <= {e["detail"]["name"] for e in logs}
    assert all(isinstance(e["detail"]["data"], dict) for e in logs)
    assert "hello events" not in json.dumps(logs), "diagnostics carry no message text"

    send(page, "this one will fail")
    page.wait_for_function("() => window.__events.some((e) => e.name === 'chatkit.error')")
    error = events(page, "chatkit.error")[-1]["detail"]["error"]
    assert error["isError"] and "failed on purpose" in error["message"]
    alert = page.locator("chatkit-onprem .thread-status [role=alert]")
    expect(alert).to_contain_text("The model is unavailable")
    assert not ID_LIKE.search(alert.inner_text()), "errors are shown in words, without internal ids"
    assert_accessible(page, "stream error")

    page.locator("chatkit-onprem .header").get_by_role("button", name="New chat").click()
    assert events(page, "chatkit.thread.change")[-1]["detail"] == {"threadId": None}
    thread_links(page).first.click()
    page.wait_for_function("() => window.__events.some((e) => e.name === 'chatkit.thread.load.end')")
    assert events(page, "chatkit.thread.load.start")[-1]["detail"] == {"threadId": thread_id}
    assert events(page, "chatkit.thread.load.end")[-1]["detail"] == {"threadId": thread_id}
    assert events(page, "chatkit.thread.change")[-1]["detail"] == {"threadId": thread_id}


def test_widget_form_values_reach_the_server(
    open_page: OpenPage, host: HostSite, chat_server: ServerProcess
) -> None:
    """The scripted model's widget has buttons only; this test swaps it, in the stream the browser
    receives, for the same action inside a Form (a stand-in until the server ships a form widget).
    The submission itself goes to the real server unchanged."""
    page = embed(open_page, host, chat_server, "form-carol").page
    form_widget = {
        "type": "Card",
        "children": [
            {"type": "Title", "value": "Counter form"},
            {
                "type": "Form",
                "onSubmitAction": {"type": "counter.increment", "payload": {"count": 5}},
                "children": [
                    {"type": "Label", "value": "Note", "fieldName": "note"},
                    {"type": "Input", "name": "note", "placeholder": "A note"},
                    {"type": "Checkbox", "name": "urgent", "label": "Urgent"},
                    {
                        "type": "Select",
                        "name": "size",
                        "options": [{"value": "s", "label": "Small"}, {"value": "l", "label": "Large"}],
                        "defaultValue": "s",
                    },
                    {"type": "Button", "label": "Add one", "submit": True},
                ],
            },
        ],
    }

    def swap_widget(route: Route) -> None:
        response = route.fetch()
        body = response.text()
        lines = []
        for line in body.split("\n"):
            if line.startswith("data: "):
                event = json.loads(line[6:])
                if event.get("type") == "thread.item.done" and event["item"]["type"] == "widget":
                    event["item"]["widget"] = form_widget
                line = "data: " + json.dumps(event)
            lines.append(line)
        route.fulfill(response=response, body="\n".join(lines))

    page.route(f"{chat_server.url}/chatkit", swap_widget)
    send(page, "show me a widget")
    card = page.locator("chatkit-onprem li.item-widget").last
    expect(card).to_contain_text("Counter form")
    page.unroute(f"{chat_server.url}/chatkit")
    assert_accessible(page, "form widget")
    card.get_by_label("Note").fill("from the form")
    card.get_by_label("Urgent").check()
    card.get_by_role("combobox").select_option("l")
    with page.expect_request(lambda r: "threads.custom_action" in (r.post_data or "")) as sent:
        card.get_by_role("button", name="Add one").click()
    action = json.loads(sent.value.post_data or "{}")["params"]["action"]
    assert action == {
        "type": "counter.increment",
        "payload": {"count": 5, "note": "from the form", "urgent": True, "size": "l"},
    }
    expect(last_answer(page)).to_contain_text("The counter is now 6.")  # the server read the payload
    expect(card).to_contain_text("Count: 6")


def test_upload_with_preview(
    open_page: OpenPage, host: HostSite, chat_server: ServerProcess, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    photo = tmp_path / "photo.png"
    Image.new("RGB", (64, 40), (200, 80, 40)).save(photo)
    notes = tmp_path / "notes.txt"
    notes.write_text("meeting notes\n")
    page = embed(open_page, host, chat_server, "upload-dave").page
    # Playwright turns file-chooser interception on asynchronously with the first listener:
    # register one now, so the keypress below cannot race it.
    page.on("filechooser", lambda chooser: None)
    page.wait_for_timeout(200)

    # Attach is a button: keyboard users open the file chooser with it.
    attach = page.locator("chatkit-onprem").get_by_role("button", name="Attach files")
    attach.focus()
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    chooser.value.set_files([str(photo), str(notes)])
    chips = page.locator("chatkit-onprem .drafts .chip")
    expect(chips).to_have_count(2)
    expect(chips.nth(1)).to_contain_text("notes.txt")
    thumb = chips.nth(0).locator("img.thumb")
    expect(thumb).to_have_attribute("src", re.compile(rf"^{re.escape(chat_server.url)}/files/.+/preview\?"))
    page.wait_for_function(
        "() => { const root = document.querySelector('chatkit-onprem').shadowRoot;"
        " const i = root.querySelector('.drafts img.thumb');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    assert_accessible(page, "attachments ready")

    send(page, "see the attached files")
    sent = user_messages(page).last
    expect(sent.locator(".chip")).to_have_count(2)
    expect(sent.locator("img.thumb")).to_have_attribute("src", re.compile(r"/preview\?"))
    expect(last_answer(page)).to_contain_text("see the attached files")
    expect(page.locator("chatkit-onprem .drafts .chip")).to_have_count(0)

    # A removed chip is deleted on the server too (also when removed while it uploads).
    idle(page)
    page.locator("chatkit-onprem input[type=file]").set_input_files(str(notes))
    expect(page.locator("chatkit-onprem .drafts .chip")).to_have_count(1)
    expect(page.locator("chatkit-onprem .send")).to_be_enabled()
    with page.expect_request(lambda r: "attachments.delete" in (r.post_data or "")):
        page.locator("chatkit-onprem").get_by_role("button", name="Remove notes.txt").click()
    expect(page.locator("chatkit-onprem .drafts .chip")).to_have_count(0)
    expect(composer(page)).to_be_focused()


def test_stop_mid_stream_keeps_what_was_said(
    open_page: OpenPage, host: HostSite, chat_server: ServerProcess
) -> None:
    page = embed(open_page, host, chat_server, "stop-erin").page
    send(page, "give me a long answer")
    answer = last_answer(page)
    expect(answer).to_contain_text("Sentence 3 of")

    # Enter does not send while an answer streams, and the typed text stays.
    composer(page).fill("a follow-up typed meanwhile")
    composer(page).press("Enter")
    page.wait_for_timeout(300)
    expect(user_messages(page)).to_have_count(1)
    expect(composer(page)).to_have_value("a follow-up typed meanwhile")

    page.keyboard.press("Escape")  # Escape stops the stream
    expect(answer.locator(".badge.stopped")).to_have_text("Stopped")
    expect(composer(page)).to_be_focused()
    stopped_text = answer.locator(".md").inner_text()
    page.wait_for_timeout(600)
    assert answer.locator(".md").inner_text() == stopped_text, "nothing arrives after stop"
    assert "Sentence 200 of" not in stopped_text
    assert_accessible(page, "stopped answer")
    expect(composer(page)).to_have_value("a follow-up typed meanwhile")

    # The partial answer was saved: after a reload it is still there.
    page.reload()
    expect(last_answer(page)).to_contain_text("Sentence 1 of")
    assert "Sentence 200 of" not in last_answer(page).inner_text()

    # The stop button does the same; focus returns to the composer.
    send(page, "another long answer please")
    expect(last_answer(page)).to_contain_text("Sentence 2 of")
    page.locator("chatkit-onprem").get_by_role("button", name="Stop").click()
    expect(last_answer(page).locator(".badge.stopped")).to_be_visible()
    expect(composer(page)).to_be_focused()


def test_thread_switch_mid_stream_keeps_threads_apart(
    open_page: OpenPage, host: HostSite, chat_server: ServerProcess
) -> None:
    page = embed(open_page, host, chat_server, "switch-frank").page
    send(page, "hello first thread")
    expect(last_answer(page)).to_contain_text("You said: “hello first thread”")
    first_id = thread_id_in_url(page)

    page.locator("chatkit-onprem .header").get_by_role("button", name="New chat").click()
    send(page, "now a long answer")
    expect(last_answer(page)).to_contain_text("Sentence 2 of")
    long_id = thread_id_in_url(page)

    page.locator("chatkit-onprem .thread-link", has_text="hello first thread").click()
    expect(title(page)).to_have_text("hello first thread")
    assert thread_id_in_url(page) == first_id
    expect(answers(page)).to_have_count(1)
    page.wait_for_timeout(700)  # the other thread keeps streaming meanwhile, elsewhere
    listing = page.locator("chatkit-onprem ol.items").inner_text()
    assert "Sentence" not in listing and "now a long answer" not in listing
    expect(composer(page)).to_be_enabled()
    assert_accessible(page, "other thread while one streams")

    page.locator("chatkit-onprem .thread-link", has_text="now a long answer").click()
    assert thread_id_in_url(page) == long_id
    expect(last_answer(page)).to_contain_text("Sentence 200 of", timeout=60_000)
    listing = page.locator("chatkit-onprem ol.items").inner_text()
    assert "hello first thread" not in listing
    expect(user_messages(page)).to_have_count(1)


def test_streaming_updates_only_the_streaming_item(
    open_page: OpenPage, host: HostSite, chat_server: ServerProcess
) -> None:
    """Earlier items keep their nodes, focus and selection while an answer streams, and the view
    follows the answer only while the user is at the bottom."""
    page = embed(open_page, host, chat_server, "steady-olga", height=500).page
    send(page, "hello before the big one")
    expect(last_answer(page)).to_contain_text("hello before the big one")
    send(page, "now the long answer")
    expect(last_answer(page)).to_contain_text("Sentence 2 of")
    first = answers(page).first
    first.evaluate("li => { li.__marked = true; }")
    first.get_by_role("button", name="Copy").focus()
    first.locator(".md").evaluate(
        "md => { const r = document.createRange(); r.selectNodeContents(md);"
        " getSelection().removeAllRanges(); getSelection().addRange(r); }"
    )
    scroller = page.locator("chatkit-onprem .scroller")
    expect(last_answer(page)).to_contain_text("Sentence 12 of")  # taller than the view by now
    scroller.evaluate("el => { el.scrollTop = 0; }")  # the user scrolls up to read
    expect(last_answer(page)).to_contain_text("Sentence 24 of")
    assert first.evaluate("li => li.__marked === true"), "the earlier item was rebuilt"
    assert focused(page)["label"] == "Copy"
    assert "hello before the big one" in page.evaluate("() => String(getSelection())")
    assert scroller.evaluate("el => el.scrollTop") == 0, "the view jumped while the user read above"
    scroller.evaluate("el => { el.scrollTop = el.scrollHeight; }")  # back at the bottom: it follows
    expect(last_answer(page)).to_contain_text("Sentence 36 of")
    assert scroller.evaluate("el => el.scrollHeight - el.scrollTop - el.clientHeight") < 60
    page.keyboard.press("Escape")


def test_reload_mid_stream_lands_on_the_thread(
    open_page: OpenPage, host: HostSite, chat_server: ServerProcess
) -> None:
    page = embed(open_page, host, chat_server, "reload-gina").page
    send(page, "a long answer to reload over")
    expect(last_answer(page)).to_contain_text("Sentence 3 of")
    thread_id = thread_id_in_url(page)
    page.reload()
    assert thread_id_in_url(page) == thread_id
    expect(user_messages(page)).to_have_count(1)
    expect(user_messages(page)).to_contain_text("a long answer to reload over")
    # The server saves the interrupted answer when it sees the disconnect; the component waits for it.
    expect(last_answer(page)).to_contain_text("Sentence 1 of")
    expect(page.locator("chatkit-onprem .progress")).to_have_count(0)


def test_a_failed_send_keeps_the_text_and_says_why(
    open_page: OpenPage, host: HostSite, chat_server: ServerProcess
) -> None:
    watched = embed(open_page, host, chat_server, "fail-hank")
    watched.expected_errors.append("401")
    page = watched.page
    page.evaluate("window.breakToken = true")
    send(page, "this text must not be lost")
    error = page.locator("chatkit-onprem .composer-error [role=alert]")
    expect(error).to_have_text(
        re.compile("Your message was not sent. You are not signed in, or your session has expired.")
    )
    expect(composer(page)).to_have_value("this text must not be lost")
    assert not ID_LIKE.search(error.inner_text())
    assert_accessible(page, "send failed")
    page.evaluate("window.breakToken = false")
    composer(page).press("Enter")
    expect(last_answer(page)).to_contain_text("this text must not be lost")
    expect(error).to_have_count(0)


def test_retry_warns_before_dropping_later_turns(
    open_page: OpenPage, host: HostSite, chat_server: ServerProcess
) -> None:
    page = embed(open_page, host, chat_server, "retry-ines").page
    send(page, "first question")
    expect(last_answer(page)).to_contain_text("first question")
    send(page, "second question")
    expect(last_answer(page)).to_contain_text("second question")
    idle(page)

    first = answers(page).first
    first.get_by_role("button", name="Retry").click()
    warning = page.locator("chatkit-onprem .confirm")
    expect(warning).to_contain_text("Retrying drops the 2 later messages")
    assert_accessible(page, "retry warning")
    page.keyboard.press("Escape")
    expect(warning).to_have_count(0)
    expect(user_messages(page)).to_have_count(2)

    first.get_by_role("button", name="Retry").click()
    page.locator("chatkit-onprem .confirm").get_by_role("button", name="Retry").click()
    expect(user_messages(page)).to_have_count(1)
    expect(answers(page)).to_have_count(1)
    expect(last_answer(page)).to_contain_text("You said: “first question”")
    page.reload()
    expect(user_messages(page)).to_have_count(1)

    # Retrying the last answer needs no warning.
    last_answer(page).get_by_role("button", name="Retry").click()
    expect(page.locator("chatkit-onprem .confirm")).to_have_count(0)
    expect(last_answer(page)).to_contain_text("You said: “first question”")


def test_history_and_items_load_more(
    open_page: OpenPage, host: HostSite, chat_server: ServerProcess, idp: TestIdP
) -> None:
    user = "many-jack"
    with api(chat_server, idp, user) as client:
        for n in range(33):
            client.post(
                "/chatkit",
                json={"type": "threads.create", "params": {"input": text_input(f"thread number {n}")}},
            )
        created = client.post(
            "/chatkit", json={"type": "threads.create", "params": {"input": text_input("show me a widget")}}
        )
        thread_id = re.search(r'"thread":\{[^}]*?"id":"([^"]+)"', created.text).group(1)  # type: ignore[union-attr]
        for _ in range(19):
            client.post(
                "/chatkit",
                json={
                    "type": "threads.add_user_message",
                    "params": {"thread_id": thread_id, "input": text_input("show me a widget")},
                },
            )
    page = embed(open_page, host, chat_server, user).page
    expect(thread_links(page)).to_have_count(30)
    more = page.locator("chatkit-onprem").get_by_role("button", name="Load more conversations")
    more.click()
    expect(thread_links(page)).to_have_count(34)
    expect(more).to_be_hidden()
    assert focused(page)["label"] == "thread number 3"  # focus moves to the first new entry

    page.locator("chatkit-onprem .thread-link", has_text="show me a widget").click()
    expect(page.locator("chatkit-onprem li.item-widget")).to_have_count(17)  # newest 50 of 60 items
    earlier = page.locator("chatkit-onprem").get_by_role("button", name="Load earlier messages")
    earlier.click()
    expect(page.locator("chatkit-onprem li.item-widget")).to_have_count(20)
    expect(earlier).to_be_hidden()


def test_keyboard_only(open_page: OpenPage, host: HostSite, chat_server: ServerProcess) -> None:
    page = embed(open_page, host, chat_server, "keys-kim").page
    tab_stops: list[str] = []
    for _ in range(12):  # from the top of the page to the composer, by Tab alone
        page.keyboard.press("Tab")
        now = focused(page)
        tab_stops.append(now.get("label") or now.get("tag", ""))
        if now.get("tag") == "textarea":
            break
    assert tab_stops[-1] == "Message", tab_stops
    for name in ("Hide conversations", "New chat", "Say hello", "Attach files"):
        assert name in tab_stops, f"{name!r} is not reachable by Tab: {tab_stops}"
    page.keyboard.type("typed with the keyboard")
    page.keyboard.press("Enter")
    expect(last_answer(page)).to_contain_text("typed with the keyboard")
    idle(page)
    assert focused(page)["tag"] == "textarea", "focus stays in the composer after sending"

    # Tab onward to the answer's actions: copy, good, bad, retry.
    page.keyboard.press("Shift+Tab")  # attach
    for _ in range(8):
        page.keyboard.press("Shift+Tab")
        if focused(page).get("label") == "Good response":
            break
    assert focused(page)["label"] == "Good response"
    page.keyboard.press("Enter")
    expect(last_answer(page).get_by_role("button", name="Good response")).to_have_attribute(
        "aria-pressed", "true"
    )
    assert focused(page)["label"] == "Good response", "focus stays on the button after feedback"

    # The thread list is reachable by Tab (from the top of the page) and operable: rename.
    page.locator("h1").click()
    stops = []
    for _ in range(6):
        page.keyboard.press("Tab")
        stops.append(focused(page).get("label"))
    assert "typed with the keyboard" in stops, stops
    assert "Rename “typed with the keyboard”" in stops and "Delete “typed with the keyboard”" in stops, stops
    entry = page.locator("chatkit-onprem .thread-list li").first
    entry.get_by_role("button", name=re.compile("^Rename")).focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Control+A")
    page.keyboard.type("renamed by keyboard")
    page.keyboard.press("Enter")
    expect(thread_links(page).first).to_have_text("renamed by keyboard")
    expect(title(page)).to_have_text("renamed by keyboard")
    assert focused(page)["label"] == "renamed by keyboard"
    page.keyboard.press("Enter")  # opening the current thread again is harmless
    assert_accessible(page, "after keyboard use")

    # Delete asks first; Escape keeps the thread.
    entry.get_by_role("button", name=re.compile("^Delete")).focus()
    page.keyboard.press("Enter")
    expect(page.locator("chatkit-onprem .confirm")).to_contain_text("Delete this conversation?")
    page.keyboard.press("Escape")
    expect(thread_links(page)).to_have_count(1)


def test_layout_at_360_px(open_page: OpenPage, host: HostSite, chat_server: ServerProcess) -> None:
    page = embed(open_page, host, chat_server, "narrow-lee", width=360, height=740).page
    history = page.locator("chatkit-onprem nav.history")
    expect(history).to_be_hidden()  # collapsed on a narrow screen
    send(page, "show me a widget")
    expect(page.locator("chatkit-onprem li.item-widget")).to_contain_text("Count: 0")
    send(page, "and a second message please")
    expect(last_answer(page)).to_contain_text("second message")
    sizes = page.evaluate(
        """() => { const root = document.querySelector("chatkit-onprem").shadowRoot.querySelector(".ck");
                   const scroller = root.querySelector(".scroller");
                   return {root: [root.scrollWidth, root.clientWidth],
                           scroller: [scroller.scrollWidth, scroller.clientWidth],
                           page: [document.documentElement.scrollWidth, window.innerWidth]}; }"""
    )
    for name, (scroll, client) in sizes.items():
        assert scroll <= client, f"{name} overflows horizontally at 360 px: {sizes}"
    send_box = page.locator("chatkit-onprem .send").bounding_box()
    assert send_box and send_box["x"] + send_box["width"] <= 360
    assert_accessible(page, "360 px")

    toggle = page.locator("chatkit-onprem").get_by_role("button", name="Show conversations")
    toggle.click()
    expect(history).to_be_visible()
    assert focused(page)["label"] in ("show me a widget", "New chat")
    assert_accessible(page, "360 px, history open")
    for _ in range(8):  # the drawer keeps Tab inside it (the chat under it is inert)
        page.keyboard.press("Tab")
        assert history.evaluate("(nav, root) => nav.contains(nav.getRootNode().activeElement)", None)
    page.keyboard.press("Escape")
    expect(history).to_be_hidden()
    assert focused(page)["label"] == "Show conversations"
    toggle.click()
    page.locator("chatkit-onprem .backdrop").click(position={"x": 340, "y": 300})  # outside closes it
    expect(history).to_be_hidden()
    toggle.click()
    page.locator("chatkit-onprem .thread-link").first.click()  # choosing a thread closes the drawer
    expect(history).to_be_hidden()


def test_dark_theme(open_page: OpenPage, host: HostSite, chat_server: ServerProcess) -> None:
    page = embed(open_page, host, chat_server, "dark-mia", theme="dark").page
    root = page.locator("chatkit-onprem .ck")
    expect(root).to_have_attribute("data-scheme", "dark")
    background = root.evaluate("el => getComputedStyle(el).backgroundColor")
    assert background == "rgb(22, 24, 28)"
    assert_accessible(page, "dark, start")
    send(page, "show me a widget")
    expect(page.locator("chatkit-onprem li.item-widget")).to_contain_text("Count: 0")
    send(page, "please fail")
    expect(page.locator("chatkit-onprem .thread-status [role=alert]")).to_be_visible()
    assert_accessible(page, "dark, widget and error")
    # setOptions replaces the options: back to light, the conversation stays.
    page.evaluate(
        "() => configure({theme: {colorScheme: 'light', color: {accent: {primary: '#5a2ca0', level: 2}}}})"
    )
    expect(root).to_have_attribute("data-scheme", "light")
    expect(page.locator("chatkit-onprem li.item-widget")).to_contain_text("Count: 0")
    assert root.evaluate("el => getComputedStyle(el).getPropertyValue('--ck-accent').trim()") == "#5a2ca0"


def test_locale_and_methods(open_page: OpenPage, host: HostSite, chat_server: ServerProcess) -> None:
    page = embed(open_page, host, chat_server, "methods-nora", manual="1").page
    page.evaluate(
        "() => configure({locale: 'de-DE', initialThread: null, composer: {models: ["
        "{id: 'default', label: 'Standard', default: true},"
        " {id: 'other', label: 'Anderes', disabled: true}]}})"
    )
    expect(page.locator("chatkit-onprem").get_by_role("button", name="Neuer Chat").first).to_be_visible()
    expect(page.locator("chatkit-onprem .ck")).to_have_attribute("lang", "de")
    page.evaluate("() => document.getElementById('chat').setComposerValue({text: 'vorbereitet'})")
    expect(composer(page)).to_have_value("vorbereitet")
    page.evaluate("() => document.getElementById('chat').focusComposer()")
    expect(composer(page)).to_be_focused()
    expect(page.locator("chatkit-onprem").get_by_label("Modell")).to_have_value("default")
    with page.expect_request(lambda r: "hello from a method" in (r.post_data or "")) as sent:
        page.evaluate("() => document.getElementById('chat').sendUserMessage({text: 'hello from a method'})")
    assert "inference_options" in (sent.value.post_data or "")
    expect(last_answer(page)).to_contain_text("hello from a method")
    send(page, "chosen in the composer")
    expect(last_answer(page)).to_contain_text("chosen in the composer")
    thread_id = thread_id_in_url(page)
    assert_accessible(page, "German")
    page.evaluate("() => document.getElementById('chat').setThreadId(null)")
    expect(answers(page)).to_have_count(0)
    page.evaluate(f"() => document.getElementById('chat').setThreadId('{thread_id}')")
    expect(answers(page)).to_have_count(2)
    expect(answers(page).first).to_contain_text("hello from a method")
    idle(page)  # methods that send refuse while an answer streams in the thread
    page.evaluate(
        "() => document.getElementById('chat')"
        ".sendCustomAction({type: 'counter.increment', payload: {count: 41}})"
    )
    expect(last_answer(page)).to_contain_text("The counter is now 42.")
    page.evaluate("() => document.getElementById('chat').fetchUpdates()")
    expect(answers(page)).to_have_count(3)
