"""A ChatKit protocol client for tests, parsing answers with the library's own types."""

from __future__ import annotations

import json
from typing import Any

import httpx
from chatkit.types import ThreadStreamEvent
from pydantic import TypeAdapter

EVENTS = TypeAdapter[ThreadStreamEvent](ThreadStreamEvent)


def text_input(text: str, attachments: list[str] | None = None, **options: Any) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": attachments or [],
        "inference_options": options,
    }


def parse_sse(body: str) -> list[Any]:
    events = []
    for block in body.split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data: "):
                events.append(EVENTS.validate_python(json.loads(line[6:])))
    return events


class ChatKitClient:
    def __init__(self, base_url: str, user: str = "alice", tenant: str = "acme", **headers: str):
        self.base_url = base_url
        self.headers = {"X-Dev-User": user, "X-Dev-Tenant": tenant, **headers}
        self.http = httpx.Client(base_url=base_url, timeout=30, headers=self.headers)

    def as_user(self, user: str, tenant: str | None = None) -> ChatKitClient:
        return ChatKitClient(self.base_url, user, tenant or self.headers["X-Dev-Tenant"])

    def post(self, type_: str, params: dict[str, Any], **kwargs: Any) -> httpx.Response:
        return self.http.post("/chatkit", json={"type": type_, "params": params}, **kwargs)

    def call(self, type_: str, params: dict[str, Any]) -> Any:
        """A non-streaming request that must succeed; returns the JSON body."""
        response = self.post(type_, params)
        assert response.status_code == 200, (response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/json")
        return response.json()

    def stream(self, type_: str, params: dict[str, Any]) -> list[Any]:
        """A streaming request; returns the parsed events."""
        response = self.post(type_, params)
        assert response.status_code == 200, (response.status_code, response.text)
        assert response.headers["content-type"].startswith("text/event-stream")
        return parse_sse(response.text)

    def create_thread(self, text: str = "hello") -> tuple[str, list[Any]]:
        events = self.stream("threads.create", {"input": text_input(text)})
        created = [e for e in events if e.type == "thread.created"]
        assert created, events
        return created[0].thread.id, events

    def send(self, thread_id: str, text: str, **options: Any) -> list[Any]:
        return self.stream(
            "threads.add_user_message", {"thread_id": thread_id, "input": text_input(text, **options)}
        )


def errors(events: list[Any]) -> list[Any]:
    return [e for e in events if e.type == "error"]


def done_items(events: list[Any], item_type: str | None = None) -> list[Any]:
    return [
        e.item
        for e in events
        if e.type == "thread.item.done" and (item_type is None or e.item.type == item_type)
    ]


def assistant_text(events: list[Any]) -> str:
    return "".join(part.text for item in done_items(events, "assistant_message") for part in item.content)
