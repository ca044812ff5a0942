"""Rendering of every item and widget type, built with openai-chatkit's own types.

No model here produces most of these (workflows, charts, tables, forms with every control), so
the page gets a canned thread from an ``api.fetch`` that answers from memory
(tests/web/host/render.js); the component itself is the one the real server serves.
"""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, datetime
from typing import Any, get_args

import pytest
from chatkit import widgets as w
from chatkit.actions import ActionConfig
from chatkit.types import (
    Annotation,
    AssistantMessageContent,
    AssistantMessageItem,
    ClientToolCallItem,
    CustomSummary,
    CustomTask,
    FileAttachment,
    FileSource,
    FileTask,
    GeneratedImage,
    GeneratedImageItem,
    ImageAttachment,
    ImageTask,
    InferenceOptions,
    SearchTask,
    StructuredInputFreeform,
    StructuredInputItem,
    StructuredInputMultipleChoice,
    StructuredInputMultipleChoiceOption,
    TaskItem,
    ThoughtTask,
    URLSource,
    UserMessageItem,
    UserMessageTextContent,
    WidgetItem,
    Workflow,
    WorkflowItem,
)
from PIL import Image
from playwright.sync_api import Page, expect

from tests.support.server import ServerProcess
from tests.web.conftest import OpenPage
from tests.web.support import HostSite, assert_accessible

THREAD = "thr_canned"
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
MARKDOWN = """## Release notes
Some *emphasis*, **strong**, `inline code`, ~~gone~~ and a [safe link](https://docs.internal/page).
A [bad link](javascript:window.__pwned=1) and raw <img src=x onerror="window.__pwned=1"> html.
![tracking pixel](http://evil.example/pixel.png)

- one
- two
  - nested

3. third
4. fourth

> quoted words

```python
print("<b>not bold</b>")
```

| name | value |
|---|---:|
| alpha | 1 |
"""


def png_data_url(color: tuple[int, int, int] = (200, 40, 40)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), color).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def every_widget() -> w.Card:
    return w.Card(
        id="card",
        status={"text": "Draft", "icon": "info"},
        children=[
            w.Title(id="title", value="Every widget", size="lg"),
            w.Caption(value="A caption", color="secondary"),
            w.Row(
                gap=2,
                children=[
                    w.Badge(label="New", color="success"),
                    w.Icon(name="star", color="warning", size="sm"),
                    w.Spacer(),
                    w.Text(id="status-text", value="Status: ", streaming=True),
                ],
            ),
            w.Markdown(id="md", value="Widget markdown with **bold** text."),
            w.Text(value='<img src=x onerror="window.__pwned=1"> stays text', italic=True),
            w.Image(src=png_data_url(), alt="A red square", size=32, radius="sm"),
            w.Image(src="https://images.example/cat.png", alt="A cat from elsewhere"),
            w.Divider(),
            w.Box(
                direction="col",
                padding=2,
                border=1,
                radius="md",
                children=[w.Transition(children=w.Text(value="Inside a transition"))],
            ),
            w.Col(gap=1, children=[w.Text(value="In a column", size="sm", weight="semibold")]),
            w.Form(
                onSubmitAction=ActionConfig(type="form.submit", payload={"source": "test"}),
                gap=2,
                children=[
                    w.Label(value="Name", fieldName="name"),
                    w.Input(name="name", placeholder="Your name", required=True),
                    w.Label(value="Comment", fieldName="comment"),
                    w.Textarea(name="comment", defaultValue="pre-filled"),
                    w.Label(value="Team", fieldName="team"),
                    w.Select(
                        name="team",
                        placeholder="Pick a team",
                        options=[{"value": "a", "label": "Alpha"}, {"value": "b", "label": "Beta"}],
                    ),
                    w.Checkbox(name="subscribe", label="Subscribe"),
                    w.RadioGroup(
                        name="plan",
                        ariaLabel="Plan",
                        defaultValue="free",
                        options=[{"label": "Free", "value": "free"}, {"label": "Pro", "value": "pro"}],
                    ),
                    w.Label(value="Start date", fieldName="start"),
                    w.DatePicker(name="start", defaultValue=datetime(2026, 1, 15)),
                    w.Button(label="Send form", submit=True, style="primary"),
                ],
            ),
            w.Button(
                label="Handled by the app",
                onClickAction=ActionConfig(type="app.open", payload={"id": 7}, handler="client"),
                variant="outline",
            ),
            w.Chart(
                data=[
                    {"month": "Jan", "a": 3, "b": 5},
                    {"month": "Feb", "a": 6, "b": 2},
                    {"month": "Mar", "a": 4, "b": 7},
                ],
                series=[
                    w.BarSeries(dataKey="a", label="Apples"),
                    w.AreaSeries(dataKey="b", label="Bananas", stack="s"),
                    w.LineSeries(dataKey="a", label="Trend"),
                ],
                xAxis="month",
            ),
        ],
    )


def list_widget() -> w.ListView:
    rows = [
        w.ListViewItem(
            children=[w.Text(value=f"Row {n}")],
            onClickAction=ActionConfig(type="row.open", payload={"row": n}),
        )
        for n in range(5)
    ]
    return w.ListView(children=rows, limit=3, status={"text": "Five rows"})


def table_widget() -> w.DynamicWidgetRoot:
    """Table is not a typed node in openai-chatkit 1.6.5; it travels as a dynamic component."""
    cell = lambda text: {"type": "Table.Cell", "children": [{"type": "Text", "value": text}]}  # noqa: E731
    return w.DynamicWidgetRoot.model_validate(
        {
            "type": "Basic",
            "children": [
                {
                    "type": "Table",
                    "children": [
                        {"type": "Table.Row", "header": True, "children": [cell("Name"), cell("Seats")]},
                        {"type": "Table.Row", "children": [cell("Alpha"), cell("12")]},
                        {"type": "Table.Row", "children": [cell("Beta"), cell("7")]},
                    ],
                }
            ],
        }
    )


def dump(item: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(item.model_dump_json(exclude_none=True))
    return data


def canned() -> dict[str, Any]:
    base = {"thread_id": THREAD, "created_at": NOW}
    items = [
        UserMessageItem(
            id="msg_user",
            content=[UserMessageTextContent(text="Show me everything")],
            attachments=[
                ImageAttachment(
                    id="atc_img",
                    name="diagram.png",
                    mime_type="image/png",
                    preview_url=png_data_url((40, 90, 200)),
                ),  # type: ignore[arg-type]
                FileAttachment(id="atc_pdf", name="spec.pdf", mime_type="application/pdf"),
            ],
            inference_options=InferenceOptions(),
            **base,
        ),
        WorkflowItem(
            id="wf",
            workflow=Workflow(
                type="custom",
                expanded=True,
                summary=CustomSummary(title="Worked for 3 s", icon="bolt"),
                tasks=[
                    CustomTask(title="Planned", content="Step one", status_indicator="complete"),
                    SearchTask(
                        title="Searched the wiki",
                        queries=["air gap"],
                        sources=[URLSource(title="Wiki page", url="https://wiki.internal/x")],
                        status_indicator="complete",
                    ),
                    ThoughtTask(content="Considering the options"),
                    FileTask(
                        title="Read files", sources=[FileSource(title="Design doc", filename="design.pdf")]
                    ),
                    ImageTask(title="Drew a picture"),
                ],
            ),
            **base,
        ),
        TaskItem(id="task", task=CustomTask(title="A lone task", status_indicator="loading"), **base),
        AssistantMessageItem(
            id="msg_md",
            content=[
                AssistantMessageContent(
                    text=MARKDOWN,
                    annotations=[
                        Annotation(
                            source=URLSource(title="Internal docs", url="https://docs.internal/page"),
                            index=10,
                        ),
                        Annotation(source=FileSource(title="Q3 report", filename="q3.pdf")),
                    ],
                )
            ],
            **base,
        ),
        ClientToolCallItem(
            id="tool", call_id="c1", name="get_selection", arguments={}, status="completed", **base
        ),
        GeneratedImageItem(
            id="gen", image=GeneratedImage(id="img1", url=png_data_url((30, 160, 60))), **base
        ),
        WidgetItem(id="wid_card", widget=every_widget(), **base),
        WidgetItem(id="wid_list", widget=list_widget(), **base),
        WidgetItem(id="wid_table", widget=table_widget(), **base),
        StructuredInputItem(
            id="ask",
            inputs=[
                StructuredInputMultipleChoice(
                    id="colors",
                    question="Which colours?",
                    multiple=True,
                    options=[StructuredInputMultipleChoiceOption(value=v) for v in ("red", "green", "blue")],
                ),
                StructuredInputFreeform(id="why", question="Why?", description="A sentence is enough."),
            ],
            **base,
        ),
    ]
    received = AssistantMessageItem(
        id="msg_ok", content=[AssistantMessageContent(text="Form received.")], **base
    )
    title = {"type": "Title", "id": "title", "value": "Every widget (updated)"}
    return {
        "thread": {
            "id": THREAD,
            "title": "Canned thread",
            "created_at": NOW.isoformat(),
            "status": {"type": "active"},
            "allowed_image_domains": ["cdn.internal"],
            "metadata": {},
            "items": {"data": [], "has_more": False},
        },
        "items": [dump(item) for item in items],
        "action_events": {
            "form.submit": [
                {
                    "type": "thread.item.updated",
                    "item_id": "wid_card",
                    "update": {
                        "type": "widget.streaming_text.value_delta",
                        "component_id": "status-text",
                        "delta": "received",
                        "done": True,
                    },
                },
                {
                    "type": "thread.item.updated",
                    "item_id": "wid_card",
                    "update": {
                        "type": "widget.component.updated",
                        "component_id": "title",
                        "component": title,
                    },
                },
                {"type": "thread.item.done", "item": dump(received)},
            ],
            "row.open": [
                {
                    "type": "notice",
                    "level": "warning",
                    "title": "Heads up",
                    "message": "Rows are **read-only**.",
                },
                {
                    "type": "thread.item.updated",
                    "item_id": "wid_card",
                    "update": {
                        "type": "widget.component.updated",
                        "component_id": "title",
                        "component": {**title, "value": "Every widget (row opened)"},
                    },
                },
            ],
        },
    }


def widget_types(node: Any, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        if "type" in node and isinstance(node["type"], str):
            found.add(node["type"])
        for value in node.values():
            widget_types(value, found)
    elif isinstance(node, list):
        for value in node:
            widget_types(value, found)
    return found


def library_widget_types() -> set[str]:
    """Every node type openai-chatkit's typed widget unions name (its 1.6.5 widgets.py)."""
    names = set()
    for union in (w.StrictWidgetComponent, w.StrictWidgetRoot):
        for cls in get_args(get_args(union)[0]):
            names.add(cls.model_fields["type"].default)
    return names


@pytest.fixture
def rendered(open_page: OpenPage, host: HostSite, chat_server: ServerProcess) -> Page:
    host.canned = canned()
    page = open_page(f"{host.origin}/render.html", allowed=[host.origin, chat_server.url], height=1400).page
    expect(page.locator("chatkit-onprem li.item-structured_input")).to_be_visible()
    return page


def test_the_fixture_covers_every_widget_type() -> None:
    data = canned()
    used = set()
    for item in data["items"]:
        if item["type"] == "widget":
            widget_types(item["widget"], used)
    expected = library_widget_types() | {"Table", "Table.Row", "Table.Cell"}
    assert len(library_widget_types()) >= 27
    assert expected <= used, f"not rendered by this test: {expected - used}"


def test_every_widget_renders_and_acts(rendered: Page) -> None:
    page = rendered
    card = page.locator("chatkit-onprem li[data-item-id=wid_card]")
    expect(card.get_by_text("Every widget", exact=True)).to_be_visible()
    expect(card.get_by_text("Draft")).to_be_visible()
    expect(card.get_by_text("New", exact=True)).to_be_visible()
    expect(card.locator("strong")).to_have_text("bold")
    expect(card.get_by_text('<img src=x onerror="window.__pwned=1"> stays text')).to_be_visible()
    expect(card.get_by_role("img", name="A red square")).to_be_visible()
    expect(
        card.get_by_text("Image not shown: images.example is not an allowed image source.")
    ).to_be_visible()
    expect(card.get_by_text("Inside a transition")).to_be_visible()
    expect(card.get_by_role("img", name="Chart: Apples, Bananas, Trend")).to_be_visible()
    card.get_by_text("Chart data").click()
    expect(card.get_by_role("cell", name="Feb")).to_be_visible()
    table = page.locator("chatkit-onprem li[data-item-id=wid_table] table")
    expect(table.get_by_role("columnheader", name="Seats")).to_be_visible()
    expect(table.get_by_role("cell", name="Beta")).to_be_visible()
    rows = page.locator("chatkit-onprem li[data-item-id=wid_list] .w-list-item")
    expect(rows).to_have_count(3)
    page.locator("chatkit-onprem").get_by_role("button", name="Show more").click()
    expect(rows).to_have_count(5)
    assert_accessible(page, "every widget")

    # Form controls are labelled, and their values travel in the action's payload.
    card.get_by_label("Name").fill("Ada")
    card.get_by_label("Comment").fill("pre-filled and more")
    card.get_by_label("Team").select_option("b")
    card.get_by_label("Subscribe").check()
    card.get_by_label("Pro").check()
    card.get_by_label("Start date").fill("2026-02-01")
    # A streamed update re-renders the widget: what the user typed stays.
    rows.nth(4).click()
    expect(card.get_by_text("Every widget (row opened)")).to_be_visible()
    notice = page.locator("chatkit-onprem .notice")
    expect(notice).to_contain_text("Heads up")
    expect(notice.locator("strong")).to_have_text("read-only")
    expect(card.get_by_label("Name")).to_have_value("Ada")
    expect(card.get_by_label("Pro")).to_be_checked()

    card.get_by_role("button", name="Send form").click()
    expect(card.get_by_text("Status: received")).to_be_visible()  # widget.streaming_text.value_delta
    expect(card.get_by_text("Every widget (updated)")).to_be_visible()  # widget.component.updated
    expect(page.locator("chatkit-onprem li.item-assistant_message").last.locator(".md")).to_have_text(
        "Form received."
    )
    requests = page.evaluate("window.__requests")
    actions = [r["params"]["action"] for r in requests if r["type"] == "threads.custom_action"]
    assert actions == [
        {"type": "row.open", "payload": {"row": 4}},
        {
            "type": "form.submit",
            "payload": {
                "source": "test",
                "name": "Ada",
                "comment": "pre-filled and more",
                "team": "b",
                "subscribe": True,
                "plan": "pro",
                "start": "2026-02-01",
            },
        },
    ]
    assert all(
        r["params"]["item_id"] in ("wid_card", "wid_list")
        for r in requests
        if r["type"] == "threads.custom_action"
    )

    # A client-handled action goes to widgets.onAction, not to the server.
    card.get_by_role("button", name="Handled by the app").click()
    page.wait_for_function("() => window.__requests.some((r) => r.type === 'client.action')")
    client = [r for r in page.evaluate("window.__requests") if r["type"] == "client.action"]
    assert client == [
        {"type": "client.action", "action": {"type": "app.open", "payload": {"id": 7}}, "itemId": "wid_card"}
    ]
    assert_accessible(page, "after actions")


def test_markdown_is_rendered_safely(rendered: Page) -> None:
    page = rendered
    answer = page.locator("chatkit-onprem li[data-item-id=msg_md]")
    expect(answer.get_by_role("heading", name="Release notes")).to_be_visible()
    safe = answer.get_by_role("link", name="safe link")
    expect(safe).to_have_attribute("href", "https://docs.internal/page")
    expect(safe).to_have_attribute("target", "_blank")
    expect(safe).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(answer.get_by_role("link", name="bad link")).to_have_count(0)
    expect(answer.get_by_text("bad link")).to_be_visible()
    expect(answer.get_by_text('<img src=x onerror="window.__pwned=1">', exact=False)).to_be_visible()
    expect(answer.locator("img")).to_have_count(0)  # markdown images become links: nothing loads
    expect(answer.get_by_role("link", name="tracking pixel")).to_have_attribute(
        "href", "http://evil.example/pixel.png"
    )
    expect(answer.locator("pre code")).to_have_text('print("<b>not bold</b>")')
    expect(answer.locator("pre b")).to_have_count(0)
    expect(answer.locator("pre")).to_have_attribute("tabindex", "0")
    expect(answer.locator("ol").first).to_have_attribute("start", "3")
    expect(answer.locator("ul ul li")).to_have_text("nested")
    expect(answer.get_by_role("columnheader", name="value")).to_be_visible()
    expect(answer.locator("blockquote")).to_have_text("quoted words")
    assert page.evaluate("() => window.__pwned") is None
    # Annotations become the answer's sources.
    sources = answer.locator(".sources")
    expect(sources.get_by_role("link", name="Internal docs")).to_have_attribute(
        "href", "https://docs.internal/page"
    )
    expect(sources).to_contain_text("Q3 report")


def test_items_of_every_kind(rendered: Page) -> None:
    page = rendered
    chips = page.locator("chatkit-onprem li[data-item-id=msg_user] .chip")
    expect(chips).to_have_count(2)
    expect(chips.first.locator("img.thumb")).to_be_visible()
    expect(chips.nth(1)).to_contain_text("spec.pdf")
    workflow = page.locator("chatkit-onprem li[data-item-id=wf]")
    expect(workflow.get_by_text("Worked for 3 s")).to_be_visible()
    for text in (
        "Planned",
        "Step one",
        "Searched the wiki",
        "air gap",
        "Considering the options",
        "Design doc",
        "Drew a picture",
    ):
        expect(workflow.get_by_text(text)).to_be_visible()
    expect(workflow.get_by_role("link", name="Wiki page")).to_be_visible()
    expect(page.locator("chatkit-onprem li[data-item-id=task]")).to_contain_text("A lone task")
    expect(page.locator("chatkit-onprem li[data-item-id=tool]")).to_have_text("Ran get_selection")
    image = page.locator("chatkit-onprem li[data-item-id=gen] img")
    expect(image).to_have_attribute("alt", "Generated image")
    page.wait_for_function(
        "() => document.querySelector('chatkit-onprem').shadowRoot"
        ".querySelector('[data-item-id=gen] img').naturalWidth > 0"
    )

    ask = page.locator("chatkit-onprem li[data-item-id=ask]")
    ask.get_by_label("red").check()
    ask.get_by_label("blue").check()
    ask.get_by_label("Why?").fill("They are primary")
    ask.get_by_role("button", name="Answer").click()
    page.wait_for_function("() => window.__requests.some((r) => r.type === 'threads.add_structured_input')")
    submitted = [r for r in page.evaluate("window.__requests") if r["type"] == "threads.add_structured_input"]
    assert submitted[0]["params"] == {
        "thread_id": THREAD,
        "item_id": "ask",
        "input": {
            "status": "answered",
            "answers": {
                "colors": {"values": ["red", "blue"], "skipped": False},
                "why": {"values": ["They are primary"], "skipped": False},
            },
        },
    }


def test_dark_rendering_is_accessible(
    open_page: OpenPage, host: HostSite, chat_server: ServerProcess
) -> None:
    host.canned = canned()
    page = open_page(
        f"{host.origin}/render.html?theme=dark", allowed=[host.origin, chat_server.url], height=1400
    ).page
    expect(page.locator("chatkit-onprem li.item-structured_input")).to_be_visible()
    expect(page.locator("chatkit-onprem .ck")).to_have_attribute("data-scheme", "dark")
    assert_accessible(page, "every item, dark")
